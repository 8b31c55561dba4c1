/**
 * The schema of a whole mapproxy.yaml (MapProxy 1.15 / 7.x keys, REFERENCE.md §3) as TypeBox
 * types: the source of the published JSON Schema (`schema/mapproxy.schema.json`, for editors and
 * check-config), of ajv validation, and of the TypeScript types of a validated configuration.
 * Keys are the YAML's snake_case ones. Which keys mapproxy-ts supports is in `support.ts`.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  Bool,
  CoverageSchema,
  HttpOpts,
  ImageOpts,
  Int,
  LayerMd,
  MapOf,
  Num,
  Obj,
  Opt,
  PermissionsSchema,
  RefTo,
  Resampling,
  ServiceMd,
  SizeSchema,
  Str,
  StrList,
  StringEnum,
  httpOptsProps,
  scaleHintProps,
} from './schema-common.js';
import { CacheBackendSchema, CacheSchema, FileBackendSchema, GridSchema } from './schema-caches.js';
import { DebugSourceSchema, SourceSchema, SourcesSchema, TileSourceSchema, WmsSourceSchema } from './schema-sources.js';

const GlobalsSchema = Obj(
  {
    image: Opt(
      Obj({
        resampling_method: Opt(Resampling({ default: 'bicubic' })),
        paletted: Opt(Bool({ default: true, description: 'Write 8-bit paletted PNGs.' })),
        stretch_factor: Opt(Num({ minimum: 1, default: 1.15 })),
        max_shrink_factor: Opt(Num({ minimum: 1, default: 4 })),
        jpeg_quality: Opt(Int({ minimum: 1, maximum: 100, default: 90 })),
        font_dir: Opt(Str()),
        merge_method: Opt(Str({ description: 'Deprecated.' })),
        formats: Opt(MapOf(ImageOpts(), { description: 'Named image formats (image/png8, …) with their options.' })),
      }),
    ),
    http: Opt(
      Obj({
        ...httpOptsProps,
        access_control_allow_origin: Opt(
          Type.Union([Str(), Type.Null()], { default: '*', description: 'Access-Control-Allow-Origin header; empty for none.' }),
        ),
        concurrent_requests: Opt(Int({ minimum: 0, default: 0, description: 'Parallel requests per source host (0 = no limit).' })),
      }),
    ),
    cache: Opt(
      Obj({
        base_dir: Opt(Str({ default: './cache_data', description: 'Root of the caches (relative to this file).' })),
        lock_dir: Opt(Str({ default: './cache_data/tile_locks', description: 'Lock files of sources limited by concurrent_requests (one per slot); keep on a local disk.' })),
        tile_lock_dir: Opt(Str({ description: 'Meta-tile lock files, one per meta tile being created (default <cache_dir>/tile_locks); keep on a local disk.' })),
        meta_size: Opt(SizeSchema({ default: [4, 4] })),
        meta_buffer: Opt(Int({ minimum: 0, default: 80 })),
        bulk_meta_tiles: Opt(Bool({ default: false })),
        max_tile_limit: Opt(Int({ minimum: 1, default: 500 })),
        minimize_meta_requests: Opt(Bool({ default: false })),
        concurrent_tile_creators: Opt(Int({ minimum: 1, default: 2 })),
        link_single_color_images: Opt(Type.Union([Bool(), StringEnum(['symlink', 'hardlink'] as const)], { default: false })),
        sqlite_timeout: Opt(Num({ default: 30 })),
        sqlite_wal: Opt(Bool()),
        directory_permissions: Opt(PermissionsSchema('Mode of new cache directories, e.g. "755".')),
        file_permissions: Opt(PermissionsSchema('Mode of new tile files, e.g. "644".')),
        memory_tier: Opt(
          Obj(
            {
              max_mb: Opt(Num({ minimum: 0, default: 0, description: 'Upper bound of tile bytes kept in memory per process, MiB (0, the default: no tier; the page cache serves).' })),
              open_files: Opt(
                Int({ minimum: 0, default: 4096, description: 'Tiles per process whose file is kept open, read with one pread on a hit (default 4096; 0: none). Like nginx open_file_cache.' }),
              ),
              revalidate_seconds: Opt(
                Num({ minimum: 0, default: 1, description: 'How long a tile is served from memory or an open file before one stat checks it against its file.' }),
              ),
              blocking_reads: Opt(
                Bool({
                  description:
                    'Read kept-open tile files on the event loop, as nginx does by default, instead of through the thread pool (default false). Only for caches on a local disk; no effect with max_mb above 0.',
                }),
              ),
            },
            { description: 'mapproxy-ts only: per-process hit path of the file caches: hot tiles in memory, warm tiles as open files.' },
          ),
        ),
        s3: Opt(
          Obj({
            bucket_name: Opt(Str()),
            profile_name: Opt(Str()),
            region_name: Opt(Str()),
            endpoint_url: Opt(Str()),
            access_control_list: Opt(Str()),
            use_http_get: Opt(Bool()),
            include_grid_name: Opt(Bool()),
          }),
        ),
        azureblob: Opt(Obj({ connection_string: Opt(Str()), container_name: Opt(Str()) })),
      }),
    ),
    grid: Opt(Obj({ tile_size: Opt(SizeSchema({ default: [256, 256] })) })),
    srs: Opt(
      Obj({
        axis_order_ne: Opt(StrList({ description: 'SRS with north/east axis order (WMS 1.3.0).' })),
        axis_order_en: Opt(StrList({ description: 'SRS with east/north axis order (WMS 1.3.0).' })),
        proj_data_dir: Opt(Str()),
        preferred_src_proj: Opt(MapOf(StrList())),
        proj4_defs: Opt(
          MapOf(Str(), {
            description:
              'mapproxy-ts only: extra SRS definitions, code → proj4 string, e.g. "EPSG:31467": "+proj=tmerc +lat_0=0 +lon_0=9 …".',
          }),
        ),
      }),
    ),
    tiles: Opt(
      Obj({
        expires_hours: Opt(Num({ minimum: 0, default: 72 })),
        x_cache_header: Opt(Bool({ default: true, description: 'mapproxy-ts only: send X-Cache: HIT|MISS on tiles.' })),
      }),
    ),
    mapserver: Opt(Obj({ binary: Opt(Str()), working_dir: Opt(Str()) })),
    renderd: Opt(Obj({ address: Opt(Str()) })),
    background: Opt(Obj({ url: Opt(Str()) })),
  },
  { description: 'Defaults for the other sections.' },
);

const ServicesSchema = Obj(
  {
    demo: Opt(Obj({}, { description: 'The demo page at /demo/.' })),
    tms: Opt(
      Obj({
        use_grid_names: Opt(Bool({ default: false })),
        origin: Opt(StringEnum(['sw', 'nw'] as const, { description: 'Row order of /tiles (default: the grid origin; ?origin= overrides it).' })),
        md: Opt(ServiceMd()),
      }),
    ),
    kml: Opt(Obj({ use_grid_names: Opt(Bool({ default: false })) })),
    wmts: Opt(
      Obj({
        kvp: Opt(Bool({ default: true })),
        restful: Opt(Bool({ default: true })),
        restful_template: Opt(Str({ description: 'e.g. /{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}' })),
        restful_featureinfo_template: Opt(Str()),
        md: Opt(ServiceMd()),
        featureinfo_formats: Opt(Type.Array(Obj({ mimetype: Str(), suffix: Opt(Str()) }, { required: ['mimetype'] }))),
      }),
    ),
    wms: Opt(
      Obj({
        srs: Opt(StrList()),
        bbox_srs: Opt(
          Type.Array(Type.Union([Str(), Obj({ srs: Str(), bbox: Type.Array(Num(), { minItems: 4, maxItems: 4 }) }, { required: ['srs', 'bbox'] })])),
        ),
        image_formats: Opt(StrList()),
        attribution: Opt(Obj({ text: Opt(Str()) })),
        featureinfo_types: Opt(StrList()),
        featureinfo_xslt: Opt(MapOf(Str())),
        on_source_errors: Opt(StringEnum(['notify', 'raise'] as const, { default: 'notify' })),
        max_output_pixels: Opt(Type.Union([Num({ exclusiveMinimum: 0 }), SizeSchema()])),
        strict: Opt(Bool({ default: false })),
        versions: Opt(StrList()),
        md: Opt(ServiceMd()),
        inspire_md: Opt(Type.Object({ type: StringEnum(['linked', 'embedded'] as const) }, { additionalProperties: true })),
      }),
    ),
    ogcapi: Opt(
      Obj({
        enable_tiles: Opt(Bool({ default: true })),
        enable_maps: Opt(Bool({ default: true })),
        map_srs: Opt(Type.Array(Type.Union([Str(), Int()]))),
        attribution: Opt(Type.Unknown()),
        on_source_errors: Opt(StringEnum(['notify', 'raise'] as const)),
        max_output_pixels: Opt(Type.Union([Num({ exclusiveMinimum: 0 }), SizeSchema()])),
        image_formats: Opt(StrList()),
        md: Opt(Type.Object({}, { additionalProperties: true })),
        default_dataset_layers: Opt(Type.Unknown()),
      }),
    ),
  },
  { description: 'The services to offer.' },
);

/** One layer of the `layers:` tree. */
export const LayerSchema = Type.Recursive(
  (This) =>
    Obj(
      {
        name: Opt(Str({ description: 'Name in WMS/WMTS/TMS requests; a layer without a name is a group.' })),
        title: Str(),
        sources: Opt(StrList({ description: 'Caches and sources, bottom first.' })),
        tile_sources: Opt(StrList({ description: 'Caches offered by the tile services instead of `sources`.' })),
        layers: Opt(Type.Array(This)),
        ...scaleHintProps,
        nominal_res: Opt(Num({ exclusiveMinimum: 0 })),
        nominal_scale: Opt(Num({ exclusiveMinimum: 0 })),
        legendurl: Opt(Str()),
        wmts_kvp_legendurl: Opt(Str()),
        wmts_rest_legendurl: Opt(Str()),
        md: Opt(LayerMd()),
        dimensions: Opt(
          MapOf(
            Obj(
              { values: Type.Array(Type.Union([Str(), Num()])), default: Opt(Type.Union([Str(), Num()])) },
              { required: ['values'] },
            ),
          ),
        ),
      },
      { required: ['title'] },
    ),
  { $id: 'Layer', title: 'layer' },
);

