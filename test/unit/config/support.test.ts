// "not supported yet": every key MapProxy knows that mapproxy-ts does not handle is reported by
// its path (never silently ignored); everything in the support table is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { problemLines, report, warningLines, withSections } from './helpers.js';

test('every supported key of this release is accepted', () => {
  const config = `
globals:
  cache: {base_dir: ./c, lock_dir: ./l, tile_lock_dir: ./t, meta_size: [2, 2], meta_buffer: 10, bulk_meta_tiles: true,
          minimize_meta_requests: true, concurrent_tile_creators: 4, link_single_color_images: symlink,
          directory_permissions: '775', file_permissions: '664', max_tile_limit: 100,
          memory_tier: {max_mb: 16, revalidate_seconds: 2}}
  image: {resampling_method: nearest, paletted: no, stretch_factor: 1.2, max_shrink_factor: 3.0, jpeg_quality: 75}
  http: {client_timeout: 10, headers: {X-A: b}, access_control_allow_origin: 'https://x', concurrent_requests: 4,
         hide_error_details: false, method: GET, ssl_no_cert_checks: false, manage_cookies: false}
  grid: {tile_size: [512, 512]}
  srs: {axis_order_ne: ['EPSG:31467'], axis_order_en: ['EPSG:4258'], proj4_defs: {'EPSG:31467': '+proj=tmerc'}}
  tiles: {expires_hours: 1}
services:
  tms: {use_grid_names: true, origin: nw, md: {title: T}}
  wmts: {kvp: false, restful: true, restful_template: '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}', md: {title: W}}
grids:
  g: {base: GLOBAL_WEBMERCATOR, name: G, srs: 'EPSG:3857', bbox: '-20037508.34,-20037508.34,20037508.34,20037508.34', bbox_srs: 'EPSG:3857',
      num_levels: 10, res_factor: sqrt2, min_res: 1000, max_res: 10, threshold_res: [100], stretch_factor: 1.1,
      max_shrink_factor: 2, origin: ul, tile_size: [256, 256]}
  g2: {srs: 'EPSG:4326', res: [1.0, 0.5], align_resolutions_with: null}
sources:
  w:
    type: wms
    req: {url: 'http://h/wms?', layers: a,b, transparent: true, styles: '', format: image/png, whatever: 1}
    wms_opts: {version: 1.3.0, map: true, featureinfo: false, legendgraphic: false}
    supported_srs: ['EPSG:4326']
    supported_formats: [image/png]
    coverage: {bbox: [0, 0, 1, 1], srs: 'EPSG:4326', clip: false}
    min_res: 1000
    max_res: 1.0
    min_scale: 1000000
    max_scale: 1000.0
    seed_only: false
    on_error: {500: {response: transparent, cache: true, authorize_stale: true}, other: {response: [255, 0, 0]}}
    http: {client_timeout: 5, headers: {A: b}}
    concurrent_requests: 2
    image: {transparent_color: '#ffffff', transparent_color_tolerance: 10, opacity: 0.5, format: image/png, mode: RGBA,
            colors: 0, transparent: true, resampling_method: bicubic, encoding_options: {jpeg_quality: 80}}
  t:
    type: tile
    url: 'http://h/%(z)s/%(x)s/%(y)s.png'
    grid: g
    origin: nw
    transparent: true
    coverage: {bbox: '0,0,1,1', bbox_srs: 'EPSG:4326'}
    http: {client_timeout: 3, headers: {}}
    on_error: {404: {response: transparent}}
    min_res: 100
    max_res: 1.0
    seed_only: true
    request_format: image/png
  d: {type: debug}
caches:
  c:
    sources: [w]
    grids: [g, GLOBAL_GEODETIC]
    format: image/jpeg
    request_format: image/png
    image: {mode: RGB, colors: 0, transparent: false, resampling_method: bilinear, encoding_options: {jpeg_quality: 70}, format: image/jpeg}
    meta_size: [2, 2]
    meta_buffer: 0
    bulk_meta_tiles: false
    minimize_meta_requests: true
    concurrent_tile_creators: 1
    disable_storage: false
    link_single_color_images: true
    refresh_before: {weeks: 1, days: 1, hours: 1, minutes: 1, seconds: 1}
    cache_dir: ./somewhere
    upscale_tiles: 0
    downscale_tiles: 0
    cache_rescaled_tiles: false
    cache: {type: file, directory_layout: quadkey, use_grid_names: true, tile_lock_dir: ./tl, directory_permissions: '700',
            file_permissions: '600', coverage: {bbox: [0, 0, 1, 1], srs: 'EPSG:4326'}}
  ct:
    sources: [t, d]
    grids: [g]
    meta_size: [1, 1]
    meta_buffer: 0
    cache: {type: file, directory: ./one_dir, directory_layout: arcgis}
layers:
  - title: Root
    md: {abstract: A}
    layers:
      - {name: l1, title: L1, sources: [c, w, d], min_res: 100, max_res: 1, min_scale: 1000000, max_scale: 100}
      - {name: l2, title: L2, tile_sources: [ct], sources: [c]}
`;
  // g2 has align_resolutions_with: null only to show the empty value is harmless for a grid key.
  const { problems, warnings } = report(config.replace('align_resolutions_with: null', 'name: G2'));
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings, []);
});

