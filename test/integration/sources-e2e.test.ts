/**
 * Sources end to end, each feeding a cache served over TMS/WMTS in this process, against a real
 * upstream and real files: tile sources with `%(z)s/%(x)s/%(y)s`, `%(tms_path)s` and
 * `%(quadkey)s` URLs (bytes passed through), an `origin: nw` source grid, `bulk_meta_tiles`,
 * `file://` tiles (and the refusal of `../`), the debug source, a cache as the source of another
 * cache (same grid and a sub-grid), `min_res`/`max_res`, and a WMS with `supported_srs`
 * reprojected into GLOBAL_WEBMERCATOR (REFERENCE.md §1.3, §1.5, §2.5, §2.6, §2.14).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { startUpstream, expectedColor, pixelCenter, xyzTileBbox, FALLBACK_COLOR, MERC_MAX, type Upstream, type UpstreamBbox } from '../helpers/upstream.js';
import { tempConfig, startApp, get, type RunningApp } from '../helpers/server.js';
import { waitFor } from '../helpers/serve.js';

/** MapProxy's tc path of (x, y, z). */
function tcPath(x: number, y: number, z: number, ext = 'png'): string {
  const p3 = (n: number): string => String(n).padStart(3, '0');
  return [String(z).padStart(2, '0'), p3(Math.floor(x / 1e6)), p3(Math.floor(x / 1e3) % 1000), p3(x % 1000),
    p3(Math.floor(y / 1e6)), p3(Math.floor(y / 1e3) % 1000), `${p3(y % 1000)}.${ext}`].join('/');
}

async function pixels(body: Buffer): Promise<{ data: Buffer; width: number; channels: number }> {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, channels: info.channels };
}

function at(img: { data: Buffer; width: number; channels: number }, px: number, py: number): number[] {
  const o = (py * img.width + px) * img.channels;
  return [...img.data.subarray(o, o + img.channels)];
}

/** Check a web mercator tile against the upstream's colour function at a few pixels. */
async function assertShows(body: Buffer, bbox: UpstreamBbox, label: string): Promise<void> {
  const img = await pixels(body);
  for (const [px, py] of [[3, 3], [128, 128], [250, 250], [3, 250]]) {
    const [x, y] = pixelCenter(bbox, [256, 256], px, py);
    assert.deepEqual(at(img, px, py).slice(0, 3), expectedColor(x, y), `${label} pixel ${px},${py}`);
  }
}

/** Solid colour of pre-rendered file tile (z, x, y). */
const fileColor = (z: number, x: number, y: number): [number, number, number] => [10 + z, 20 * x + 5, 20 * y + 7];

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let app: RunningApp;

