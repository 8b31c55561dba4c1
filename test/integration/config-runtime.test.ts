/**
 * Configuration → running app (in this process, real HTTP, real upstream, real files): default
 * cache directory names, `use_grid_names`, `cache_dir`, `cache.directory` and the default
 * tile_lock_dir of each; a user grid in EPSG:25832 served over WMTS and TMS; which layers become
 * tile layers; service metadata; CORS and Cache-Control from `globals`
 * (REFERENCE.md §2.1, §2.6, §2.7, §2.8, §2.10).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { startUpstream, expectedColor, pixelCenter, xyzTileBbox, type Upstream, type UpstreamBbox } from '../helpers/upstream.js';
import { tempConfig, startApp, get, type RunningApp } from '../helpers/server.js';
import { createApp } from '../../src/app/create-app.js';
import { ConfigError } from '../../src/errors.js';

/** MapProxy's tc path of (x, y, z). */
function tcPath(x: number, y: number, z: number, ext = 'png'): string {
  const p3 = (n: number): string => String(n).padStart(3, '0');
  return [String(z).padStart(2, '0'), p3(Math.floor(x / 1e6)), p3(Math.floor(x / 1e3) % 1000), p3(x % 1000),
    p3(Math.floor(y / 1e6)), p3(Math.floor(y / 1e3) % 1000), `${p3(y % 1000)}.${ext}`].join('/');
}

async function ls(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return ['<missing>'];
  }
}

/** Check a tile against the upstream's colour function in `srs` at a few pixels. */
async function assertShows(body: Buffer, bbox: UpstreamBbox, srs: string, pixels: Array<[number, number]>, label: string): Promise<void> {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [256, 256], label);
  for (const [px, py] of pixels) {
    const [x, y] = pixelCenter(bbox, [256, 256], px, py);
    const o = (py * info.width + px) * info.channels;
    assert.deepEqual([data[o], data[o + 1], data[o + 2]], expectedColor(x, y, srs), `${label} pixel ${px},${py}`);
  }
}

const UTM_BBOX = [200000, 5200000, 1000000, 6200000] as const;

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let app: RunningApp;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(`
services:
  tms:
    md:
      title: TMS title
      abstract: TMS abstract
  wmts:
    md:
      title: WMTS title
      abstract: WMTS abstract
      fees: free for tests
layers:
  - name: web
    title: Web
    sources: [web_cache]
  - name: merc
    title: Merc
    sources: [merc_cache]
  - name: two
    title: Two caches
    sources: [web_cache, merc_cache]
  - name: direct
    title: Direct source
    sources: [up]
  - name: cache_and_direct
    title: Cache and a direct source
    sources: [web_cache, up]
  - name: with_debug
    title: Cache and debug
    sources: [web_cache, dbg]
  - name: both
    title: Two tile sets
    sources: [up]
    tile_sources: [web_cache, merc_cache]
  - name: group
    title: Group
    layers:
      - name: child
        title: Child
        sources: [named_cache]
  - name: cd
    title: cache_dir
    sources: [cd_cache]
  - name: dd
    title: cache.directory
    sources: [dd_cache]
  - name: shared
    title: A cache named as a debug source
    sources: [shared]
    layers:
      - name: shared_child
        title: Child of a layer with sources
        sources: [web_cache]
caches:
  web_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    image: {colors: 0}
  merc_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [up]
    image: {colors: 0}
  named_cache:
    grids: [GLOBAL_WEBMERCATOR, utm]
    sources: [up]
    image: {colors: 0}
    cache:
      type: file
      use_grid_names: true
  cd_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    cache_dir: ./cd
  dd_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    cache:
      type: file
      directory: ./dd
  shared:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [shared]
    disable_storage: true
grids:
  utm:
    name: UTM32
    srs: EPSG:25832
    bbox: [${UTM_BBOX.join(', ')}]
    res: [2000, 1000, 500]
    origin: nw
sources:
  up:
    type: wms
    req:
      url: ${upstream.url}/wms?
      layers: base
  dbg:
    type: debug
  shared:
    type: debug
`);
  app = await startApp(cfg.file);
});