test('unsupported services and globals are named by path', () => {
  const lines = problemLines(
    withSections({
      services: { tms: {}, wms: { srs: ['EPSG:4326'] }, kml: null, demo: null, ogcapi: {} },
      globals: {
        cache: { s3: { bucket_name: 'b' }, sqlite_timeout: 10 },
        image: { font_dir: '/f', formats: { x: { encoding_options: { quantizer: 'mediancut' } } } },
        srs: { proj_data_dir: '/p', preferred_src_proj: { 'EPSG:3857': ['EPSG:4326'] } },
        mapserver: { binary: '/bin/mapserv' },
        renderd: { address: 'x' },
        background: { url: 'u' },
        http: { method: 'POST', ssl_ca_certs: '/ca', ssl_no_cert_checks: true },
      },
    }),
  );
  assert.deepEqual(lines, [
    'services.wms: not supported yet',
    'services.kml: not supported yet',
    'services.demo: not supported yet',
    'services.ogcapi: not supported yet',
    'globals.cache.s3: not supported yet',
    'globals.cache.sqlite_timeout: not supported yet',
    'globals.image.font_dir: not supported yet',
    'globals.image.formats: not supported yet',
    'globals.srs.proj_data_dir: not supported yet',
    'globals.srs.preferred_src_proj: not supported yet',
    'globals.mapserver: not supported yet',
    'globals.renderd: not supported yet',
    'globals.background: not supported yet',
    'globals.http.method: not supported yet: POST (supported: GET, AUTO)',
    'globals.http.ssl_ca_certs: not supported yet',
    'globals.http.ssl_no_cert_checks: not supported yet: true (supported: false)',
  ]);
});

test('unsupported source types and source keys', () => {
  const lines = problemLines(
    withSections({
      sources: {
        s: { type: 'debug' },
        ms: { type: 'mapserver', req: { map: 'x.map' } },
        mn: { type: 'mapnik', mapfile: 'x.xml' },
        ag: { type: 'arcgis', req: { url: 'u' } },
        ot: { type: 'ogcapitiles', landingpage_url: 'u' },
        om: { type: 'ogcapimaps', landingpage_url: 'u' },
        w: {
          type: 'wms',
          req: { url: 'u', layers: 'a' },
          wms_opts: { version: '1.0.0', featureinfo: true, legendurl: 'x', map: true },
          forward_req_params: ['TIME'],
          coverage: { datasource: 'x.geojson', srs: 'EPSG:4326', clip: true },
          http: { method: 'POST', client_timeout: 1 },
        },
        t: { type: 'tile', url: 'u', image: { format: 'image/png' }, min_scale: 10, concurrent_requests: 2 },
      },
    }),
  );
  assert.deepEqual(lines, [
    'sources.ms.type: not supported yet: mapserver (supported: wms, tile, debug)',
    'sources.mn.type: not supported yet: mapnik (supported: wms, tile, debug)',
    'sources.ag.type: not supported yet: arcgis (supported: wms, tile, debug)',
    'sources.ot.type: not supported yet: ogcapitiles (supported: wms, tile, debug)',
    'sources.om.type: not supported yet: ogcapimaps (supported: wms, tile, debug)',
    // MapProxy also speaks WMS 1.0.0 and 1.1.0 upstream (its demo.yaml and layer.yaml use them).
    'sources.w.wms_opts.version: not supported yet: 1.0.0 (supported: 1.1.1, 1.3.0)',
    'sources.w.wms_opts.featureinfo: not supported yet: true (supported: false)',
    'sources.w.wms_opts.legendurl: not supported yet',
    'sources.w.forward_req_params: not supported yet',
    'sources.w.coverage.datasource: not supported yet',
    'sources.w.coverage.clip: not supported yet: true (supported: false)',
    'sources.w.http.method: not supported yet: POST (supported: GET, AUTO)',
    'sources.t.image: not supported yet',
    'sources.t.min_scale: not supported yet',
    'sources.t.concurrent_requests: not supported yet',
  ]);
});

