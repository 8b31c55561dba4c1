// Reference checks (names that must exist, with did-you-mean) and MapProxy's rules across keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { problemLines, warningLines, withSections } from './helpers.js';

test('unknown grids in caches (the three default grids exist), grid base, tile source grid', () => {
  const lines = problemLines(
    withSections({
      caches: { c: { sources: ['s'], grids: ['GLOBAL_MERCATR', 'GLOBAL_GEODETIC', 'GLOBAL_WEBMERCATOR', 'mine', 'utm'] } },
      grids: {
        mine: { base: 'GLOBAL_MERCATR' },
        other: { base: 'mine', align_resolutions_with: 'mien' },
        utm32: { srs: 'EPSG:25832', bbox: [0, 0, 1, 1] },
      },
      sources: { s: { type: 'debug' }, t: { type: 'tile', url: 'u', grid: 'GLOBAL_WEBMERCATR' } },
    }),
  );
  assert.deepEqual(lines, [
    'caches.c.grids[0]: unknown grid "GLOBAL_MERCATR" (did you mean GLOBAL_MERCATOR?)',
    'caches.c.grids[4]: unknown grid "utm" (did you mean utm32?)',
    'sources.t.grid: unknown grid "GLOBAL_WEBMERCATR" (did you mean GLOBAL_WEBMERCATOR?)',
    'grids.mine.base: unknown grid "GLOBAL_MERCATR" (did you mean GLOBAL_MERCATOR?)',
    'grids.other.align_resolutions_with: unknown grid "mien" (did you mean mine?)',
  ]);
});

test('unknown caches and sources in layers and caches, with did-you-mean', () => {
  const lines = problemLines(
    withSections({
      layers: [
        { name: 'a', title: 'A', sources: ['osm_cach', 'c', 's'] },
        { title: 'group', layers: [{ name: 'b', title: 'B', sources: ['zzz'], tile_sources: ['c', 'cc'] }] },
      ],
      caches: { osm_cache: { sources: ['s'] }, c: { sources: ['s', 'wms_src', 'osm'] } },
    }),
  );
  assert.deepEqual(lines, [
    'layers[0].sources[0]: unknown cache or source "osm_cach" (did you mean osm_cache?)',
    'layers[1].layers[0].sources[0]: unknown cache or source "zzz"',
    'layers[1].layers[0].tile_sources[1]: unknown cache "cc" (did you mean c?)',
    'caches.c.sources[1]: unknown source "wms_src"',
    'caches.c.sources[2]: unknown source "osm" (did you mean osm_cache?)',
  ]);
});

test('a layer name used twice (nested too)', () => {
  const lines = problemLines(
    withSections({
      layers: [
        { name: 'l', title: 'L', sources: ['c'] },
        { title: 'group', layers: [{ name: 'l', title: 'again', sources: ['c'] }] },
        { name: 'l', title: 'third', sources: ['c'] },
      ],
    }),
  );
  assert.deepEqual(lines, [
    'layers[1].layers[0].name: layer name "l" is used twice (first at layers[0].name)',
    'layers[2].name: layer name "l" is used twice (first at layers[0].name)',
  ]);
});

test('tagged sources are not supported yet, caches as cache sources are; a tagged unknown source is unknown', () => {
  const lines = problemLines(
    withSections({
      layers: [{ name: 'l', title: 'L', sources: ['w:roads,rails', 'nope:x'] }],
      caches: { c: { sources: ['s'] }, c2: { sources: ['c', 'w:roads'] } },
      sources: { s: { type: 'debug' }, w: { type: 'wms', req: { url: 'u', layers: 'roads,rails' } } },
    }),
  );
  assert.deepEqual(lines, [
    'layers[0].sources[0]: not supported yet: tagged source "w:roads,rails"',
    'layers[0].sources[1]: unknown cache or source "nope:x"',
    'caches.c2.sources[1]: not supported yet: tagged source "w:roads"',
  ]);
});

test('a tile source used directly in a layer is an error (MapProxy: no un-tiled access)', () => {
  const lines = problemLines(
    withSections({
      layers: [{ name: 'l', title: 'L', sources: ['t', 's'] }],
      sources: { s: { type: 'debug' }, t: { type: 'tile', url: 'u' } },
    }),
  );
  assert.deepEqual(lines, ['layers[0].sources[0]: the tile source "t" only serves tiles: use it through a cache']);
});