before(async () => {
  upstream = await startUpstream();
  const u = upstream.url;
  cfg = await tempConfig(`
services:
  tms:
  wmts:
layers:
${['xyz', 'tmsp', 'qk', 'nwsrc', 'jpeg', 'bulk', 'bulk2', 'files', 'escape', 'dbg', 'first', 'second', 'third', 'sub', 'ranged', 'geo']
  .map((n) => `  - name: ${n}\n    title: ${n}\n    sources: [${n}_cache]`).join('\n')}
caches:
  xyz_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [xyz]}
  tmsp_cache: {grids: [GLOBAL_MERCATOR], sources: [tmsp]}
  qk_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [qk]}
  nwsrc_cache: {grids: [GLOBAL_MERCATOR], sources: [nwsrc]}
  jpeg_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [xyz], format: image/jpeg}
  bulk_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [xyz]
    bulk_meta_tiles: true
    meta_size: [2, 2]
    concurrent_tile_creators: 4
    cache: {type: file, tile_lock_dir: ./bulk_locks}
  bulk2_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [xyz]
    bulk_meta_tiles: true
    meta_size: [2, 2]
  files_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [files]}
  escape_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [escape]}
  dbg_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [dbg]}
  first_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    meta_size: [4, 4]
    meta_buffer: 0
    image: {colors: 0}
  second_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [first_cache]
    meta_size: [2, 2]
    image: {colors: 0}
  third_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [first_cache]
    format: image/jpeg
    meta_size: [2, 2]
    meta_buffer: 0
  sub_cache:
    grids: [sub]
    sources: [first_cache]
    image: {colors: 0}
  ranged_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [ranged], meta_size: [1, 1], meta_buffer: 0}
  geo_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [geo]
    image: {colors: 0}
grids:
  merc_nw:
    base: GLOBAL_MERCATOR
    origin: nw
  sub:
    base: GLOBAL_WEBMERCATOR
    num_levels: 5
sources:
  xyz:
    type: tile
    grid: GLOBAL_WEBMERCATOR
    url: ${u}/tiles/%(z)s/%(x)s/%(y)s.png
  tmsp:
    type: tile
    grid: GLOBAL_MERCATOR
    url: ${u}/tms/%(tms_path)s.png
  qk:
    type: tile
    grid: GLOBAL_WEBMERCATOR
    url: ${u}/qk/%(quadkey)s.png
  nwsrc:
    type: tile
    grid: merc_nw
    url: ${u}/tiles/%(z)s/%(x)s/%(y)s.png
  files:
    type: tile
    grid: GLOBAL_WEBMERCATOR
    url: file://./pre/%(z)s/%(x)s/%(y)s.png
  escape:
    type: tile
    grid: GLOBAL_WEBMERCATOR
    url: file://./pre/%(z)s/../../secret/%(x)s.png
  dbg:
    type: debug
  up:
    type: wms
    req: {url: "${u}/wms?", layers: base}
  ranged:
    type: wms
    req: {url: "${u}/ranged?", layers: base}
    min_res: 50000
    max_res: 15000
  geo:
    type: wms
    req: {url: "${u}/geo?", layers: base}
    supported_srs: ['EPSG:4326']
    image: {resampling_method: nearest}
globals:
  http:
    hide_error_details: false
`);
  for (const [z, x, y] of [[2, 1, 1], [2, 2, 1]]) {
    await mkdir(join(cfg.dir, 'pre', String(z), String(x)), { recursive: true });
    const png = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: fileColor(z, x, y)[0], g: fileColor(z, x, y)[1], b: fileColor(z, x, y)[2] } } }).png().toBuffer();
    await writeFile(join(cfg.dir, 'pre', String(z), String(x), `${y}.png`), png);
  }
  await mkdir(join(cfg.dir, 'secret'));
  await writeFile(join(cfg.dir, 'secret', '1.png'), await readFile(join(cfg.dir, 'pre', '2', '1', '1.png')));
  app = await startApp(cfg.file);
});

after(async () => {
  await app?.close();
  await upstream?.close();
  await cfg?.cleanup();
});

