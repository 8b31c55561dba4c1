/**
 * End to end, how tiles are stored: disable_storage, link_single_color_images (relative symlinks
 * into single_color_tiles), refresh_before, cache coverage, file and directory permissions, every
 * directory_layout at MapProxy's path, use_grid_names, cache.directory, and tiles found corrupt
 * or empty on disk. Paths and link targets were checked against MapProxy 1.15 on the same upstream.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile, readlink, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  META_9_170_211_BBOX, exists, expectedColor, getMapQuery, isCompletePng, listDirs, listTree, metaTiles, pixels,
  startPipeline, tcPath, tilePixelCenter, type Pipeline,
} from './pipeline-helpers.js';

let p: Pipeline;

const LAYOUTS = ['mp', 'tms', 'reverse_tms', 'quadkey', 'arcgis'] as const;
const CACHES: Record<string, string> = {
  nostore: 'disable_storage: true',
  link: 'link_single_color_images: true',
  refresh: 'refresh_before: {seconds: 60}',
  cov: 'cache: {type: file, coverage: {bbox: [-10, -10, 10, 10], srs: "EPSG:4326"}}',
  perm: "cache: {type: file, directory_permissions: '750', file_permissions: '640'}",
  ugn: 'cache: {type: file, use_grid_names: true}',
  dir: 'cache: {type: file, directory: ./custom/tiles}',
  corrupt: 'image: {colors: 0}',
  ...Object.fromEntries(LAYOUTS.map((l) => [l, `cache: {type: file, directory_layout: ${l}}`])),
};

before(async () => {
  const names = Object.keys(CACHES);
  p = await startPipeline((url) => `
services:
  tms:
  wmts:
layers:
${names.map((n) => `  - {name: ${n}, title: ${n}, sources: [c_${n}]}\n`).join('')}caches:
${names.map((n) => `  c_${n}: {grids: [GLOBAL_WEBMERCATOR], sources: [up], ${CACHES[n]}}\n`).join('')}sources:
  up:
    type: wms
    req: {url: '${url}/wms?', layers: base}
globals:
  cache: {base_dir: ./cache, tile_lock_dir: ./locks}
`);
});
after(() => p?.close());
beforeEach(() => p.up.reset());

const base = (): string => join(p.dir, 'cache');
const dirOf = (name: string): string => join(base(), `c_${name}_EPSG3857`);
const wmts = (layer: string, x: number, y: number, z = 9) => p.get(`/wmts/${layer}/GLOBAL_WEBMERCATOR/${String(z).padStart(2, '0')}/${x}/${y}.png`);

test('disable_storage: nothing is stored or locked, the upstream is asked on every request', async () => {
  const a = await wmts('nostore', 170, 211);
  const b = await wmts('nostore', 170, 211);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(a.headers.get('content-type'), 'image/png');
  assert.ok(a.body.equals(b.body));
  assert.equal(p.up.count(), 2);
  // MapProxy still fetches the whole meta tile, it just keeps none of it.
  for (const r of p.up.requests) assert.equal(r.rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184));
  const img = await pixels(a.body);
  assert.deepEqual(img.at(9, 9).slice(0, 3), expectedColor(...tilePixelCenter(170, 211, 9, 9, 9)));
  assert.equal(await exists(dirOf('nostore')), false, 'no cache directory');
  assert.deepEqual(await listTree(join(p.dir, 'locks')), []);
});

test('link_single_color_images: single-colour tiles become relative symlinks to one file per colour', async () => {
  // Level 9 column 166 holds the border between the upstream's cells x = -8e6… and -7e6…:
  // columns 164-165 are one colour, 166 two, 167 another single colour.
  const res = await wmts('link', 166, 211);
  assert.equal(res.status, 200);
  assert.equal(p.up.count(), 1);
  const hex = (x: number) => expectedColor(...tilePixelCenter(x, 211, 9, 128, 128)).map((v) => v.toString(16).padStart(2, '0')).join('');
  assert.equal(hex(164), '080d2f');
  assert.equal(hex(167), '370d3c');
  const dir = dirOf('link');
  for (const [x, y, z] of metaTiles(166, 211, 9)) {
    const loc = join(dir, tcPath(x, y, z));
    const st = await lstat(loc);
    if (x === 166) {
      assert.ok(st.isFile(), `${x}/${y} has two colours: a file`);
      continue;
    }
    assert.ok(st.isSymbolicLink(), `${x}/${y}: a symlink`);
    // MapProxy 1.15 writes exactly this link text.
    assert.equal(await readlink(loc), `../../../../../../single_color_tiles/${hex(x)}.png`, `${x}/${y}: link target`);
  }
  assert.deepEqual(await listTree(join(dir, 'single_color_tiles')), ['080d2f.png', '370d3c.png']);
  const shared = await readFile(join(dir, 'single_color_tiles', '370d3c.png'));
  const img = await pixels(shared);
  assert.equal(img.width, 256);
  for (const [px, py] of [[0, 0], [255, 255], [17, 140]]) assert.deepEqual(img.at(px, py), [0x37, 0x0d, 0x3c, 255]);
  // Served through the link, from the cache.
  const hit = await wmts('link', 167, 208);
  assert.equal(hit.status, 200);
  assert.ok(hit.body.equals(shared));
  const two = await wmts('link', 166, 209);
  assert.ok(two.body.equals(await readFile(join(dir, tcPath(166, 209, 9)))));
  assert.equal(p.up.count(), 1);
});

test('refresh_before: an old tile is re-created, a fresh one is not', async () => {
  // The meta tile is made by a neighbour's request, so no answer of this process has read the
  // tile we age below (a read would keep it in the memory tier for up to a second).
  await wmts('refresh', 171, 208);
  await wmts('refresh', 171, 208);
  assert.equal(p.up.count(), 1, 'a fresh tile is served from the cache');
  const loc = join(dirOf('refresh'), tcPath(170, 211, 9));
  const old = new Date(Date.now() - 2 * 3600_000);
  await utimes(loc, old, old);
  const res = await wmts('refresh', 170, 211);
  assert.equal(res.status, 200);
  assert.equal(p.up.count(), 2, 'the old tile was re-created');
  assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184), 'by its meta tile');
  const st = await stat(loc);
  assert.ok(st.mtimeMs > old.getTime() + 3600_000, 'the file was written again');
  assert.ok(res.body.equals(await readFile(loc)));
  await wmts('refresh', 170, 211);
  await wmts('refresh', 168, 209);
  assert.equal(p.up.count(), 2);
});

test('cache coverage: a tile outside is a transparent tile, never requested or stored', async () => {
  for (const path of ['/wmts/cov/GLOBAL_WEBMERCATOR/09/170/211.png', '/tms/1.0.0/cov/EPSG3857/8/170/300.png']) {
    const res = await p.get(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const img = await pixels(res.body);
    assert.equal(img.width, 256);
    assert.equal(img.height, 256);
    for (const [px, py] of [[0, 0], [128, 128], [255, 255]]) assert.equal(img.at(px, py)[3], 0, `${path}: transparent`);
  }
  assert.equal(p.up.count(), 0);
  assert.deepEqual(await listTree(dirOf('cov')), []);
  // Inside (around 0°/0°) tiles are made as usual.
  const inside = await wmts('cov', 256, 256);
  assert.equal(inside.status, 200);
  assert.equal(p.up.count(), 1);
  assert.equal((await listTree(dirOf('cov'))).length, 16);
});

test('file_permissions and directory_permissions are the exact modes of new files and directories', async () => {
  assert.equal((await wmts('perm', 170, 211)).status, 200);
  const files = await listTree(dirOf('perm'));
  assert.equal(files.length, 16);
  for (const f of files) assert.equal((await stat(join(dirOf('perm'), f))).mode & 0o7777, 0o640, f);
  const dirs = await listDirs(dirOf('perm'));
  assert.equal(dirs.length, 1 + 6 + 3 * 3, 'the cache dir, the level and x path, and three y paths per x');
  for (const d of dirs) assert.equal((await stat(d)).mode & 0o7777, 0o750, d);
});

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
/** MapProxy's paths (REFERENCE §2.6; checked on 1.15 for tile 170/211/9). */
const LAYOUT_PATH: Record<(typeof LAYOUTS)[number], (x: number, y: number, z: number) => string> = {
  mp: (x, y, z) => `${pad(z, 2)}/${pad(Math.floor(x / 1e4), 4)}/${pad(x % 1e4, 4)}/${pad(Math.floor(y / 1e4), 4)}/${pad(y % 1e4, 4)}.png`,
  tms: (x, y, z) => `${z}/${x}/${y}.png`,
  reverse_tms: (x, y, z) => `${y}/${x}/${z}.png`,
  quadkey: (x, y, z) => {
    let key = '';
    for (let i = z; i > 0; i--) key += String(((x >> (i - 1)) & 1) + 2 * ((y >> (i - 1)) & 1));
    return `${key}.png`;
  },
  arcgis: (x, y, z) => `L${pad(z, 2)}/R${hex8(y)}/C${hex8(x)}.png`,
};

