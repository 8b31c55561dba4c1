/**
 * Lock proof (issue acceptance 3): four separate mapproxy-ts processes share one cache and one
 * lock dir. 64 concurrent requests for the 16 tiles of one uncached meta tile cause exactly one
 * upstream request and 64 identical-per-tile answers, equal to the stored file and showing the
 * right place; repeated for 10 meta tiles. A process SIGKILLed while it holds a meta tile's lock
 * delays that meta tile by no more than the stale timeout and leaves no partial file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { startUpstream, expectedColor, pixelCenter, type Upstream } from '../helpers/upstream.js';
import { tempConfig, startServerProcess, get, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/serve.js';
import { LOCK_STALE_MS } from '../../src/config/build.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let servers: ServerProcess[] = [];

const LEVEL = 6;
const TILE_EXTENT = (2 * 20037508.342789244) / 2 ** LEVEL;

/** The tc path MapProxy uses for (x, y, z). */
function tcPath(x: number, y: number, z: number): string {
  const p3 = (n: number) => String(n).padStart(3, '0');
  return [String(z).padStart(2, '0'), p3(Math.floor(x / 1e6)), p3(Math.floor(x / 1e3) % 1000), p3(x % 1000),
    p3(Math.floor(y / 1e6)), p3(Math.floor(y / 1e3) % 1000), `${p3(y % 1000)}.png`].join('/');
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(`
services:
  wmts:
layers:
  - name: proof
    title: lock proof
    sources: [proof_cache]
caches:
  proof_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    format: image/png
    image:
      colors: 0
sources:
  up:
    type: wms
    req:
      url: ${upstream.url}/wms?
      layers: base
globals:
  http:
    client_timeout: 30
  cache:
    base_dir: ./cache
    lock_dir: ./locks
    tile_lock_dir: ./tile_locks
`);
  servers = await Promise.all([0, 1, 2, 3].map(() => startServerProcess(cfg.file)));
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await upstream?.close();
  await cfg?.cleanup();
});

test('64 concurrent requests across 4 processes cause one upstream request per meta tile, 10 times', async () => {
  // Slow the upstream so that every request arrives while the meta tile is being made.
  upstream.setDelay(300);
  for (let m = 0; m < 10; m++) {
    const before = upstream.count();
    const x0 = 4 * m;
    const y0 = 8;
    const tiles: Array<[number, number]> = [];
    for (let dx = 0; dx < 4; dx++) for (let dy = 0; dy < 4; dy++) tiles.push([x0 + dx, y0 + dy]);
    const requests = [];
    for (let i = 0; i < 64; i++) {
      const [x, y] = tiles[i % 16];
      const server = servers[Math.floor(i / 16)];
      requests.push(get(`${server.url}/wmts/proof/GLOBAL_WEBMERCATOR/${String(LEVEL).padStart(2, '0')}/${x}/${y}.png`));
    }
    const answers = await Promise.all(requests);
    assert.equal(upstream.count() - before, 1, `meta tile ${m}: upstream requests`);
    for (let i = 0; i < 64; i++) {
      const [x, y] = tiles[i % 16];
      assert.equal(answers[i].status, 200, `meta tile ${m}, tile ${x}/${y}`);
      const stored = await readFile(join(cfg.dir, 'cache', 'proof_cache_EPSG3857', tcPath(x, y, LEVEL)));
      assert.ok(stored.equals(answers[i].body), `answer ${i} equals the stored tile ${x}/${y}`);
    }
    // The reference: each tile shows the upstream's colour at its own place.
    for (const [x, y] of tiles) {
      const body = answers[tiles.findIndex((t) => t[0] === x && t[1] === y)].body;
      const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
      const bbox = [-20037508.342789244 + x * TILE_EXTENT, 20037508.342789244 - (y + 1) * TILE_EXTENT,
        -20037508.342789244 + (x + 1) * TILE_EXTENT, 20037508.342789244 - y * TILE_EXTENT] as const;
      for (const [px, py] of [[10, 10], [128, 128], [245, 245]]) {
        const [mx, my] = pixelCenter(bbox, [256, 256], px, py);
        const want = expectedColor(mx, my);
        const o = (py * info.width + px) * info.channels;
        assert.deepEqual([data[o], data[o + 1], data[o + 2]], want, `tile ${x}/${y} pixel ${px},${py}`);
      }
    }
  }
  upstream.setDelay(0);
});

test('a process SIGKILLed while holding a meta tile lock delays it by at most the stale timeout, no partial file', async () => {
  const victim = await startServerProcess(cfg.file);
  upstream.setDelay(60_000);
  const before = upstream.count();
  const tileUrl = (s: ServerProcess) => `${s.url}/wmts/proof/GLOBAL_WEBMERCATOR/${String(LEVEL).padStart(2, '0')}/60/40.png`;
  const pending = get(tileUrl(victim)).catch(() => null);
  // Wait until the victim holds the lock and is waiting on the upstream.
  await waitFor(() => upstream.count() !== before, 'the victim\'s upstream request');
  assert.equal(upstream.count() - before, 1);
  const locks = await readdir(join(cfg.dir, 'tile_locks'));
  assert.ok(locks.some((f) => f.endsWith('-60-40-6.lck.lock')), `a lock for the meta tile exists: ${locks.join(', ')}`);
  await victim.stop('SIGKILL');
  await pending;
  upstream.setDelay(0);
  const t0 = Date.now();
  const res = await get(tileUrl(servers[0]));
  const waited = Date.now() - t0;
  assert.equal(res.status, 200);
  assert.equal(upstream.count() - before, 2, 'the meta tile was fetched again by the survivor');
  assert.ok(waited <= LOCK_STALE_MS + 5_000, `waited ${waited} ms, stale timeout ${LOCK_STALE_MS} ms`);
  const files = await listFiles(join(cfg.dir, 'cache'));
  assert.deepEqual(files.filter((f) => !f.endsWith('.png')), [], 'no temp or partial files');
  for (const f of files) {
    const data = await readFile(f);
    await sharp(data).raw().toBuffer(); // every stored tile decodes completely
  }
});