const LegacyLayerSchema = Obj(
  { ...scaleHintProps, title: Str(), sources: Opt(StrList()), legendurl: Opt(Str()), md: Opt(LayerMd()) },
  { required: ['title'] },
);

/** The whole mapproxy.yaml. */
export const MapProxyYamlSchema = Obj(
  {
    base: Opt(Type.Union([Str(), StrList()], { description: 'Files to include and merge (relative to this file).' })),
    parts: Opt(Type.Unknown({ description: 'Free space for YAML anchors; never read.' })),
    globals: Opt(GlobalsSchema),
    services: Opt(ServicesSchema),
    layers: Opt(
      Type.Union([Type.Array(RefTo(LayerSchema)), MapOf(LegacyLayerSchema)], {
        description: 'The published layers: a tree (list); the mapping form is deprecated.',
      }),
    ),
    caches: Opt(Type.Union([MapOf(CacheSchema), Type.Array(MapOf(CacheSchema))], { description: 'The tile caches, by name.' })),
    grids: Opt(MapOf(GridSchema, { description: 'Tile grids, by name (GLOBAL_GEODETIC, GLOBAL_MERCATOR, GLOBAL_WEBMERCATOR exist).' })),
    sources: Opt(SourcesSchema),
  },
  {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'mapproxy.yaml',
    description: 'Configuration of MapProxy 1.15/7.x as read by mapproxy-ts.',
    definitions: { Layer: LayerSchema, Coverage: CoverageSchema },
  },
);