test('meta tiling with tile and WMS sources mixed is an error; without meta tiling it is fine', () => {
  const sources = {
    s: { type: 'debug' },
    w: { type: 'wms', req: { url: 'u', layers: 'a' } },
    t: { type: 'tile', url: 'u' },
  };
  // MapProxy: "meta tiling configured but not supported by all sources"
  assert.deepEqual(problemLines(withSections({ sources, caches: { c: { sources: ['w', 't', 's'] } } })), [
    'caches.c.sources: meta tiling (meta_size [4,4], meta_buffer 80) needs sources that take any request, but "t", "s" cannot be mixed with "w": set meta_size [1, 1] and meta_buffer 0, or use separate caches',
  ]);
  // The global setting counts too.
  assert.deepEqual(
    problemLines(withSections({ sources, globals: { cache: { meta_size: [1, 1], meta_buffer: 0 } }, caches: { c: { sources: ['w', 't'] } } })),
    [],
  );
  assert.equal(
    problemLines(withSections({ sources, globals: { cache: { meta_size: [1, 1] } }, caches: { c: { sources: ['w', 't'] } } })).length,
    1,
  );
  assert.deepEqual(problemLines(withSections({ sources, caches: { c: { sources: ['w', 't'], meta_size: [1, 1], meta_buffer: 0 } } })), []);
  // Only tile sources: MapProxy switches meta tiling off by itself.
  assert.deepEqual(problemLines(withSections({ sources, caches: { c: { sources: ['t', 's'] } } })), []);
});

test('res together with min_res, max_res or align_resolutions_with (also through base)', () => {
  const lines = problemLines(
    withSections({
      grids: {
        a: { res: [10, 5], min_res: 10, max_res: 1 },
        b: { base: 'a', min_res: 20 },
        c: { res: [1], align_resolutions_with: 'GLOBAL_MERCATOR' },
        ok: { base: 'a', srs: 'EPSG:4326' },
      },
    }),
  );
  assert.deepEqual(lines, [
    'grids.a.res: res cannot be combined with min_res, max_res',
    'grids.b.res: res cannot be combined with min_res, max_res',
    'grids.c.res: res cannot be combined with align_resolutions_with',
    'grids.ok.res: res cannot be combined with min_res, max_res',
  ]);
});

test('a grid in another SRS needs a bbox; base grid cycles', () => {
  const lines = problemLines(
    withSections({
      grids: {
        utm: { srs: 'EPSG:25832' },
        utm2: { base: 'utm', bbox: [0, 0, 1, 1] },
        geo: { srs: 'epsg:4326' },
        x: { base: 'y' },
        y: { base: 'x' },
      },
    }),
  );
  assert.deepEqual(lines, [
    'grids.utm: a grid in EPSG:25832 needs a bbox (only EPSG:4326 and the web mercator SRS have a default)',
    'grids.x.base: the base grids form a cycle (x -> y -> x)',
    'grids.y.base: the base grids form a cycle (y -> x -> y)',
  ]);
});

test('cache.directory with several grids; cache_dir beside it only warns', () => {
  const config = withSections({
    caches: {
      c: { sources: ['s'], grids: ['GLOBAL_MERCATOR', 'GLOBAL_GEODETIC'], cache: { type: 'file', directory: '/x' } },
      one: { sources: ['s'], cache_dir: './y', cache: { type: 'file', directory: '/z' } },
    },
  });
  assert.deepEqual(problemLines(config), [
    'caches.c.cache.directory: one directory cannot hold several grids (GLOBAL_MERCATOR, GLOBAL_GEODETIC): remove directory or use one grid',
  ]);
  assert.deepEqual(warningLines(config), ['caches.one.cache_dir: ignored: cache.directory is set']);
});

test('coverages need an SRS; on_error keys are status codes; format mixed needs a PNG request format', () => {
  const lines = problemLines(
    withSections({
      caches: {
        c: { sources: ['s'], format: 'mixed', request_format: 'image/jpeg', cache: { type: 'file', coverage: { bbox: [0, 0, 1, 1] } } },
        d: { sources: ['s'], format: 'mixed', request_format: 'image/png' },
      },
      sources: {
        s: { type: 'debug' },
        w: {
          type: 'wms',
          req: { url: 'u', layers: 'a' },
          coverage: { bbox: '0,0,1,1' },
          on_error: { 500: { response: 'transparent' }, 5000: { response: 'transparent' }, other: { response: 'transparent' } },
        },
      },
    }),
  );
  assert.deepEqual(lines, [
    'caches.c.request_format: format mixed needs request_format image/png',
    'caches.c.cache.coverage: a coverage with a bbox needs srs (or bbox_srs)',
    'sources.w.coverage: a coverage with a bbox needs srs (or bbox_srs)',
    'sources.w.on_error.5000: expected an HTTP status code (100-599) or "other" as key',
  ]);
});