for (const layout of LAYOUTS) {
  test(`directory_layout ${layout}: the meta tile lands at MapProxy's paths`, async () => {
    const res = await wmts(layout, 170, 211);
    assert.equal(res.status, 200);
    const want = metaTiles(170, 211, 9).map((t) => LAYOUT_PATH[layout](...t)).sort();
    assert.deepEqual(await listTree(dirOf(layout)), want);
    assert.ok(res.body.equals(await readFile(join(dirOf(layout), LAYOUT_PATH[layout](170, 211, 9)))));
    const hit = await p.get(`/tms/1.0.0/${layout}/EPSG3857/8/169/302.png`);
    assert.ok(hit.body.equals(await readFile(join(dirOf(layout), LAYOUT_PATH[layout](169, 209, 9)))));
    assert.equal(p.up.count(), 1);
  });
}

test('the layouts give the paths MapProxy 1.15 gave for tile 170/211/9', () => {
  assert.equal(LAYOUT_PATH.mp(170, 211, 9), '09/0000/0170/0000/0211.png');
  assert.equal(LAYOUT_PATH.tms(170, 211, 9), '9/170/211.png');
  assert.equal(LAYOUT_PATH.reverse_tms(170, 211, 9), '211/170/9.png');
  assert.equal(LAYOUT_PATH.quadkey(170, 211, 9), '032121032.png');
  assert.equal(LAYOUT_PATH.arcgis(170, 211, 9), 'L09/R000000d3/C000000aa.png');
});