/** A mapproxy.yaml as written (both forms of `layers` and `caches`). */
export type MapProxyYaml = Static<typeof MapProxyYamlSchema>;
export type GlobalsConfig = Static<typeof GlobalsSchema>;
export type ServicesConfig = Static<typeof ServicesSchema>;
export type LayerConfig = Static<typeof LayerSchema>;
export type CacheConfig = Static<typeof CacheSchema>;
export type CacheBackendConfig = Static<typeof CacheBackendSchema>;
export type FileCacheBackendConfig = Static<typeof FileBackendSchema>;
export type GridConfig = Static<typeof GridSchema>;
export type SourceConfig = Static<typeof SourceSchema>;
export type WmsSourceConfig = Static<typeof WmsSourceSchema>;
export type TileSourceConfig = Static<typeof TileSourceSchema>;
export type DebugSourceConfig = Static<typeof DebugSourceSchema>;
export type CoverageConfig = Static<typeof CoverageSchema>;
export type ImageOptsConfig = Static<ReturnType<typeof ImageOpts>>;
export type HttpOptsConfig = Static<ReturnType<typeof HttpOpts>>;

/**
 * A validated configuration: the YAML's keys as they are, with `layers` always a list and `caches`
 * always a mapping (validateConfig turns the list-of-mappings form into one mapping).
 */
export type MapProxyConfig = Omit<MapProxyYaml, 'base' | 'layers' | 'caches'> & {
  layers?: LayerConfig[];
  caches?: Record<string, CacheConfig>;
};
