/**
 * End to end, meta tiles: one tile request through WMTS REST or TMS makes exactly the upstream
 * GetMap MapProxy 1.15 makes (checked against the rig's "Tile miss" sample and the real MapProxy),
 * stores all tiles of the meta tile at their tc paths, serves the neighbours without another
 * upstream request, and every answer is the stored file and shows the right place.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  META_9_170_211_BBOX, expectedColor, getMapQuery, listTree, metaTiles, pixels, startPipeline, tcPath,
  tilePixelCenter, type Pipeline,
} from './pipeline-helpers.js';

let p: Pipeline;

before(async () => {
  // One cache per test, so each starts cold; colors: 0 keeps pixels exact for the colour checks.
  const caches = ['wmts9', 'tms9', 'corner', 'level1']
    .map((n) => `  c_${n}:\n    grids: [GLOBAL_WEBMERCATOR]\n    sources: [up]\n${n === 'corner' || n === 'level1' ? '    image: {colors: 0}\n' : ''}`)
    .join('');
  const layers = ['wmts9', 'tms9', 'corner', 'level1'].map((n) => `  - {name: ${n}, title: ${n}, sources: [c_${n}]}\n`).join('');
  p = await startPipeline((url) => `
services:
  tms:
  wmts:
layers:
${layers}caches:
${caches}sources:
  up:
    type: wms
    req:
      url: ${url}/wms?
      layers: base
globals:
  cache:
    base_dir: ./cache
`);
});
after(() => p?.close());
beforeEach(() => p.up.reset());

const cacheDir = (name: string): string => join(p.dir, 'cache', `c_${name}_EPSG3857`);

/** Every tile of the list is stored at its tc path, and nothing else is in the cache dir. */
async function assertStoredExactly(name: string, tiles: Array<[number, number, number]>): Promise<void> {
  assert.deepEqual(await listTree(cacheDir(name)), tiles.map(([x, y, z]) => tcPath(x, y, z)).sort(), `files of c_${name}`);
}

/** Each tile shows the upstream's colour at its own place (so the meta tile was cut right). */
async function assertShowsPlace(body: Buffer, [x, y, z]: [number, number, number]): Promise<void> {
  const img = await pixels(body);
  assert.equal(img.width, 256);
  assert.equal(img.height, 256);
  for (const [px, py] of [[0, 0], [37, 201], [128, 128], [255, 0], [0, 255], [255, 255]]) {
    const [mx, my] = tilePixelCenter(x, y, z, px, py);
    assert.deepEqual(img.at(px, py), [...expectedColor(mx, my), 255], `tile ${z}/${x}/${y} pixel ${px},${py}`);
  }
}

test('WMTS REST: a level 9 tile makes the one GetMap MapProxy makes and stores its 16-tile meta tile', async () => {
  const res = await p.get('/wmts/wmts9/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  // MapProxy 1.15 (rig sample "Tile miss"): the req params first, then the GetMap params.
  assert.equal(p.up.count(), 1);
  assert.equal(p.up.last().method, 'GET');
  assert.equal(p.up.last().path, '/wms');
  assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184));
  const tiles = metaTiles(170, 211, 9);
  assert.deepEqual(tiles.map(([x, y]) => `${x}/${y}`).slice(0, 5), ['168/208', '169/208', '170/208', '171/208', '168/209']);
  await assertStoredExactly('wmts9', tiles);
  assert.ok(res.body.equals(await readFile(join(cacheDir('wmts9'), tcPath(170, 211, 9)))), 'answer = stored file');
  // The neighbours come from the cache: no further upstream request, each answer is its file.
  for (const [x, y, z] of tiles) {
    const r = await p.get(`/wmts/wmts9/GLOBAL_WEBMERCATOR/09/${x}/${y}.png`);
    assert.equal(r.status, 200, `${x}/${y}`);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.ok(r.body.equals(await readFile(join(cacheDir('wmts9'), tcPath(x, y, z)))), `answer ${x}/${y} = stored file`);
    await assertShowsPlace(r.body, [x, y, z]);
  }
  assert.equal(p.up.count(), 1, 'no upstream request for the neighbours');
});

