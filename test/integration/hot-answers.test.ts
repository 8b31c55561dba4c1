/**
 * The router's replay of hot tile answers (src/app/hot-answers.ts), end to end with a real
 * upstream, real tile files and the app on 127.0.0.1: a replayed answer is byte for byte the one
 * the full path gives; it is never older than the memory tier's revalidate bound allows; requests
 * that the replay must not answer (conditional, HEAD, another X-Script-Name) take the full path;
 * replays count in the metrics like any hit.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startPipeline, tcPath, type Pipeline } from './pipeline-helpers.js';
import { parseSamples, sample } from './metrics-helpers.js';
import { laneYaml } from '../helpers/lane-pair.js';

let p: Pipeline;
// The tier's bound: a tile changed on disk may be served from memory for at most this long.
const REVALIDATE_MS = 400;

before(async () => {
  p = await startPipeline((url) => laneYaml(url, `max_mb: 32, open_files: 0, revalidate_seconds: ${REVALIDATE_MS / 1000}`, ['tms', 'wmts']));
});
after(() => p?.close());
beforeEach(() => p.up.reset());

/**
 * TMS tile (x, y) at TMS level 5 = grid level 6 (64 tiles a side; /tms counts y from the south):
 * its URL and its file. Tests use x far apart, so no two share a 4x4 meta tile.
 */
function tile(x: number, y: number): { url: string; file: string } {
  return { url: `/tms/1.0.0/l/EPSG3857/5/${x}/${y}.png`, file: join(p.dir, 'cache', 'c_EPSG3857', tcPath(x, 63 - y, 6)) };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every header but Date (which Node sets per answer), as sorted pairs. */
function headersOf(h: Headers): Array<[string, string]> {
  return [...h.entries()].filter(([k]) => k !== 'date').sort(([a], [b]) => a.localeCompare(b));
}

/** Replace a tile file as another process or host would (temp file + rename). */
async function replaceOnDisk(path: string, data: Buffer): Promise<void> {
  await writeFile(path + '.new', data);
  await rename(path + '.new', path);
}

async function cacheHits(): Promise<number> {
  const m = await p.get('/metrics');
  return sample(parseSamples(m.body.toString()), 'mapproxy_cache_hits_total', { cache: 'c' });
}

test('a replayed answer has the same status, headers and bytes as the full path', async () => {
  const { url } = tile(1, 1);
  const created = await p.get(url);
  assert.equal(created.status, 200);
  assert.equal(created.headers.get('x-cache'), 'MISS');
  const fromTier = await p.get(url); // full path, from the memory tier: remembered for replay
  const replayed = await p.get(url);
  assert.equal(fromTier.headers.get('x-cache'), 'HIT');
  assert.equal(replayed.status, 200);
  assert.deepEqual(headersOf(replayed.headers), headersOf(fromTier.headers));
  assert.deepEqual(replayed.body, fromTier.body);
  assert.deepEqual(replayed.body, created.body);
  assert.equal(p.up.count('/wms'), 1);
});

test('a tile rewritten on disk is served new once the revalidate bound has passed', async () => {
  const { url, file: loc } = tile(9, 1);
  const first = await p.get(url);
  await p.get(url);
  await p.get(url);
  const newBytes = Buffer.concat([first.body]); // same image, new file: a new inode and mtime
  await replaceOnDisk(loc, newBytes);
  await sleep(REVALIDATE_MS + 200);
  const after = await p.get(url);
  assert.equal(after.status, 200);
  assert.deepEqual(after.body, newBytes);
  // The file's new mtime gives a new ETag: proof the answer was built from the new file.
  assert.notEqual(after.headers.get('etag'), first.headers.get('etag'));
});

test('a tile removed on disk is created again once the bound has passed, not replayed', async () => {
  const { url, file: loc } = tile(17, 1);
  await p.get(url);
  await p.get(url);
  await p.get(url);
  assert.equal(p.up.count('/wms'), 1);
  await rm(loc);
  await sleep(REVALIDATE_MS + 200);
  const again = await p.get(url);
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('x-cache'), 'MISS');
  assert.equal(p.up.count('/wms'), 2);
});

test('conditional requests and HEAD take the full path; a hot URL under another X-Script-Name is not replayed', async () => {
  const { url } = tile(25, 1);
  await p.get(url);
  const hit = await p.get(url);
  const etag = hit.headers.get('etag') ?? '';
  assert.equal((await p.get(url, { 'If-None-Match': etag })).status, 304);
  assert.equal((await p.get(url, { 'If-Modified-Since': hit.headers.get('last-modified') ?? '' })).status, 304);
  // The same target with a script name strips it and serves the tile; without it, it is a 404.
  const prefixed = `/mapproxy${url}`;
  assert.equal((await p.get(prefixed, { 'X-Script-Name': '/mapproxy' })).status, 200);
  assert.equal((await p.get(prefixed, { 'X-Script-Name': '/mapproxy' })).status, 200);
  assert.equal((await p.get(prefixed)).status, 404);
  const head = await fetch(p.url + url, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(hit.body.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('replayed answers count as cache hits in the metrics', async () => {
  const { url } = tile(33, 1);
  await p.get(url); // miss
  const before = await cacheHits();
  for (let i = 0; i < 5; i++) assert.equal((await p.get(url)).status, 200);
  assert.equal(await cacheHits(), before + 5);
});

test('a tile written into an empty cache by another process is served from it, then replayed', async () => {
  const source = await p.get(tile(41, 1).url);
  assert.equal(p.up.count('/wms'), 1);
  const { url, file: loc } = tile(49, 1);
  await mkdir(dirname(loc), { recursive: true });
  await writeFile(loc, source.body);
  const a = await p.get(url);
  const b = await p.get(url);
  const c = await p.get(url);
  assert.equal(a.headers.get('x-cache'), 'HIT');
  for (const r of [a, b, c]) assert.deepEqual(r.body, source.body);
  assert.equal(p.up.count('/wms'), 1);
});