after(async () => {
  await app?.close();
  await upstream?.close();
  await cfg?.cleanup();
});

test('tile layers: only layers with exactly one cache (debug ignored, a cache wins over a source of its name), children first; tile_sources gives one tile set per cache', async () => {
  const tms = await get(`${app.url}/tms/1.0.0/`);
  assert.equal(tms.status, 200);
  const hrefs = [...tms.body.toString().matchAll(/href="[^"]*\/tms\/1\.0\.0\/([^"]+)"/g)].map((m) => m[1]);
  // MapProxy: two caches, a cache plus a direct source, or a direct source alone: no tile layer.
  assert.deepEqual(hrefs, [
    'web/EPSG3857',
    'merc/EPSG900913',
    'with_debug/EPSG3857',
    'both/EPSG3857',
    'both/EPSG900913',
    'child/EPSG3857',
    'child/EPSG25832',
    'cd/EPSG3857',
    'dd/EPSG3857',
    // MapProxy lists a layer after its children (auth.yaml of its system tests: layer1a,
    // layer1b, layer1); its `sources: [shared]` is the cache `shared`, not the debug source of
    // the same name, which only that cache uses.
    'shared_child/EPSG3857',
    'shared/EPSG3857',
  ]);
  const wmts = await get(`${app.url}/wmts/1.0.0/WMTSCapabilities.xml`);
  assert.equal(wmts.status, 200);
  const xml = wmts.body.toString();
  const layers = [...xml.matchAll(/<Layer>\s*<ows:Title>[^<]*<\/ows:Title>\s*(?:<ows:Abstract>[^<]*<\/ows:Abstract>\s*)?<ows:WGS84BoundingBox>[\s\S]*?<ows:Identifier>([^<]+)<\/ows:Identifier>/g)].map((m) => m[1]);
  assert.deepEqual(layers, ['web', 'merc', 'with_debug', 'both', 'child', 'cd', 'dd', 'shared_child', 'shared']);
  for (const absent of ['two', 'direct', 'cache_and_direct', 'group']) {
    assert.equal((await get(`${app.url}/tms/1.0.0/${absent}/EPSG3857/0/0/0.png`)).status, 404, absent);
  }
});

test('services md: tms.md and wmts.md reach the capabilities', async () => {
  const tms = (await get(`${app.url}/tms/1.0.0/`)).body.toString();
  assert.match(tms, /<Title>TMS title<\/Title>\s*<Abstract>TMS abstract<\/Abstract>/);
  const wmts = (await get(`${app.url}/wmts/1.0.0/WMTSCapabilities.xml`)).body.toString();
  assert.match(wmts, /<ows:ServiceIdentification>\s*<ows:Title>WMTS title<\/ows:Title>\s*<ows:Abstract>WMTS abstract<\/ows:Abstract>/);
  assert.match(wmts, /<ows:Fees>free for tests<\/ows:Fees>/);
});

test('default cache directories, use_grid_names (grid name, not key), cache_dir, cache.directory and their tile_lock_dirs', async () => {
  upstream.reset();
  const urls = [
    '/wmts/web/GLOBAL_WEBMERCATOR/02/1/1.png',
    '/wmts/merc/GLOBAL_MERCATOR/02/1/1.png',
    '/wmts/child/GLOBAL_WEBMERCATOR/02/1/1.png',
    '/wmts/child/UTM32/00/0/0.png',
    '/wmts/cd/GLOBAL_WEBMERCATOR/02/1/1.png',
    '/wmts/dd/GLOBAL_WEBMERCATOR/02/1/1.png',
  ];
  const res = await Promise.all(urls.map((u) => get(app.url + u)));
  res.forEach((r, i) => assert.equal(r.status, 200, urls[i]));
  assert.equal(upstream.count(), 6);
  // The whole of level 0 of UTM32 (2×2 tiles) is one meta tile, clamped to the grid bbox.
  const utm = upstream.requests.filter((r) => r.query.get('srs') === 'EPSG:25832');
  assert.equal(utm.length, 1);
  assert.equal(utm[0].query.get('bbox'), '200000.0,5200000.0,1000000.0,6200000.0');
  assert.deepEqual([utm[0].query.get('width'), utm[0].query.get('height')], ['400', '500']);
  const d = cfg.dir;
  // MapProxy: ./cache_data next to the config; <cache>_<SRS without colon>.
  assert.deepEqual(await ls(join(d, 'cache_data')), ['merc_cache_EPSG900913', 'named_cache', 'tile_locks', 'web_cache_EPSG3857']);
  assert.deepEqual(await ls(join(d, 'cache_data', 'named_cache')), ['GLOBAL_WEBMERCATOR', 'UTM32']);
  const files: Array<[string, Buffer]> = [
    [join(d, 'cache_data', 'web_cache_EPSG3857', tcPath(1, 1, 2)), res[0].body],
    // GLOBAL_MERCATOR is sw: WMTS row 1 of 4 is internal y 2.
    [join(d, 'cache_data', 'merc_cache_EPSG900913', tcPath(1, 2, 2)), res[1].body],
    [join(d, 'cache_data', 'named_cache', 'GLOBAL_WEBMERCATOR', tcPath(1, 1, 2)), res[2].body],
    [join(d, 'cache_data', 'named_cache', 'UTM32', tcPath(0, 0, 0)), res[3].body],
    [join(d, 'cd', 'cd_cache_EPSG3857', tcPath(1, 1, 2)), res[4].body],
    [join(d, 'dd', tcPath(1, 1, 2)), res[5].body],
  ];
  for (const [f, body] of files) assert.ok((await readFile(f)).equals(body), f);
  // tile_lock_dir defaults (§2.7): <cache_dir>/tile_locks; with cache.directory D: D/tile_locks.
  assert.deepEqual(await ls(join(d, 'cache_data', 'tile_locks')), []);
  assert.deepEqual(await ls(join(d, 'cd')), ['cd_cache_EPSG3857', 'tile_locks']);
  assert.deepEqual(await ls(join(d, 'dd')), ['02', 'tile_locks']);
  assert.deepEqual(await ls(d), ['cache_data', 'cd', 'dd', 'mapproxy.yaml']);
});

test('a user grid (EPSG:25832, bbox, res list, origin nw) over WMTS and TMS: same tile, right place, capabilities', async () => {
  upstream.reset();
  const wmts = await get(`${app.url}/wmts/child/UTM32/00/1/0.png`);
  assert.equal(wmts.status, 200);
  assert.equal(upstream.count(), 0, 'level 0 is one meta tile, fetched by the previous test');
  // TMS counts rows from the south: level 0 has 2 rows, so TMS y=1 is the top row. A local
  // profile skips no level.
  const tms = await get(`${app.url}/tms/1.0.0/child/EPSG25832/0/1/1.png`);
  assert.equal(tms.status, 200);
  assert.ok(tms.body.equals(wmts.body), 'TMS and WMTS serve the same stored tile');
  // Tile (1, 0) of level 0: x 712000..1224000, y 5688000..6200000; the cell border y = 6e6 is
  // at row 100, the grid ends at x = 1e6, column 144.
  const bbox: UpstreamBbox = [712000, 5688000, 1224000, 6200000];
  await assertShows(wmts.body, bbox, 'EPSG:25832', [[50, 50], [50, 150], [100, 99], [100, 101]], 'UTM32 00/1/0');
  // MapProxy: the meta tile request is clamped to the grid bbox; beyond x = 1e6 (column 144) the
  // tile is background (white, the cache is not transparent).
  const { data, info } = await sharp(wmts.body).raw().toBuffer({ resolveWithObject: true });
  for (const [px, py] of [[144, 10], [200, 50], [255, 255]]) {
    const o = (py * info.width + px) * info.channels;
    assert.deepEqual([data[o], data[o + 1], data[o + 2]], [255, 255, 255], `background at ${px},${py}`);
  }

  const caps = (await get(`${app.url}/wmts/1.0.0/WMTSCapabilities.xml`)).body.toString();
  const set = /<TileMatrixSet>\s*<ows:Identifier>UTM32<\/ows:Identifier>([\s\S]*?)<\/TileMatrixSet>/.exec(caps);
  assert.ok(set, 'UTM32 matrix set');
  // MapProxy 1.15 writes the plain code.
  assert.match(set[1], /<ows:SupportedCRS>EPSG:25832<\/ows:SupportedCRS>/);
  const matrices = [...set[1].matchAll(/<ows:Identifier>(\d+)<\/ows:Identifier>\s*<ScaleDenominator>([^<]+)<\/ScaleDenominator>\s*<TopLeftCorner>([^<]+)<\/TopLeftCorner>\s*<TileWidth>256<\/TileWidth>\s*<TileHeight>256<\/TileHeight>\s*<MatrixWidth>(\d+)<\/MatrixWidth>\s*<MatrixHeight>(\d+)<\/MatrixHeight>/g)]
    .map((m) => m.slice(1).join(' '));
  // Values as MapProxy 1.15's TileMatrixSet computes them for this grid (run on the rig);
  // nx = ceil(floor(800000 / res) / 256).
  assert.deepEqual(matrices, [
    '00 7142857.142857142 200000.0 6200000.0 2 2',
    '01 3571428.571428571 200000.0 6200000.0 4 4',
    '02 1785714.2857142854 200000.0 6200000.0 7 8',
  ]);
  const tmsCaps = (await get(`${app.url}/tms/1.0.0/child/EPSG25832`)).body.toString();
  assert.match(tmsCaps, /<SRS>EPSG:25832<\/SRS>/);
  assert.match(tmsCaps, /<BoundingBox minx="200000\.0" miny="5200000\.0" maxx="1000000\.0" maxy="6200000\.0" \/>/);
  const sets = [...tmsCaps.matchAll(/<TileSet href="[^"]+\/(\d+)" units-per-pixel="([^"]+)" order="(\d+)" \/>/g)].map((m) => m.slice(1).join(' '));
  assert.deepEqual(sets, ['0 2000.0 0', '1 1000.0 1', '2 500.0 2']);
});

test('default CORS header and Cache-Control of 72 hours (globals defaults)', async () => {
  const tile = await get(`${app.url}/wmts/web/GLOBAL_WEBMERCATOR/02/1/1.png`);
  assert.equal(tile.status, 200);
  assert.equal(tile.headers.get('access-control-allow-origin'), '*');
  assert.equal(tile.headers.get('cache-control'), 'public, max-age=259200, s-maxage=259200');
  const web = xyzTileBbox(2, 1, 1);
  await assertShows(tile.body, web, 'EPSG:3857', [[10, 10], [245, 245]], 'web 2/1/1');
});

/** An app of one debug-source layer with the given `services:` and `globals:` bodies. */
async function smallApp(services: string, globals: string): Promise<{ app: RunningApp; cleanup(): Promise<void> }> {
  const c = await tempConfig(`
services:
${services}
layers:
  - name: dbg
    title: Debug
    sources: [dbg_cache]
caches:
  dbg_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [dbg]
    disable_storage: true
sources:
  dbg:
    type: debug
globals:
${globals}
`);
  const a = await startApp(c.file);
  return { app: a, cleanup: async () => { await a.close(); await c.cleanup(); } };
}

test('globals.http.access_control_allow_origin (custom, empty) and globals.tiles.expires_hours', async () => {
  const custom = await smallApp('  tms:\n  wmts:', '  http:\n    access_control_allow_origin: https://maps.example\n  tiles:\n    expires_hours: 0.5');
  const empty = await smallApp('  tms:', "  http:\n    access_control_allow_origin: ''");
  try {
    const tile = await get(`${custom.app.url}/tms/1.0.0/dbg/EPSG3857/0/0/0.png`);
    assert.equal(tile.status, 200);
    assert.equal(tile.headers.get('access-control-allow-origin'), 'https://maps.example');
    assert.equal(tile.headers.get('cache-control'), 'public, max-age=1800, s-maxage=1800');
    const caps = await get(`${custom.app.url}/wmts/1.0.0/WMTSCapabilities.xml`);
    assert.equal(caps.headers.get('access-control-allow-origin'), 'https://maps.example');
    // MapProxy: an empty value turns the header off.
    for (const path of ['/tms/1.0.0/dbg/EPSG3857/0/0/0.png', '/tms/1.0.0/', '/nowhere']) {
      const r = await get(empty.app.url + path);
      assert.equal(r.headers.has('access-control-allow-origin'), false, path);
    }
  } finally {
    await custom.cleanup();
    await empty.cleanup();
  }
});

test('services.wmts kvp/restful as MapProxy reads them: both on unless one is given', async () => {
  const cases: Array<[string, boolean, boolean]> = [
    ['  wmts:', true, true],
    ['  wmts:\n    restful: true', false, true],
    ['  wmts:\n    kvp: true', true, false],
    ['  wmts:\n    kvp: true\n    restful: false', true, false],
    ['  wmts:\n    kvp: true\n    restful: true', true, true],
  ];
  for (const [services, kvp, rest] of cases) {
    const s = await smallApp(services, '  tiles:\n    expires_hours: 1');
    try {
      const k = await get(`${s.app.url}/service?SERVICE=WMTS&REQUEST=GetCapabilities`);
      const r = await get(`${s.app.url}/wmts/1.0.0/WMTSCapabilities.xml`);
      assert.equal(k.status === 200, kvp, `${services} kvp: ${k.status}`);
      assert.equal(r.status === 200, rest, `${services} rest: ${r.status}`);
    } finally {
      await s.cleanup();
    }
  }
});

test('createApp rejects what cannot be built with one ConfigError naming every YAML path', async () => {
  const c = await tempConfig(`
services:
  tms:
layers:
  - name: a
    title: A
    sources: [web]
caches:
  web:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [dbg]
  geo_from_web:
    grids: [GLOBAL_GEODETIC]
    sources: [web]
  from_tiles:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [ftp]
sources:
  dbg:
    type: debug
  ftp:
    type: tile
    grid: GLOBAL_WEBMERCATOR
    url: ftp://example.org/%(z)s/%(x)s/%(y)s.png
  w:
    type: wms
    req: {url: "http://127.0.0.1:9/wms?", layers: a}
    on_error:
      500: {response: "#zzzzzz"}
`);
  try {
    await assert.rejects(createApp(c.file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'MPX_ERR_CONFIG');
      assert.equal(err.message, [
        `invalid configuration ${c.file}:`,
        '  sources.ftp.url: must be an http://, https:// or file:// URL template (got "ftp://example.org/%(z)s/%(x)s/%(y)s.png")',
        '  sources.w.on_error.500.response: invalid colour "#zzzzzz": use "#rrggbb", "#rrggbbaa", [r, g, b(, a)] or "transparent"',
      ].join('\n'));
      return true;
    });
    // With the sources fixed, the cache that would need reprojection from another cache.
    await writeFile(c.file, (await readFile(c.file, 'utf8')).replace('ftp://', 'http://').replace('#zzzzzz', '#ff0000'));
    await assert.rejects(createApp(c.file), {
      name: 'ConfigError',
      message: `invalid configuration ${c.file}:\n  caches.geo_from_web.sources[0]: not supported yet: cache "web" as a source needs a grid of which GLOBAL_GEODETIC is a subset (reprojection from a cache is not supported yet)`,
    });
    // Everything built; a service option is still wrong.
    await writeFile(c.file, (await readFile(c.file, 'utf8'))
      .replace('  geo_from_web:\n    grids: [GLOBAL_GEODETIC]\n    sources: [web]\n', '')
      .replace('services:\n  tms:\n', 'services:\n  wmts:\n    restful_template: /{Layer}.png\n'));
    await assert.rejects(createApp(c.file), {
      name: 'ConfigError',
      message: `invalid configuration ${c.file}:\n  services.wmts.restful_template: missing required variables in WMTS restful template "/{Layer}.png": {TileCol}, {TileRow}, {TileMatrix}, {TileMatrixSet}`,
    });
  } finally {
    await c.cleanup();
  }
});