test('tile source %(z)s/%(x)s/%(y)s: one upstream request per tile, bytes passed through and stored as received', async () => {
  upstream.reset();
  const res = await get(`${app.url}/wmts/xyz/GLOBAL_WEBMERCATOR/03/5/2.png`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.deepEqual(upstream.requests.map((r) => r.path), ['/tiles/3/5/2.png']);
  const direct = await get(`${upstream.url}/tiles/3/5/2.png`);
  // MapProxy: a tile source's bytes are stored and served as received when the format matches.
  assert.ok(res.body.equals(direct.body), 'served bytes equal the upstream bytes');
  assert.ok((await readFile(join(cfg.dir, 'cache_data', 'xyz_cache_EPSG3857', tcPath(5, 2, 3)))).equals(direct.body));
  // Another format is converted, never mislabelled.
  const jpeg = await get(`${app.url}/wmts/jpeg/GLOBAL_WEBMERCATOR/03/5/2.jpeg`);
  assert.equal(jpeg.status, 200);
  assert.equal(jpeg.headers.get('content-type'), 'image/jpeg');
  assert.deepEqual([...jpeg.body.subarray(0, 3)], [0xff, 0xd8, 0xff]);
});

test('tile source %(tms_path)s on a sw grid, %(quadkey)s, and origin nw on the source grid', async () => {
  upstream.reset();
  // TMS 2/1/1 of GLOBAL_MERCATOR is internal (1, 1, 3) (level skip), sw: the upstream /tms route
  // counts y from the south too.
  const tmsp = await get(`${app.url}/tms/1.0.0/tmsp/EPSG900913/2/1/1.png`);
  assert.equal(tmsp.status, 200);
  const qk = await get(`${app.url}/wmts/qk/GLOBAL_WEBMERCATOR/03/5/2.png`);
  assert.equal(qk.status, 200);
  // The cache is sw (GLOBAL_MERCATOR), the source grid nw: the source asks for the nw row.
  const nw = await get(`${app.url}/tms/1.0.0/nwsrc/EPSG900913/2/1/1.png`);
  assert.equal(nw.status, 200);
  // quadkey of (5, 2, 3): bits x=101, y=010 → digits 1, 2, 1.
  assert.deepEqual(upstream.requests.map((r) => r.path), ['/tms/3/1/1.png', '/qk/121.png', '/tiles/3/1/6.png']);
  await assertShows(tmsp.body, xyzTileBbox(3, 1, 1, 'sw'), 'tms_path 3/1/1');
  await assertShows(nw.body, xyzTileBbox(3, 1, 1, 'sw'), 'nw source for sw 3/1/1');
  assert.ok(nw.body.equals(tmsp.body), 'the same place through both routes');
  assert.deepEqual(at(await pixels(qk.body), 100, 100).slice(0, 3), [...FALLBACK_COLOR]);
});

test('bulk_meta_tiles: the tiles of a meta tile are fetched in parallel under one lock', async () => {
  upstream.reset();
  upstream.setDelay(400);
  const pending = get(`${app.url}/wmts/bulk/GLOBAL_WEBMERCATOR/02/1/1.png`);
  await waitFor(() => upstream.count() >= 4, 'the four tile requests at the upstream');
  const locks = await readdir(join(cfg.dir, 'bulk_locks'));
  const res = await pending;
  upstream.setDelay(0);
  assert.equal(res.status, 200);
  // MapProxy: the whole 2×2 meta tile, up to concurrent_tile_creators (4 here) single-tile
  // requests at once, one lock file.
  assert.deepEqual(upstream.requests.map((r) => r.path).sort(), ['/tiles/2/0/0.png', '/tiles/2/0/1.png', '/tiles/2/1/0.png', '/tiles/2/1/1.png']);
  assert.equal(upstream.maxInFlight, 4);
  assert.equal(locks.length, 1, `lock files while fetching: ${locks.join(', ')}`);
  // MapProxy's lock name (<md5 of the cache dir>-<x>-<y>-<z>.lck), held as proper-lockfile's
  // `.lock` directory.
  assert.match(locks[0], /^[0-9a-f]{32}-0-0-2\.lck\.lock$/);
  assert.deepEqual(await readdir(join(cfg.dir, 'bulk_locks')), [], 'the lock is gone afterwards');
  for (const [x, y] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
    const stored = await readFile(join(cfg.dir, 'cache_data', 'bulk_cache_EPSG3857', tcPath(x, y, 2)));
    assert.ok(stored.equals((await get(`${upstream.url}/tiles/2/${x}/${y}.png`)).body), `tile ${x}/${y}`);
  }
  await assertShows(res.body, xyzTileBbox(2, 1, 1), 'bulk 2/1/1');
});

test('bulk_meta_tiles fetches at most concurrent_tile_creators (default 2) tiles at once', async () => {
  upstream.reset();
  upstream.setDelay(200);
  try {
    assert.equal((await get(`${app.url}/wmts/bulk2/GLOBAL_WEBMERCATOR/02/3/3.png`)).status, 200);
  } finally {
    upstream.setDelay(0);
  }
  assert.equal(upstream.count(), 4);
  assert.equal(upstream.maxInFlight, 2);
});

test('file:// tile source: pre-rendered tiles read from disk, byte for byte; ../ escapes refused', async () => {
  upstream.reset();
  const one = await get(`${app.url}/wmts/files/GLOBAL_WEBMERCATOR/02/1/1.png`);
  assert.equal(one.status, 200);
  assert.ok(one.body.equals(await readFile(join(cfg.dir, 'pre', '2', '1', '1.png'))));
  const two = await get(`${app.url}/tms/1.0.0/files/EPSG3857/1/2/2.png`);
  assert.equal(two.status, 200);
  assert.deepEqual(at(await pixels(two.body), 7, 7), fileColor(2, 2, 1));
  // No file: a source error naming the URL (hide_error_details: false).
  const text = (body: Buffer): string | undefined => /<ows:ExceptionText>([^<]*)<\/ows:ExceptionText>/.exec(body.toString())?.[1];
  const none = await get(`${app.url}/wmts/files/GLOBAL_WEBMERCATOR/02/3/3.png`);
  assert.equal(none.status, 500);
  assert.equal(text(none.body), 'No response from URL &quot;file://./pre/2/3/3.png&quot;: No such file or directory');
  const escape = await get(`${app.url}/wmts/escape/GLOBAL_WEBMERCATOR/02/1/1.png`);
  assert.equal(escape.status, 500);
  assert.equal(escape.headers.get('content-type'), 'text/xml');
  assert.equal(text(escape.body), `refused file URL outside ${join(cfg.dir, 'pre')}: file://./pre/2/../../secret/1.png`);
  assert.equal(upstream.count(), 0);
  assert.deepEqual(await readdir(join(cfg.dir, 'cache_data')).then((d) => d.filter((n) => n.startsWith('escape'))), []);
});

test('file:// escape with hide_error_details (the default): the server path is not shown', async () => {
  const c = await tempConfig(`
services:
  tms:
layers:
  - {name: esc, title: escape, sources: [esc_cache]}
caches:
  esc_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [escape]}
sources:
  escape:
    type: tile
    grid: GLOBAL_WEBMERCATOR
    url: file://./pre/%(z)s/../../secret/%(x)s.png
`);
  const a = await startApp(c.file);
  try {
    const res = await get(`${a.url}/tms/1.0.0/esc/EPSG3857/0/0/0.png`);
    assert.equal(res.status, 500);
    assert.ok(!res.body.toString().includes(c.dir), res.body.toString());
  } finally {
    await a.close();
    await c.cleanup();
  }
});

test('debug source: a transparent tile with the bbox drawn on it, no upstream request', async () => {
  upstream.reset();
  const res = await get(`${app.url}/wmts/dbg/GLOBAL_WEBMERCATOR/02/1/1.png`);
  assert.equal(res.status, 200);
  const img = await pixels(res.body);
  assert.equal(img.channels, 4);
  let opaque = 0;
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] > 0) opaque++;
  assert.ok(opaque > 200 && opaque < 256 * 256 / 2, `drawn pixels: ${opaque}`);
  assert.equal(at(img, 128, 128)[3], 0, 'transparent between the lines');
  assert.equal(upstream.count(), 0);
});

