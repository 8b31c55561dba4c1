/**
 * Metrics of one process (issue acceptance 6, single-process half): a real app from a real
 * config in front of a real WMS upstream; after a scripted sequence of cache hits, misses, an
 * upstream failure and plain 404/405 answers, `/metrics` shows the exact counts of every series.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, startApp, get, type RunningApp } from '../helpers/server.js';
import { parseSamples, sample, family } from './metrics-helpers.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let app: RunningApp;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(`
services:
  tms:
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
  app = await startApp(cfg.file);
});

after(async () => {
  await app?.close();
  await upstream?.close();
  await cfg?.cleanup();
});

const wmts = (x: number, y: number, layer = 'm') => `${app.url}/wmts/${layer}/GLOBAL_WEBMERCATOR/03/${x}/${y}.png`;

test('after a scripted sequence /metrics shows the exact counts', async () => {
  const statuses: number[] = [];
  const step = async (url: string, init?: RequestInit) => {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    statuses.push(res.status);
  };
  // Level 3 has 8×8 tiles: meta tiles (4×4) are x 0-3 / 4-7 by y 0-3 / 4-7.
  await step(wmts(0, 0)); // miss: the meta tile 0-3/0-3 is created (16 tiles, 1 upstream request)
  await step(wmts(1, 0)); // hit
  await step(wmts(2, 0)); // hit
  await step(wmts(3, 3)); // hit
  await step(`${app.url}/tiles/m/EPSG3857/3/0/0.png?origin=nw`); // hit, through /tiles (service tms)
  await step(`${app.url}/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=m&STYLE=&TILEMATRIXSET=GLOBAL_WEBMERCATOR` +
    '&TILEMATRIX=03&TILEROW=1&TILECOL=1&FORMAT=image/png'); // hit, through the OWS dispatcher (service wmts)
  await step(wmts(4, 0)); // miss: meta tile 4-7/0-3
  upstream.fail({ kind: 'status', status: 500 }, 1);
  await step(wmts(0, 4)); // miss: the upstream answers 500, nothing is created
  await step(wmts(0, 4)); // miss: meta tile 0-3/4-7 created
  await step(wmts(0, 0, 'nope')); // unknown layer: 400 from WMTS, no cache involved
  await step(`${app.url}/nothing`); // plain 404
  await step(`${app.url}/`, { method: 'POST' }); // 405
  await step(`${app.url}/healthz`);
  await step(`${app.url}/readyz`);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 500, 200, 400, 404, 405, 200, 200]);
  assert.equal(upstream.count(), 4);

  const res = await fetch(`${app.url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  assert.match(text, /^# TYPE mapproxy_cache_hits_total counter$/m);
  assert.match(text, /^# TYPE mapproxy_http_request_duration_seconds histogram$/m);
  const s = parseSamples(text);
  // The source's name in the configuration, as the mapproxy.source.request log lines carry it.
  const source = 'up';

  assert.deepEqual(family(s, 'mapproxy_cache_hits_total'), { 'cache="m_cache"': 5 });
  assert.deepEqual(family(s, 'mapproxy_cache_misses_total'), { 'cache="m_cache"': 4 });
  assert.deepEqual(family(s, 'mapproxy_tiles_created_total'), { 'cache="m_cache"': 48 });
  // One meta tile lock per creation attempt, the failed one included.
  assert.deepEqual(family(s, 'mapproxy_lock_waits_total'), { 'cache="m_cache"': 4 });
  assert.equal(sample(s, 'mapproxy_lock_wait_seconds_count', { cache: 'm_cache' }), 4);
  assert.equal(sample(s, 'mapproxy_lock_timeouts_total'), 0);
  assert.deepEqual(family(s, 'mapproxy_upstream_requests_total'), {
    [`source="${source}",status="200"`]: 3,
    [`source="${source}",status="500"`]: 1,
  });
  assert.deepEqual(family(s, 'mapproxy_upstream_errors_total'), { [`reason="http",source="${source}"`]: 1 });
  assert.equal(sample(s, 'mapproxy_upstream_request_duration_seconds_count', { source }), 4);
  assert.deepEqual(family(s, 'mapproxy_http_requests_total'), {
    'service="wmts",status="200"': 7,
    'service="wmts",status="500"': 1,
    'service="wmts",status="400"': 1,
    'service="tms",status="200"': 1,
    'service="none",status="404"': 1,
    'service="none",status="405"': 1,
    'service="health",status="200"': 1,
    'service="ready",status="200"': 1,
  });
  assert.equal(sample(s, 'mapproxy_http_request_duration_seconds_count', { service: 'wmts' }), 9);
  assert.equal(sample(s, 'mapproxy_http_request_duration_seconds_bucket', { service: 'wmts', le: '+Inf' }), 9);
  assert.equal(sample(s, 'mapproxy_http_request_duration_seconds_count', { service: 'tms' }), 1);
  // Default process metrics are there too.
  assert.ok(s.has('process_resident_memory_bytes{}'), 'process_resident_memory_bytes');

  // The scrape itself is counted once answered; HEAD gives the headers only.
  const head = await fetch(`${app.url}/metrics`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const again = parseSamples(await (await fetch(`${app.url}/metrics`)).text());
  assert.equal(sample(again, 'mapproxy_http_requests_total', { service: 'metrics', status: '200' }), 2);
  assert.equal(sample(again, 'mapproxy_cache_hits_total', { cache: 'm_cache' }), 5);
});

test('/healthz answers ok, /readyz ready, both uncacheable plain text', async () => {
  const h = await get(`${app.url}/healthz`);
  assert.equal(h.status, 200);
  assert.equal(h.body.toString(), 'ok');
  assert.equal(h.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(h.headers.get('cache-control'), 'no-cache, no-store');
  const r = await get(`${app.url}/readyz`);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'ready');
  // Behind a proxy that mounts the app under a script name, the routes move with it.
  const mounted = await get(`${app.url}/mapproxy/healthz`, { 'X-Script-Name': '/mapproxy' });
  assert.equal(mounted.status, 200);
  assert.equal(mounted.body.toString(), 'ok');
});
