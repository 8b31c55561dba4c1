/**
 * End to end, a source's `on_error`: a colour tile instead of an error (not stored with
 * `cache: false`, stored with `cache: true`), `other` catching timeouts and non-image answers, and
 * `authorize_stale` serving the stale cached tile while the upstream fails (REFERENCE §1.3).
 * Checked against MapProxy 1.15 on the same upstream, which behaves the same except that it sends
 * non-cacheable substitutes with `Cache-Control: public, max-age=…` (§2.10 says no-cache).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertNoCache, expectedColor, listTree, metaTiles, pixels, startPipeline, tcPath, tilePixelCenter, type Pipeline,
} from './pipeline-helpers.js';

let p: Pipeline;

before(async () => {
  p = await startPipeline((url) => `
services:
  tms:
  wmts:
layers:
  - {name: red, title: red, sources: [c_red]}
  - {name: redc, title: redc, sources: [c_redc]}
  - {name: other, title: other, sources: [c_other]}
  - {name: stale, title: stale, sources: [c_stale]}
caches:
  c_red: {grids: [GLOBAL_WEBMERCATOR], sources: [s_red]}
  c_redc: {grids: [GLOBAL_WEBMERCATOR], sources: [s_redc]}
  c_other: {grids: [GLOBAL_WEBMERCATOR], sources: [s_other]}
  c_stale: {grids: [GLOBAL_WEBMERCATOR], sources: [s_stale], refresh_before: {seconds: 60}}
sources:
  s_red:
    type: wms
    req: {url: '${url}/wms?', layers: base}
    on_error:
      500: {response: '#ff0000', cache: false}
  s_redc:
    type: wms
    req: {url: '${url}/wms?', layers: base}
    on_error:
      500: {response: '#ff0000', cache: true}
  s_other:
    type: wms
    req: {url: '${url}/wms?', layers: base}
    http: {client_timeout: 1}
    on_error:
      other: {response: '#00ff00', cache: false}
  s_stale:
    type: wms
    req: {url: '${url}/wms?', layers: base}
    on_error:
      500: {response: '#0000ff', cache: false, authorize_stale: true}
globals:
  cache: {base_dir: ./cache}
`);
});
after(() => p?.close());
beforeEach(() => p.up.reset());

const dirOf = (name: string): string => join(p.dir, 'cache', `c_${name}_EPSG3857`);
const wmts = (layer: string, x: number, y: number) => p.get(`/wmts/${layer}/GLOBAL_WEBMERCATOR/09/${x}/${y}.png`);

/** The answer is a 256×256 PNG of one colour. */
async function assertSolid(body: Buffer, rgb: [number, number, number], what: string): Promise<void> {
  const img = await pixels(body);
  assert.equal(img.width, 256, what);
  assert.equal(img.height, 256, what);
  for (const [px, py] of [[0, 0], [128, 77], [255, 255]]) assert.deepEqual(img.at(px, py), [...rgb, 255], `${what} pixel ${px},${py}`);
}

test("on_error 500 with cache: false gives the colour tile, stores nothing, and asks again next time", async () => {
  p.up.fail({ kind: 'status', status: 500 });
  const res = await wmts('red', 170, 211);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  await assertSolid(res.body, [255, 0, 0], 'substitute');
  assertNoCache(res.headers, 'a substitute that is not cached');
  const tms = await p.get('/tms/1.0.0/red/EPSG3857/8/170/300.png');
  await assertSolid(tms.body, [255, 0, 0], 'TMS substitute');
  assert.equal(p.up.count(), 2);
  assert.deepEqual(await listTree(dirOf('red')), []);

  p.up.fail(null);
  const ok = await wmts('red', 170, 211);
  assert.equal(ok.status, 200);
  assert.equal(p.up.count(), 3);
  const img = await pixels(ok.body);
  assert.deepEqual(img.at(5, 5).slice(0, 3), expectedColor(...tilePixelCenter(170, 211, 9, 5, 5)), 'the real tile once the upstream is back');
  assert.equal((await listTree(dirOf('red'))).length, 16);
});

test('on_error 500 with cache: true stores the colour tiles of the whole meta tile', async () => {
  p.up.fail({ kind: 'status', status: 500 });
  const res = await wmts('redc', 170, 211);
  assert.equal(res.status, 200);
  await assertSolid(res.body, [255, 0, 0], 'substitute');
  assert.match(res.headers.get('cache-control') ?? '', /^public, max-age=\d+/);
  const tiles = metaTiles(170, 211, 9);
  assert.deepEqual(await listTree(dirOf('redc')), tiles.map((t) => tcPath(...t)).sort());
  assert.ok(res.body.equals(await readFile(join(dirOf('redc'), tcPath(170, 211, 9)))));
  p.up.fail(null);
  const hit = await wmts('redc', 168, 208);
  await assertSolid(hit.body, [255, 0, 0], 'stored substitute');
  assert.equal(p.up.count(), 1, 'served from the cache');
});

test('on_error other catches a timeout and a non-image answer', async () => {
  for (const failure of [{ kind: 'delay', ms: 3000 }, { kind: 'html' }] as const) {
    p.up.reset();
    p.up.fail(failure);
    const res = await wmts('other', 170, 211);
    assert.equal(res.status, 200, failure.kind);
    assert.equal(res.headers.get('content-type'), 'image/png');
    await assertSolid(res.body, [0, 255, 0], `${failure.kind} substitute`);
    assertNoCache(res.headers, failure.kind);
    assert.equal(p.up.count(), 1);
    assert.deepEqual(await listTree(dirOf('other')), []);
  }
  // A status without its own entry is `other` too.
  p.up.fail({ kind: 'status', status: 502 });
  await assertSolid((await wmts('other', 170, 211)).body, [0, 255, 0], '502');
});

test('authorize_stale with refresh_before: the stale tile is served while the upstream fails', async () => {
  const fresh = await wmts('stale', 170, 211);
  assert.equal(fresh.status, 200);
  assert.equal(p.up.count(), 1);
  const loc = join(dirOf('stale'), tcPath(170, 211, 9));
  const old = new Date('2020-01-01T00:00:00Z');
  await utimes(loc, old, old);

  p.up.fail({ kind: 'status', status: 500 });
  const res = await wmts('stale', 170, 211);
  assert.equal(res.status, 200);
  assert.equal(p.up.count(), 2, 'the stale tile was due: the upstream was asked');
  assert.ok(res.body.equals(fresh.body), 'the stale tile, not the on_error colour');
  // MapProxy 1.15 sends the same: the stale tile with its own date.
  assert.equal(res.headers.get('last-modified'), 'Wed, 01 Jan 2020 00:00:00 GMT');
  assert.equal((await stat(loc)).mtimeMs, old.getTime(), 'the stale tile is kept as it is');
  assert.equal((await listTree(dirOf('stale'))).length, 16);

  // No stale tile to fall back on: the on_error colour, not stored.
  const none = await wmts('stale', 0, 0);
  assert.equal(none.status, 200);
  await assertSolid(none.body, [0, 0, 255], 'substitute without a stale tile');
  assertNoCache(none.headers, 'substitute without a stale tile');
  assert.equal((await listTree(dirOf('stale'))).length, 16);

  p.up.fail(null);
  const back = await wmts('stale', 170, 211);
  assert.equal(p.up.count(), 4, 'once the upstream is back the stale tile is re-created');
  assert.ok((await stat(loc)).mtimeMs > old.getTime());
  assert.notEqual(back.headers.get('last-modified'), 'Wed, 01 Jan 2020 00:00:00 GMT');
});