test('a cache as the source of another cache (same grid): only the first asks the upstream', async () => {
  // MapProxy (tiled_only): same grid and format, so the second cache reads the first one's tiles
  // one by one, without meta tiles of its own that would make the first create neighbours.
  upstream.reset();
  const res = await get(`${app.url}/wmts/second/GLOBAL_WEBMERCATOR/04/5/6.png`);
  assert.equal(res.status, 200);
  // The first cache's 4×4 meta tile (4..7, 4..7) holds every tile the second one needs.
  assert.equal(upstream.count(), 1);
  assert.equal(upstream.last().path, '/wms');
  assert.equal(upstream.last().query.get('width'), '1024');
  const firstTile = await readFile(join(cfg.dir, 'cache_data', 'first_cache_EPSG3857', tcPath(5, 6, 4)));
  const secondTile = await readFile(join(cfg.dir, 'cache_data', 'second_cache_EPSG3857', tcPath(5, 6, 4)));
  assert.ok(secondTile.equals(res.body));
  assert.ok(secondTile.equals(firstTile), 'same format and grid: the tile is taken as it is');
  await assertShows(res.body, xyzTileBbox(4, 5, 6), 'second 4/5/6');
  // Neighbours inside the first cache's meta tile: still no new upstream request.
  for (const [x, y] of [[4, 4], [7, 7], [6, 5]]) {
    assert.equal((await get(`${app.url}/wmts/second/GLOBAL_WEBMERCATOR/04/${x}/${y}.png`)).status, 200);
  }
  assert.equal(upstream.count(), 1);

  // Another format: the third cache makes 2×2 meta tiles of its own, stitched from the first
  // cache's tiles, and converts them.
  const third = await get(`${app.url}/wmts/third/GLOBAL_WEBMERCATOR/04/7/5.jpeg`);
  assert.equal(third.status, 200);
  assert.equal(third.headers.get('content-type'), 'image/jpeg');
  assert.equal(upstream.count(), 1);
  assert.deepEqual((await readdir(join(cfg.dir, 'cache_data', 'third_cache_EPSG3857', '04', '000', '000'))).sort(), ['006', '007']);
  const img = await pixels(third.body);
  for (const [px, py] of [[20, 20], [128, 128], [230, 230]]) {
    const want = expectedColor(...pixelCenter(xyzTileBbox(4, 7, 5), [256, 256], px, py));
    at(img, px, py).slice(0, 3).forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 6, `third ${px},${py}: ${at(img, px, py)} vs ${want}`));
  }
});