test('unknown SRS codes and image formats are problems naming the key, not crashes later', () => {
  const lines = problemLines(
    withSections({
      globals: { srs: { proj4_defs: { 'EPSG:31467': '+proj=tmerc +lat_0=0 +lon_0=9 +k=1 +x_0=3500000 +y_0=0 +ellps=bessel +units=m +no_defs' } } },
      grids: { g: { srs: 'EPSG:31467', bbox: [3280000, 5230000, 3950000, 6110000] }, h: { srs: 'EPSG:99999', bbox: [0, 0, 1, 1] } },
      caches: {
        c: { sources: ['w'], format: 'image/foo', request_format: 'image/bar', cache: { type: 'file', coverage: { bbox: [0, 0, 1, 1], srs: 'EPSG:1234567' } } },
      },
      sources: {
        w: { type: 'wms', req: { url: 'u', layers: 'a', format: 'image/nope' }, supported_srs: ['EPSG:4326', 'EPSG:7'], supported_formats: ['image/png', 'image/bmp'] },
      },
    }),
  );
  assert.deepEqual(lines, [
    'caches.c.format: unknown image format "image/foo" (expected image/png, image/jpeg, image/gif, image/tiff or mixed)',
    'caches.c.request_format: unknown image format "image/bar" (expected image/png, image/jpeg, image/gif, image/tiff)',
    'caches.c.cache.coverage.srs: unknown SRS "EPSG:1234567": not built in; define it in globals.srs.proj4_defs',
    'sources.w.req.format: unknown image format "image/nope" (expected image/png, image/jpeg, image/gif, image/tiff)',
    'sources.w.supported_srs[1]: unknown SRS "EPSG:7": not built in; define it in globals.srs.proj4_defs',
    'sources.w.supported_formats[1]: unknown image format "image/bmp" (expected image/png, image/jpeg, image/gif, image/tiff)',
    'grids.h.srs: unknown SRS "EPSG:99999": not built in; define it in globals.srs.proj4_defs',
  ]);
});

test('a format named in globals.image.formats is refused with that section, not called unknown', () => {
  // MapProxy's layer.yaml and kml_layer.yaml: `format: custom` names an entry of globals.image.formats.
  const lines = problemLines(
    withSections({
      globals: { image: { formats: { custom: { format: 'image/jpeg' }, 'image/png': { colors: 16 } } } },
      caches: { c: { sources: ['w'], format: 'custom' }, d: { sources: ['w'], format: 'image/png' }, e: { sources: ['w'], format: 'nope' } },
      sources: { w: { type: 'wms', req: { url: 'http://h/', layers: 'a' } } },
    }),
  );
  // In file order: minimal()'s sections (caches) come before the added ones.
  assert.deepEqual(lines, [
    'caches.c.format: not supported yet: image format "custom" of globals.image.formats',
    'caches.e.format: unknown image format "nope" (expected image/png, image/jpeg, image/gif, image/tiff or mixed)',
    'globals.image.formats: not supported yet',
  ]);
});

test('what MapProxy only warns about: missing sections, layers without sources; a WMS without req.layers is valid', () => {
  assert.deepEqual(warningLines({}), ['layers: no layers configured', 'services: no services configured']);
  const config = withSections({
    layers: [{ name: 'l', title: 'L', sources: ['c'] }, { name: 'empty', title: 'E' }, { title: 'x', layers: [] }],
    // MapProxy (sld.yaml of its system tests): an SLD may name the layers; req.layers is optional.
    sources: { s: { type: 'debug' }, w: { type: 'wms', req: { url: 'http://h/', sld: 'http://h/style.sld' } } },
  });
  assert.deepEqual(problemLines(config), []);
  assert.deepEqual(warningLines(config), ['layers[1]: layer "empty" has no sources, tile_sources or layers']);
});
