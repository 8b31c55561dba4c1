/**
 * The `caches:` and `grids:` sections of the schema (MapProxy 7.x): a cache's sources, grids,
 * image and meta-tile settings and its storage backend (`cache.type`), and user tile grids.
 */
import { Type } from '@sinclair/typebox';
import {
  BboxSchema,
  Bool,
  Coverage,
  ImageOpts,
  Int,
  MapOf,
  Num,
  Obj,
  Opt,
  PermissionsSchema,
  SizeSchema,
  Str,
  StrList,
  StringEnum,
  Tagged,
  TimeSpec,
} from './schema-common.js';

/** File layouts of the file (and s3/azureblob) caches (REFERENCE.md §2.6). */
export const DIRECTORY_LAYOUTS = ['tc', 'mp', 'tms', 'reverse_tms', 'quadkey', 'arcgis'] as const;

const DirectoryLayout = (dflt: string) => StringEnum(DIRECTORY_LAYOUTS, { default: dflt });

/** Keys every storage backend accepts. */
const backendProps = {
  coverage: Opt(Coverage({ description: 'Only tiles inside are cached.' })),
  tile_lock_dir: Opt(Str({ description: 'Directory of the per-tile lock files (default <cache_dir>/tile_locks).' })),
};
const permissionProps = {
  directory_permissions: Opt(PermissionsSchema('Mode of new directories, e.g. "755".')),
  file_permissions: Opt(PermissionsSchema('Mode of new files, e.g. "644".')),
};
const sqliteProps = {
  sqlite_timeout: Opt(Num({ default: 30, description: 'Seconds.' })),
  sqlite_wal: Opt(Bool()),
};

const FileBackend = Obj(
  {
    type: Type.Literal('file'),
    ...backendProps,
    ...permissionProps,
    directory_layout: Opt(DirectoryLayout('tc')),
    use_grid_names: Opt(Bool({ default: false, description: 'Directories named <cache>/<grid> instead of <cache>_<EPSGxxxx>.' })),
    directory: Opt(Str({ description: 'Exact directory of the tiles (one grid only).' })),
  },
  { required: ['type'], title: 'file cache' },
);

const MbtilesBackend = Obj(
  { type: Type.Literal('mbtiles'), ...backendProps, ...permissionProps, ...sqliteProps, filename: Opt(Str()) },
  { required: ['type'], title: 'mbtiles cache' },
);

const SqliteBackend = Obj(
  {
    type: Type.Literal('sqlite'),
    ...backendProps,
    ...permissionProps,
    ...sqliteProps,
    directory: Opt(Str()),
    ttl: Opt(Num({ default: 0 })),
  },
  { required: ['type'], title: 'sqlite cache' },
);

const GeopackageBackend = Obj(
  {
    type: Type.Literal('geopackage'),
    ...backendProps,
    ...permissionProps,
    filename: Opt(Str()),
    table_name: Opt(Str()),
    levels: Opt(Bool({ default: false })),
    directory: Opt(Str()),
  },
  { required: ['type'], title: 'geopackage cache' },
);

const CompactBackend = Obj(
  {
    type: Type.Literal('compact'),
    ...backendProps,
    ...permissionProps,
    directory: Opt(Str()),
    version: Type.Union([Type.Literal(1), Type.Literal(2)]),
  },
  { required: ['type', 'version'], title: 'compact cache' },
);

const S3Backend = Obj(
  {
    type: Type.Literal('s3'),
    ...backendProps,
    bucket_name: Opt(Str()),
    directory: Opt(Str()),
    directory_layout: Opt(DirectoryLayout('tms')),
    profile_name: Opt(Str()),
    region_name: Opt(Str()),
    endpoint_url: Opt(Str()),
    access_control_list: Opt(Str()),
    use_http_get: Opt(Bool()),
    include_grid_name: Opt(Bool()),
  },
  { required: ['type'], title: 's3 cache' },
);

const RedisBackend = Obj(
  {
    type: Type.Literal('redis'),
    ...backendProps,
    host: Opt(Str({ default: '127.0.0.1' })),
    port: Opt(Int({ default: 6379 })),
    db: Opt(Int({ default: 0 })),
    username: Opt(Str()),
    password: Opt(Str()),
    prefix: Opt(Str()),
    default_ttl: Opt(Int({ default: 3600 })),
    ssl_certfile: Opt(Str()),
    ssl_keyfile: Opt(Str()),
    ssl_ca_certs: Opt(Str()),
  },
  { required: ['type'], title: 'redis cache' },
);

const CouchdbBackend = Obj(
  {
    type: Type.Literal('couchdb'),
    ...backendProps,
    url: Opt(Str()),
    db_name: Opt(Str()),
    tile_id: Opt(Str()),
    tile_metadata: Opt(MapOf(Type.Unknown())),
  },
  { required: ['type'], title: 'couchdb cache' },
);

const AzureblobBackend = Obj(
  {
    type: Type.Literal('azureblob'),
    ...backendProps,
    connection_string: Opt(Str()),
    container_name: Opt(Str()),
    directory: Opt(Str()),
    directory_layout: Opt(DirectoryLayout('tms')),
  },
  { required: ['type'], title: 'azureblob cache' },
);