test('a cache as the source of a cache on a sub-grid (base: GLOBAL_WEBMERCATOR, 5 levels)', async () => {
  upstream.reset();
  const res = await get(`${app.url}/wmts/sub/sub/04/9/9.png`);
  assert.equal(res.status, 200);
  assert.equal(upstream.count(), 1, 'one meta tile of the first cache');
  assert.ok((await readFile(join(cfg.dir, 'cache_data', 'first_cache_EPSG3857', tcPath(9, 9, 4)))).equals(res.body));
  assert.ok((await readFile(join(cfg.dir, 'cache_data', 'sub_cache_EPSG3857', tcPath(9, 9, 4)))).equals(res.body));
  await assertShows(res.body, xyzTileBbox(4, 9, 9), 'sub 4/9/9');
  // Level 5 is outside the sub-grid.
  assert.equal((await get(`${app.url}/wmts/sub/sub/05/0/0.png`)).status, 400);
});

test('min_res/max_res on a source: blank tiles and no upstream request outside the range', async () => {
  upstream.reset();
  // GLOBAL_WEBMERCATOR: level 1 = 78271 m/px (> min_res 50000), level 4 = 9784 (< max_res 15000).
  const outside = await Promise.all([get(`${app.url}/wmts/ranged/GLOBAL_WEBMERCATOR/01/0/0.png`), get(`${app.url}/wmts/ranged/GLOBAL_WEBMERCATOR/04/3/3.png`)]);
  assert.equal(upstream.count(), 0);
  for (const r of outside) {
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    // MapProxy: a tile without data is a transparent PNG of the tile size.
    const img = await pixels(r.body);
    for (const [px, py] of [[0, 0], [128, 128], [255, 255], [40, 200]]) assert.equal(at(img, px, py)[3], 0, `transparent at ${px},${py}`);
  }
  // Inside the range (levels 2 and 3): the upstream is asked.
  const inside = await get(`${app.url}/wmts/ranged/GLOBAL_WEBMERCATOR/02/1/1.png`);
  assert.equal(inside.status, 200);
  assert.equal(upstream.count(), 1);
  assert.equal(upstream.last().path, '/ranged');
});

test('min_res/max_res: a tile whose only source is out of range is not stored', async () => {
  const res = await get(`${app.url}/wmts/ranged/GLOBAL_WEBMERCATOR/01/1/1.png`);
  assert.equal(res.status, 200);
  assert.deepEqual(await readdir(join(cfg.dir, 'cache_data', 'ranged_cache_EPSG3857')).catch(() => []), ['02']);
});

test('supported_srs [EPSG:4326] feeding GLOBAL_WEBMERCATOR: the upstream is asked as MapProxy asks, the tile shows the right place', async () => {
  upstream.reset();
  const res = await get(`${app.url}/wmts/geo/GLOBAL_WEBMERCATOR/03/1/1.png`);
  assert.equal(res.status, 200);
  assert.equal(upstream.count(), 1);
  const q = upstream.last().query;
  assert.equal(q.get('srs'), 'EPSG:4326');
  // MapProxy 1.15 on the rig, meta tile (0..3, 0..3, 3) + 80 px buffer: bbox transformed with 16
  // points per edge, size keeps the height: 2165×1104.
  const want = [-180.0, -13.923403897723334, 14.062499999999991, 85.0511287798066];
  const got = (q.get('bbox') ?? '').split(',').map(Number);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-9, `bbox[${i}] ${v} != ${want[i]}`));
  assert.deepEqual([q.get('width'), q.get('height')], ['2165', '1104']);
  // Pixels: the colour of the EPSG:4326 cell under the pixel centre, within one pixel.
  const img = await pixels(res.body);
  const bbox = xyzTileBbox(3, 1, 1);
  const toLonLat = (x: number, y: number): [number, number] => [(x / MERC_MAX) * 180, (Math.atan(Math.sinh((y / MERC_MAX) * Math.PI)) * 180) / Math.PI];
  for (let py = 8; py < 256; py += 31) {
    for (let px = 8; px < 256; px += 31) {
      const got = at(img, px, py).slice(0, 3);
      const candidates = [];
      for (const [dx, dy] of [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1], [-1, -1], [1, 1], [-1, 1], [1, -1]]) {
        const [x, y] = pixelCenter(bbox, [256, 256], px + dx, py + dy);
        candidates.push(expectedColor(...toLonLat(x, y), 'EPSG:4326').join(','));
      }
      assert.ok(candidates.includes(got.join(',')), `pixel ${px},${py}: ${got} not in ${[...new Set(candidates)].join(' | ')}`);
    }
  }
});
