/**
 * Cluster metrics (issue acceptance 6): two real node:cluster workers serving one config and one
 * cache, the master summing their registries (test/fixtures/metrics/cluster.ts). After a
 * scripted sequence spread over both workers, `/metrics` — asked of a worker (which asks the
 * master) and of the master's own metrics port — shows the exact counts summed over all workers;
 * the totals stay the same when a worker retires (it hands over its final counts) and when one is
 * SIGKILLed (its last reported counts are kept), and the restarts are counted by reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { getAlone, tempConfig } from '../helpers/server.js';
import { parseSamples, sample, family, type Samples } from './metrics-helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = join(ROOT, 'test/fixtures/metrics/cluster.ts');

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let child: ChildProcess;
let out = '';
let port = 0;
let metricsPort = 0;

type Event = { event: string; port?: number; metricsPort?: number; workers: number[]; reason?: string };

function events(): Event[] {
  return out.split('\n').filter((l) => l.startsWith('{"event"')).map((l) => JSON.parse(l) as Event);
}

async function waitForEvent(name: string, count: number): Promise<Event> {
  for (let i = 0; i < 1200; i++) {
    const e = events().filter((x) => x.event === name);
    if (e.length >= count) return e[count - 1];
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no ${name} event #${count}:\n${out}`);
}

/** GET on a new connection each time, so node:cluster's round robin spreads them over the workers. */
async function get(path: string, onPort = port): Promise<{ status: number; worker: number; body: string }> {
  const res = await getAlone(`http://127.0.0.1:${onPort}${path}`);
  return { status: res.status, worker: Number(res.headers['x-worker']), body: res.body.toString() };
}

async function scrape(onPort: number): Promise<Samples> {
  const res = await get('/metrics', onPort);
  assert.equal(res.status, 200, res.body);
  return parseSamples(res.body);
}

const tile = (x: number, y: number) => `/wmts/m/GLOBAL_WEBMERCATOR/03/${x}/${y}.png`;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(`
services:
  wmts:
layers:
  - name: m
    title: metrics
    sources: [m_cache]
caches:
  m_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    format: image/png
sources:
  up:
    type: wms
    req:
      url: ${upstream.url}/wms?
      layers: base
globals:
  cache:
    base_dir: ./cache
    lock_dir: ./locks
    tile_lock_dir: ./tile_locks
`);
  child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, cfg.file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const ready = await waitForEvent('ready', 1);
  port = ready.port ?? 0;
  metricsPort = ready.metricsPort ?? 0;
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await upstream?.close();
  await cfg?.cleanup();
});

test('/metrics shows the exact counts summed over both workers, through a worker and on the master port', async () => {
  const seen = new Set<number>();
  const statuses: number[] = [];
  // One request at a time: each count below is exact, whichever worker answers.
  for (const path of [tile(0, 0), tile(1, 0), tile(2, 0), tile(3, 0), tile(0, 1), tile(1, 1), tile(4, 0), tile(5, 0), '/nothing']) {
    const res = await get(path);
    statuses.push(res.status);
    seen.add(res.worker);
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 404]);
  assert.equal(seen.size, 2, 'both workers answered requests');
  assert.equal(upstream.count(), 2);

  const viaMaster = await scrape(metricsPort);
  const viaWorker = await scrape(port);
  for (const s of [viaMaster, viaWorker]) {
    assert.deepEqual(family(s, 'mapproxy_cache_hits_total'), { 'cache="m_cache"': 6 });
    assert.deepEqual(family(s, 'mapproxy_cache_misses_total'), { 'cache="m_cache"': 2 });
    assert.deepEqual(family(s, 'mapproxy_tiles_created_total'), { 'cache="m_cache"': 32 });
    assert.deepEqual(family(s, 'mapproxy_lock_waits_total'), { 'cache="m_cache"': 2 });
    assert.deepEqual(family(s, 'mapproxy_upstream_requests_total'), { 'source="up",status="200"': 2 });
    assert.equal(sample(s, 'mapproxy_http_requests_total', { service: 'wmts', status: '200' }), 8);
    assert.equal(sample(s, 'mapproxy_http_requests_total', { service: 'none', status: '404' }), 1);
    assert.equal(sample(s, 'mapproxy_http_request_duration_seconds_count', { service: 'wmts' }), 8);
    assert.equal(sample(s, 'mapproxy_workers'), 2);
    assert.deepEqual(family(s, 'mapproxy_worker_restarts_total'), { 'reason="crash"': 0, 'reason="timeout"': 0, 'reason="max-requests"': 0, 'reason="reload"': 0, 'reason="descriptors"': 0 });
  }
  // The master's port is not a worker's: only the scrape through a worker is a request of the app.
  assert.equal(sample(viaWorker, 'mapproxy_http_requests_total', { service: 'metrics', status: '200' }), 0);
  const after = await scrape(metricsPort);
  assert.equal(sample(after, 'mapproxy_http_requests_total', { service: 'metrics', status: '200' }), 1);
});

test('a retired worker hands over its counts; a SIGKILLed one keeps its last reported counts', async () => {
  const before = await scrape(metricsPort);
  const hits = sample(before, 'mapproxy_cache_hits_total', { cache: 'm_cache' });
  const wmts200 = sample(before, 'mapproxy_http_requests_total', { service: 'wmts', status: '200' });
  const { workers } = events().at(-1) as Event;

  child.kill('SIGUSR2');
  const replaced = await waitForEvent('replaced', 1);
  assert.equal(replaced.reason, 'max-requests');
  assert.notDeepEqual(replaced.workers, workers);
  let s = await scrape(metricsPort);
  assert.equal(sample(s, 'mapproxy_cache_hits_total', { cache: 'm_cache' }), hits);
  assert.equal(sample(s, 'mapproxy_http_requests_total', { service: 'wmts', status: '200' }), wmts200);
  assert.equal(sample(s, 'mapproxy_worker_restarts_total', { reason: 'max-requests' }), 1);
  assert.equal(sample(s, 'mapproxy_workers'), 2);

  // Two more hits, then a scrape (each worker's latest counts reach the master), then a kill.
  await get(tile(2, 1));
  await get(tile(3, 1));
  s = await scrape(metricsPort);
  assert.equal(sample(s, 'mapproxy_cache_hits_total', { cache: 'm_cache' }), hits + 2);
  process.kill(replaced.workers[0], 'SIGKILL');
  const again = await waitForEvent('replaced', 2);
  assert.equal(again.reason, 'crash');
  s = await scrape(metricsPort);
  assert.equal(sample(s, 'mapproxy_cache_hits_total', { cache: 'm_cache' }), hits + 2);
  assert.equal(sample(s, 'mapproxy_http_requests_total', { service: 'wmts', status: '200' }), wmts200 + 2);
  assert.equal(sample(s, 'mapproxy_cache_misses_total', { cache: 'm_cache' }), 2);
  assert.deepEqual(family(s, 'mapproxy_worker_restarts_total'), { 'reason="crash"': 1, 'reason="timeout"': 0, 'reason="max-requests"': 1, 'reason="reload"': 0, 'reason="descriptors"': 0 });
  // Through a new worker too.
  const viaWorker = await scrape(port);
  assert.equal(sample(viaWorker, 'mapproxy_cache_hits_total', { cache: 'm_cache' }), hits + 2);
});