test('use_grid_names: <base_dir>/<cache>/<grid name>; cache.directory: exactly that directory', async () => {
  assert.equal((await wmts('ugn', 170, 211)).status, 200);
  assert.equal((await listTree(join(base(), 'c_ugn', 'GLOBAL_WEBMERCATOR'))).length, 16);
  assert.ok(await exists(join(base(), 'c_ugn', 'GLOBAL_WEBMERCATOR', tcPath(170, 211, 9))));
  assert.equal(await exists(dirOf('ugn')), false);

  const res = await wmts('dir', 170, 211);
  assert.equal(res.status, 200);
  const custom = join(p.dir, 'custom', 'tiles');
  assert.deepEqual((await listTree(custom)).filter((f) => !f.startsWith('tile_locks')),
    metaTiles(170, 211, 9).map((t) => tcPath(...t)).sort());
  assert.ok(res.body.equals(await readFile(join(custom, tcPath(170, 211, 9)))));
  assert.equal(await exists(dirOf('dir')), false);
});

for (const damage of ['half a PNG', 'an empty file'] as const) {
  test(`a tile file holding ${damage} is removed and re-created from the upstream`, async () => {
    const x = damage === 'an empty file' ? 174 : 170;
    const first = await wmts('corrupt', x, 211);
    assert.equal(first.status, 200);
    assert.equal(p.up.count(), 1);
    const loc = join(dirOf('corrupt'), tcPath(x, 211, 9));
    if (damage === 'an empty file') await truncate(loc, 0);
    else await writeFile(loc, first.body.subarray(0, Math.floor(first.body.length / 2)));

    const res = await wmts('corrupt', x, 211);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(p.up.count(), 2, 'the tile was fetched again');
    assert.ok(isCompletePng(res.body), 'a whole PNG is served');
    const stored = await readFile(loc);
    assert.ok(isCompletePng(stored), 'a whole PNG is stored');
    assert.ok(res.body.equals(stored));
    assert.ok(res.body.equals(first.body), 'the same tile as before');
    const img = await pixels(res.body);
    assert.deepEqual(img.at(200, 50), [...expectedColor(...tilePixelCenter(x, 211, 9, 200, 50)), 255]);
    assert.equal((await listTree(dirOf('corrupt'))).filter((f) => f.startsWith(`09/000/000/${pad(x, 3)}`)).length, 4);
  });
}