export const FileBackendSchema = FileBackend;

/** `caches.<name>.cache`: where and how tiles are stored. */
export const CacheBackendSchema = Tagged(
  [
    FileBackend,
    MbtilesBackend,
    SqliteBackend,
    GeopackageBackend,
    CompactBackend,
    S3Backend,
    RedisBackend,
    CouchdbBackend,
    AzureblobBackend,
  ],
  { title: 'cache backend' },
);

const BandSource = Obj(
  { source: Str(), band: Int({ minimum: 0 }), factor: Opt(Num({ default: 1 })) },
  { required: ['source', 'band'] },
);
const BandSources = Obj(
  {
    r: Opt(Type.Array(BandSource)),
    g: Opt(Type.Array(BandSource)),
    b: Opt(Type.Array(BandSource)),
    a: Opt(Type.Array(BandSource)),
    l: Opt(Type.Array(BandSource)),
  },
  { description: 'Band merging: output band → source bands.' },
);

/** One cache: the mapping under `caches.<name>`. */
export const CacheSchema = Obj(
  {
    sources: Type.Union([StrList(), BandSources], {
      description: 'Sources and caches to fill the cache from, bottom first ([] for a cache that is only seeded or filled by hand).',
    }),
    name: Opt(Str()),
    grids: Opt(StrList({ description: 'Grids to cache in (default [GLOBAL_MERCATOR]).' })),
    cache_dir: Opt(Str({ description: 'Directory for this cache (default globals.cache.base_dir).' })),
    meta_size: Opt(SizeSchema({ description: 'Tiles per meta tile [x, y].' })),
    meta_buffer: Opt(Int({ minimum: 0, description: 'Pixels added around each meta tile.' })),
    bulk_meta_tiles: Opt(Bool()),
    minimize_meta_requests: Opt(Bool()),
    concurrent_tile_creators: Opt(Int({ minimum: 1 })),
    disable_storage: Opt(Bool({ default: false })),
    format: Opt(Str({ default: 'image/png', description: 'Tile format (MIME type) or mixed.' })),
    request_format: Opt(Str({ description: 'Format requested from the sources (default: format).' })),
    image: Opt(ImageOpts()),
    use_direct_from_level: Opt(Int({ minimum: 0 })),
    use_direct_from_res: Opt(Num({ exclusiveMinimum: 0 })),
    link_single_color_images: Opt(
      Type.Union([Bool(), StringEnum(['symlink', 'hardlink'] as const)], { description: 'Store single-color tiles once and link them.' }),
    ),
    cache_rescaled_tiles: Opt(Bool({ default: false })),
    upscale_tiles: Opt(Int({ minimum: 0, default: 0 })),
    downscale_tiles: Opt(Int({ minimum: 0, default: 0 })),
    refresh_before: Opt(TimeSpec()),
    watermark: Opt(
      Obj({
        text: Str(),
        font_size: Opt(Num({ default: 24 })),
        color: Opt(Type.Union([Str(), Type.Array(Type.Integer(), { minItems: 3, maxItems: 4 })])),
        opacity: Opt(Num({ default: 30 })),
        spacing: Opt(Str({ default: 'wide' })),
      }, { required: ['text'] }),
    ),
    cache: Opt(CacheBackendSchema),
  },
  { required: ['sources'], title: 'cache' },
);

/** One grid: the mapping under `grids.<name>`. */
export const GridSchema = Obj(
  {
    base: Opt(Str({ description: 'Another grid to copy; keys here override it.' })),
    name: Opt(Str()),
    srs: Opt(Str({ default: 'EPSG:900913' })),
    bbox: Opt(BboxSchema({ description: 'Extent of the grid (in bbox_srs, else srs).' })),
    bbox_srs: Opt(Str()),
    num_levels: Opt(Int({ minimum: 1 })),
    res: Opt(Type.Array(Num({ exclusiveMinimum: 0 }), { minItems: 1, description: 'Resolutions, one per level.' })),
    res_factor: Opt(
      Type.Union([Num({ exclusiveMinimum: 1 }), Type.Literal('sqrt2')], { default: 2, description: 'Ratio of neighbouring levels: a number or sqrt2.' }),
    ),
    min_res: Opt(Num({ exclusiveMinimum: 0, description: 'Resolution of level 0.' })),
    max_res: Opt(Num({ exclusiveMinimum: 0, description: 'Finest resolution (exclusive unless num_levels is set).' })),
    threshold_res: Opt(Type.Array(Num({ exclusiveMinimum: 0 }))),
    stretch_factor: Opt(Num({ minimum: 1 })),
    max_shrink_factor: Opt(Num({ minimum: 1 })),
    align_resolutions_with: Opt(Str({ description: 'Take the resolutions of this grid.' })),
    origin: Opt(StringEnum(['ll', 'sw', 'ul', 'nw'] as const, { default: 'll' })),
    tile_size: Opt(SizeSchema()),
  },
  { title: 'grid' },
);
