/**
 * The `sources:` section of the schema: one mapping per source, told apart by `type` (wms, tile,
 * mapserver, mapnik, arcgis, debug, ogcapitiles, ogcapimaps), as in MapProxy 7.x.
 */
import { Type } from '@sinclair/typebox';
import {
  Bool,
  Coverage,
  HttpOpts,
  ImageOpts,
  Int,
  MapOf,
  Num,
  Obj,
  OnError,
  Opt,
  SourceImageOpts,
  Str,
  StrList,
  StringEnum,
  Tagged,
  scaleHintProps,
} from './schema-common.js';

/** Keys every source type (but debug) accepts. */
const commonProps = {
  ...scaleHintProps,
  concurrent_requests: Opt(Int({ minimum: 0, description: 'Parallel requests to this source (0 = no limit).' })),
  coverage: Opt(Coverage({ description: 'Where the source has data.' })),
  seed_only: Opt(Bool({ default: false, description: 'Use the source only while seeding.' })),
};

const wmsOptsProps = {
  version: Opt(StringEnum(['1.0.0', '1.1.0', '1.1.1', '1.3.0'] as const, { default: '1.1.1' })),
  map: Opt(Bool({ default: true, description: 'Use the source for GetMap.' })),
  featureinfo: Opt(Bool({ default: false })),
  legendgraphic: Opt(Bool({ default: false })),
  legendurl: Opt(Str()),
  featureinfo_format: Opt(Str()),
  featureinfo_xslt: Opt(Str()),
};

const WmsSource = Obj(
  {
    type: Type.Literal('wms'),
    ...commonProps,
    req: Obj(
      {
        url: Str({ description: 'Base URL of the WMS, e.g. http://host/service?' }),
        layers: Opt(Type.Union([Str(), StrList()], { description: 'Comma-separated WMS layer names.' })),
        styles: Opt(Str()),
        transparent: Opt(Type.Union([Bool(), Str()])),
        format: Opt(Str()),
        bgcolor: Opt(Str()),
        sld: Opt(Str()),
        sld_body: Opt(Str()),
      },
      { required: ['url'], additionalProperties: true, description: 'Request parameters; any extra key is sent as is.' },
    ),
    wms_opts: Opt(
      Obj({
        ...wmsOptsProps,
        featureinfo_out_format: Opt(Str()),
        query_layers: Opt(Type.Union([Str(), StrList()])),
      }),
    ),
    image: Opt(SourceImageOpts()),
    supported_formats: Opt(StrList({ description: 'Formats the WMS serves; others are converted.' })),
    supported_srs: Opt(StrList({ description: 'SRS the WMS serves; others are reprojected.' })),
    http: Opt(HttpOpts()),
    on_error: Opt(OnError()),
    forward_req_params: Opt(StrList()),
  },
  { required: ['type', 'req'], title: 'wms source' },
);

const TileSource = Obj(
  {
    type: Type.Literal('tile'),
    ...commonProps,
    url: Str({ description: 'URL template with %(x)s %(y)s %(z)s, %(quadkey)s, %(tms_path)s, %(format)s, ….' }),
    transparent: Opt(Bool({ default: false })),
    image: Opt(ImageOpts()),
    grid: Opt(Str({ default: 'GLOBAL_MERCATOR', description: 'The grid of the upstream tiles.' })),
    request_format: Opt(Str()),
    origin: Opt(Str({ description: 'Deprecated: use a grid with the right origin.' })),
    http: Opt(HttpOpts()),
    on_error: Opt(OnError()),
  },
  { required: ['type', 'url'], title: 'tile source' },
);

const MapserverOpts = () => Obj({ binary: Opt(Str()), working_dir: Opt(Str()) });

const MapserverSource = Obj(
  {
    type: Type.Literal('mapserver'),
    ...commonProps,
    req: Obj({ map: Str(), layers: Opt(Type.Union([Str(), StrList()])) }, { required: ['map'], additionalProperties: true }),
    wms_opts: Opt(Obj(wmsOptsProps)),
    image: Opt(SourceImageOpts()),
    supported_formats: Opt(StrList()),
    supported_srs: Opt(StrList()),
    forward_req_params: Opt(StrList()),
    mapserver: Opt(MapserverOpts()),
  },
  { required: ['type', 'req'], title: 'mapserver source' },
);

const MapnikSource = Obj(
  {
    type: Type.Literal('mapnik'),
    ...commonProps,
    mapfile: Str(),
    transparent: Opt(Bool()),
    image: Opt(ImageOpts()),
    layers: Opt(Type.Union([Str(), StrList()])),
    scale_factor: Opt(Num()),
    multithreaded: Opt(Bool()),
    use_mapnik2: Opt(Bool({ description: 'Deprecated.' })),
  },
  { required: ['type', 'mapfile'], title: 'mapnik source' },
);

const ArcgisSource = Obj(
  {
    type: Type.Literal('arcgis'),
    ...commonProps,
    req: Obj(
      {
        url: Str(),
        dpi: Opt(Int()),
        layers: Opt(Str()),
        transparent: Opt(Bool()),
        time: Opt(Str()),
      },
      { required: ['url'] },
    ),
    opts: Opt(
      Obj({
        featureinfo: Opt(Bool()),
        featureinfo_tolerance: Opt(Num({ default: 5 })),
        featureinfo_return_geometries: Opt(Bool()),
        map: Opt(Bool()),
      }),
    ),
    supported_srs: Opt(StrList()),
    http: Opt(HttpOpts()),
    on_error: Opt(OnError()),
  },
  { required: ['type', 'req'], title: 'arcgis source' },
);

const DebugSource = Obj({ type: Type.Literal('debug') }, { required: ['type'], title: 'debug source' });

const OgcApiTilesSource = Obj(
  {
    type: Type.Literal('ogcapitiles'),
    ...commonProps,
    landingpage_url: Str(),
    collection: Opt(Str()),
    tile_matrix_set_id: Opt(Str()),
    image: Opt(ImageOpts()),
  },
  { required: ['type', 'landingpage_url'], title: 'ogcapitiles source' },
);

const OgcApiMapsSource = Obj(
  {
    type: Type.Literal('ogcapimaps'),
    ...commonProps,
    landingpage_url: Str(),
    collection: Opt(Str()),
    supported_srs: Opt(StrList()),
    transparent: Opt(Bool()),
    image: Opt(ImageOpts()),
    bgcolor: Opt(Str()),
  },
  { required: ['type', 'landingpage_url'], title: 'ogcapimaps source' },
);

export const WmsSourceSchema = WmsSource;
export const TileSourceSchema = TileSource;
export const DebugSourceSchema = DebugSource;

/** One source: the mapping under `sources.<name>`. */
export const SourceSchema = Tagged(
  [WmsSource, TileSource, MapserverSource, MapnikSource, ArcgisSource, DebugSource, OgcApiTilesSource, OgcApiMapsSource],
  { title: 'source' },
);

/** `sources:`, the upstream services by name. */
export const SourcesSchema = MapOf(SourceSchema, { description: 'The map data sources, by name.' });
