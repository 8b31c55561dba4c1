/**
 * Metrics and readiness through the real `serve` cluster (issue 3, acceptance 4 and 6): after a
 * scripted sequence of misses and hits spread over two workers, /metrics shows the exact counts
 * summed over all workers; a broken configuration on SIGHUP keeps /readyz at 200.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile } from 'node:fs/promises';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, get } from '../helpers/server.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { family, parseSamples, sample } from './metrics-helpers.js';

let upstream: Upstream | undefined;
let cfg: Awaited<ReturnType<typeof tempConfig>> | undefined;
let master: ServeProcess | undefined;
after(async () => {
  await master?.kill();
  await upstream?.close();
  await cfg?.cleanup();
});

test('exact cache, tile and upstream counts summed over two workers; /readyz stays 200 on a broken reload', async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(`
services: {wmts: {}}
layers: [{name: m, title: M, sources: [m_cache]}]
caches: {m_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}}
sources: {up: {type: wms, req: {url: '${upstream.url}/wms?', layers: base}}}
globals: {cache: {base_dir: ./cache, tile_lock_dir: ./locks}}
`);
  master = await startServe(cfg.file, ['-w', '2', '--spare-workers', '0']);
  const url = (x: number, y: number) => `${master!.url}/wmts/m/GLOBAL_WEBMERCATOR/05/${x}/${y}.png`;
  // 4 misses, one per meta tile (each creates 16 tiles), then 10 hits; sequential, so the
  // round-robin spreads them over both workers and no request waits on another.
  const misses = [[0, 0], [4, 0], [8, 0], [12, 0]];
  for (const [x, y] of misses) assert.equal((await get(url(x, y))).headers.get('x-cache'), 'MISS');
  for (let i = 0; i < 10; i++) {
    const [x, y] = misses[i % 4];
    const res = await get(url(x + 1, y + 1));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-cache'), 'HIT');
  }
  const s = parseSamples((await get(`${master.url}/metrics`)).body.toString());
  assert.deepEqual(family(s, 'mapproxy_cache_misses_total'), { 'cache="m_cache"': 4 });
  assert.deepEqual(family(s, 'mapproxy_cache_hits_total'), { 'cache="m_cache"': 10 });
  assert.deepEqual(family(s, 'mapproxy_tiles_created_total'), { 'cache="m_cache"': 64 });
  assert.equal(upstream.count(), 4);
  assert.equal(sample(s, 'mapproxy_upstream_request_duration_seconds_count', { source: 'up' }), 4);
  // Image operations of the 4 meta tiles: per meta tile one decode of the upstream image and 16
  // deflates of paletted PNG tiles (src/image/pool.ts publishes each one).
  assert.equal(sample(s, 'mapproxy_image_job_wait_seconds_count', {}), 68);
  // Both workers served: their registries were summed, not one worker's numbers.
  const perWorker = master.logs().filter((l) => l.msg === 'worker listening').length;
  assert.ok(perWorker >= 2, `workers listening: ${perWorker}`);

  assert.equal((await get(`${master.url}/readyz`)).status, 200);
  const good = await readFile(cfg.file, 'utf8');
  await writeFile(cfg.file, good.replace('layers: base', 'layers: [unclosed'));
  const from = master.logs().length;
  process.kill(master.pid, 'SIGHUP');
  await master.waitForLog((l) => String(l.msg).startsWith('reload aborted'), { from });
  assert.equal((await get(`${master.url}/readyz`)).status, 200);
  assert.equal((await get(url(1, 1))).status, 200);
  process.kill(master.pid, 'SIGTERM');
  assert.equal((await master.exited()).code, 0);
});