test('unsupported cache keys and backends', () => {
  const lines = problemLines(
    withSections({
      caches: {
        c: {
          sources: ['s'],
          watermark: { text: 'x' },
          upscale_tiles: 2,
          use_direct_from_level: 5,
          image: { encoding_options: { tiff_compression: 'lzw' }, opacity: 0.5 },
          cache: { type: 'file', coverage: { bbox: [0, 0, 1, 1], srs: 'EPSG:4326', union: [] } },
        },
        m: { sources: ['s'], cache: { type: 'mbtiles', filename: 'x.mbtiles' } },
        r: { sources: ['s'], cache: { type: 'redis' } },
        b: { sources: { l: [{ source: 's', band: 0 }] } },
      },
    }),
  );
  assert.deepEqual(lines, [
    'caches.c.watermark: not supported yet',
    'caches.c.upscale_tiles: not supported yet: 2 (supported: 0)',
    'caches.c.use_direct_from_level: not supported yet',
    'caches.c.image.encoding_options.tiff_compression: not supported yet',
    'caches.c.image.opacity: not supported yet',
    'caches.c.cache.coverage.union: not supported yet',
    'caches.m.cache.type: not supported yet: mbtiles (supported: file)',
    'caches.r.cache.type: not supported yet: redis (supported: file)',
    'caches.b.sources: not supported yet: band merging (sources as a mapping of bands)',
  ]);
});

test('unsupported layer and service keys', () => {
  const lines = problemLines(
    withSections({
      services: { tms: {}, wmts: { restful_featureinfo_template: 'x', featureinfo_formats: [{ mimetype: 'text/plain' }] } },
      layers: [
        {
          name: 'l',
          title: 'L',
          sources: ['c'],
          legendurl: 'http://x',
          dimensions: { time: { values: ['2020'] } },
          layers: [{ name: 'k', title: 'K', sources: ['c'], nominal_res: 3, wmts_rest_legendurl: 'x' }],
        },
      ],
    }),
  );
  assert.deepEqual(lines, [
    'services.wmts.restful_featureinfo_template: not supported yet',
    'services.wmts.featureinfo_formats: not supported yet',
    'layers[0].legendurl: not supported yet',
    'layers[0].dimensions: not supported yet',
    'layers[0].layers[0].nominal_res: not supported yet',
    'layers[0].layers[0].wmts_rest_legendurl: not supported yet',
  ]);
});

test('the legacy layer forms are reported once, without follow-up errors', () => {
  const message = 'layers: not supported yet: layers as mappings of name to layer (deprecated since MapProxy 1.4); write a list of layers with name and title';
  assert.deepEqual(problemLines(withSections({ layers: { osm: { title: 'OSM', sources: ['c'] } } })), [message]);
  assert.deepEqual(problemLines(withSections({ layers: [{ osm: { title: 'OSM', sources: ['c'] } }] })), [message]);
});

test('unknown keys inside unsupported parts are warnings, not "not supported yet"', () => {
  const config = withSections({ services: { tms: {}, wms: { srss: [] } } });
  assert.deepEqual(problemLines(config), ['services.wms: not supported yet']);
  assert.deepEqual(warningLines(config), ['services.wms.srss: unknown key (did you mean srs?)']);
});

test('a value with a type error is not also reported as unsupported', () => {
  assert.deepEqual(problemLines(withSections({ caches: { c: { sources: 'osm' } } })), [
    'caches.c.sources: expected a list of strings or a mapping, got "osm"',
  ]);
});
