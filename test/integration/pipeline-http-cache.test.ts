/**
 * End to end, HTTP caching of tiles (REFERENCE §2.10, §6): a freshly created tile and a cache hit
 * both carry an ETag and a Last-Modified of their own (not MapProxy 1.15's md5("NoneNone")), the
 * same ones, taken from the stored file; Cache-Control max-age comes from
 * globals.tiles.expires_hours; If-None-Match and If-Modified-Since give 304; errors are no-cache.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import {
  NONE_NONE_ETAG, assertNoCache, md5, startPipeline, tcPath, type Pipeline,
} from './pipeline-helpers.js';

let p: Pipeline;

before(async () => {
  p = await startPipeline((url) => `
services:
  tms:
  wmts:
layers:
  - {name: l, title: l, sources: [c]}
caches:
  c: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}
sources:
  up:
    type: wms
    req: {url: '${url}/wms?', layers: base}
globals:
  cache: {base_dir: ./cache}
  tiles: {expires_hours: 2.5}
`);
});
after(() => p?.close());
beforeEach(() => p.up.reset());

const file = (x: number, y: number, z: number): string => join(p.dir, 'cache', 'c_EPSG3857', tcPath(x, y, z));
/** HTTP date of a file mtime (whole seconds). */
const httpDate = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toUTCString();

/** Caching headers of a cacheable tile: 2.5 h = 9000 s (MapProxy: int(expires_hours * 3600)). */
function assertCacheable(h: Headers, what: string): void {
  assert.equal(h.get('cache-control'), 'public, max-age=9000, s-maxage=9000', `${what}: Cache-Control`);
  assert.equal(h.get('pragma'), null, `${what}: no Pragma`);
  assert.equal(h.get('expires'), null, `${what}: no Expires`);
  assert.match(h.get('etag') ?? '', /^"[0-9a-f]{32}"$/, `${what}: ETag`);
}

test('a fresh tile carries its own ETag and Last-Modified, the same the following hits carry', async () => {
  const fresh = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(fresh.status, 200);
  assert.equal(p.up.count(), 1);
  assertCacheable(fresh.headers, 'fresh');
  // MapProxy 1.15 sends md5("NoneNone") and no Last-Modified for every fresh tile (§6: a bug).
  assert.notEqual(fresh.headers.get('etag'), `"${NONE_NONE_ETAG}"`);
  const st = await stat(file(170, 211, 9));
  assert.equal(fresh.headers.get('last-modified'), httpDate(st.mtimeMs), 'Last-Modified = the stored file mtime');

  const hit = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(hit.status, 200);
  assert.equal(p.up.count(), 1);
  assertCacheable(hit.headers, 'hit');
  assert.ok(hit.body.equals(fresh.body));
  assert.equal(hit.headers.get('etag'), fresh.headers.get('etag'), 'the hit has the ETag the fresh answer had');
  assert.equal(hit.headers.get('last-modified'), fresh.headers.get('last-modified'));
  // The same tile through TMS is the same resource.
  const tms = await p.get('/tms/1.0.0/l/EPSG3857/8/170/300.png');
  assert.equal(tms.headers.get('etag'), fresh.headers.get('etag'));

  // A neighbour created by the same meta tile but never served yet: its own file's headers.
  const nb = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/168/208.png');
  assert.equal(nb.headers.get('last-modified'), httpDate((await stat(file(168, 208, 9))).mtimeMs));
});

test('a client revalidating a fresh tile with its ETag or date gets 304 without a body', async () => {
  const fresh = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/100/100.png');
  assert.equal(fresh.status, 200);
  const etag = fresh.headers.get('etag') as string;
  const lastModified = fresh.headers.get('last-modified') as string;

  const byTag = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/100/100.png', { 'If-None-Match': etag });
  assert.equal(byTag.status, 304, 'If-None-Match with the ETag of the fresh answer');
  assert.equal(byTag.body.length, 0);
  assert.equal(byTag.headers.get('content-type'), null, 'a 304 has no Content-Type');
  assert.equal(byTag.headers.get('etag'), etag);
  assert.equal(byTag.headers.get('cache-control'), 'public, max-age=9000, s-maxage=9000');

  const listed = await p.get('/tms/1.0.0/l/EPSG3857/8/100/411.png', { 'If-None-Match': `"0000", ${etag}` });
  assert.equal(listed.status, 304, 'an ETag in a list');

  const other = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/100/100.png', { 'If-None-Match': `"${NONE_NONE_ETAG}"` });
  assert.equal(other.status, 200, "MapProxy 1.15's fixed fresh-tile ETag matches nothing");
  assert.ok(other.body.equals(fresh.body));

  // §6: MapProxy 1.15 answers 200 to its own Last-Modified; whole seconds are compared here.
  const byDate = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/100/100.png', { 'If-Modified-Since': lastModified });
  assert.equal(byDate.status, 304, 'If-Modified-Since = Last-Modified');
  assert.equal(byDate.body.length, 0);
  const earlier = new Date(Date.parse(lastModified) - 3_600_000).toUTCString();
  const changed = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/100/100.png', { 'If-Modified-Since': earlier });
  assert.equal(changed.status, 200, 'If-Modified-Since an hour before the tile');
  assert.ok(changed.body.equals(fresh.body));
  assert.equal(p.up.count(), 1);
});

test('a re-created tile has a new ETag: the old one no longer gives 304', async () => {
  const first = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/60/60.png');
  const old = first.headers.get('etag') as string;
  // Another version of the file (as a seeder or another host would write it).
  await utimes(file(60, 60, 9), new Date('2024-05-01T10:00:00Z'), new Date('2024-05-01T10:00:00Z'));
  const res = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/60/60.png', { 'If-None-Match': old });
  assert.equal(res.status, 200);
  assert.notEqual(res.headers.get('etag'), old);
  assert.equal(res.headers.get('last-modified'), 'Wed, 01 May 2024 10:00:00 GMT');
});

test('errors carry no-cache headers and no validators', async () => {
  p.up.fail({ kind: 'status', status: 500 });
  const wmts = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/10/10.png');
  assert.equal(wmts.status, 500);
  assertNoCache(wmts.headers, 'WMTS source error');
  const tms = await p.get('/tms/1.0.0/l/EPSG3857/8/10/10.png');
  assert.equal(tms.status, 500);
  assertNoCache(tms.headers, 'TMS source error');
  p.up.fail(null);
  const range = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/600/10.png');
  assert.equal(range.status, 400);
  assertNoCache(range.headers, 'WMTS out of range');
  const conditional = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/600/10.png', { 'If-None-Match': '*' });
  assert.equal(conditional.status, 400, 'a conditional request never turns an error into 304');
});

test('the ETag of a stored tile is MapProxy\'s md5(str(st_mtime) + str(size)), to the nanosecond', async () => {
  await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/200/200.png');
  const f = file(200, 200, 9);
  // Node's utimes truncates this to 1700000000.246913000 s.
  await utimes(f, 1700000000.246914, 1700000000.246914);
  const ns = (await stat(f, { bigint: true })).mtimeNs;
  assert.equal(ns, 1700000000246913000n, 'the file system keeps the time');
  // Python: st_mtime = sec + nsec * 1e-9 as a double; str() is its shortest repr.
  const stMtime = Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) * 1e-9;
  assert.equal(String(stMtime), '1700000000.246913');
  const size = (await stat(f)).size;
  const res = await p.get('/wmts/l/GLOBAL_WEBMERCATOR/09/200/200.png');
  assert.equal(res.headers.get('etag'), `"${md5(`1700000000.246913${size}`)}"`);
});