test('TMS: /tms/1.0.0/<layer>/EPSG3857/8/170/300.png is the same tile: same GetMap, same files', async () => {
  // MapProxy: the global-mercator profile skips level 0 and counts rows from the south, so TMS
  // 8/170/300 is internal (170, 2^9-1-300 = 211, 9).
  const res = await p.get('/tms/1.0.0/tms9/EPSG3857/8/170/300.png');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.equal(p.up.count(), 1);
  assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184));
  const tiles = metaTiles(170, 211, 9);
  await assertStoredExactly('tms9', tiles);
  assert.ok(res.body.equals(await readFile(join(cacheDir('tms9'), tcPath(170, 211, 9)))));
  for (const [x, y, z] of tiles) {
    const r = await p.get(`/tms/1.0.0/tms9/EPSG3857/8/${x}/${511 - y}.png`);
    assert.equal(r.status, 200, `${x}/${y}`);
    assert.ok(r.body.equals(await readFile(join(cacheDir('tms9'), tcPath(x, y, z)))), `TMS ${x}/${511 - y} = stored ${x}/${y}`);
    // The same tile through WMTS is the same bytes.
    const w = await p.get(`/wmts/tms9/GLOBAL_WEBMERCATOR/09/${x}/${y}.png`);
    assert.ok(w.body.equals(r.body), `WMTS ${x}/${y} = TMS`);
  }
  assert.equal(p.up.count(), 1, 'no upstream request for the neighbours');
});

test('level 3: a corner meta tile is clamped to the grid and requested at 1104×1104', async () => {
  // MapProxy 1.15 (run on the same upstream): the buffer shrinks to 0 on the clamped sides.
  const res = await p.get('/wmts/corner/GLOBAL_WEBMERCATOR/03/1/2.png');
  assert.equal(res.status, 200);
  assert.equal(p.up.count(), 1);
  assert.equal(p.up.last().rawQuery,
    getMapQuery('-20037508.342789244,-1565430.3392804088,1565430.3392804088,20037508.342789244', 1104, 1104));
  const tiles = metaTiles(0, 0, 3);
  await assertStoredExactly('corner', tiles);
  for (const t of tiles) {
    const data = await readFile(join(cacheDir('corner'), tcPath(...t)));
    await assertShowsPlace(data, t);
  }
  // The opposite corner, through TMS (level 3 = TMS 2, row 7-7 = 0).
  p.up.reset();
  const far = await p.get('/tms/1.0.0/corner/EPSG3857/2/7/0.png');
  assert.equal(far.status, 200);
  assert.equal(p.up.count(), 1);
  assert.equal(p.up.last().rawQuery,
    getMapQuery('-1565430.3392804097,-20037508.342789244,20037508.342789244,1565430.3392804097', 1104, 1104));
  await assertStoredExactly('corner', [...tiles, ...metaTiles(7, 7, 3)]);
  await assertShowsPlace(far.body, [7, 7, 3]);
});

test('level 1: the whole level is one 2×2 meta tile of 512×512 without buffer', async () => {
  const res = await p.get('/wmts/level1/GLOBAL_WEBMERCATOR/01/1/0.png');
  assert.equal(res.status, 200);
  assert.equal(p.up.count(), 1);
  assert.equal(p.up.last().rawQuery,
    getMapQuery('-20037508.342789244,-20037508.342789244,20037508.342789244,20037508.342789244', 512, 512));
  const tiles = metaTiles(0, 0, 1);
  assert.equal(tiles.length, 4);
  await assertStoredExactly('level1', tiles);
  for (const t of tiles) {
    const r = await p.get(`/wmts/level1/GLOBAL_WEBMERCATOR/01/${t[0]}/${t[1]}.png`);
    assert.ok(r.body.equals(await readFile(join(cacheDir('level1'), tcPath(...t)))));
    await assertShowsPlace(r.body, t);
  }
  assert.equal(p.up.count(), 1);
});

test('16 concurrent requests for the tiles of one cold meta tile (WMTS and TMS mixed) cause one GetMap', async () => {
  p.up.setDelay(200);
  const tiles = metaTiles(101, 102, 9);
  const answers = await Promise.all(tiles.map(([x, y], i) => (i % 2 === 0
    ? p.get(`/wmts/wmts9/GLOBAL_WEBMERCATOR/09/${x}/${y}.png`)
    : p.get(`/tms/1.0.0/wmts9/EPSG3857/8/${x}/${511 - y}.png`))));
  p.up.setDelay(0);
  assert.equal(p.up.count(), 1);
  for (const [i, [x, y, z]] of tiles.entries()) {
    assert.equal(answers[i].status, 200);
    assert.ok(answers[i].body.equals(await readFile(join(cacheDir('wmts9'), tcPath(x, y, z)))), `answer ${x}/${y} = stored file`);
    await assertShowsPlace(answers[i].body, [x, y, z]);
  }
});
