// installMetrics: every diagnostics channel event becomes the exact increment of its series.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import {
  CHANNELS, installMetrics, metricsInstalled, renderLocalMetrics, resetMetrics, uninstallMetrics, upstreamLabel,
  workerMetricsRegistry,
} from '../../../src/metrics/index.js';
import { UpstreamConnectionError, UpstreamHttpError } from '../../../src/source/errors.js';

async function values(name: string): Promise<Record<string, number>> {
  const m = await workerMetricsRegistry().getSingleMetric(name)?.get();
  const out: Record<string, number> = {};
  for (const v of m?.values ?? []) {
    const labels = Object.entries(v.labels).sort().map(([k, x]) => `${k}=${String(x)}`).join(',');
    out[`${(v as { metricName?: string }).metricName ?? name}{${labels}}`] = v.value;
  }
  return out;
}

beforeEach(() => {
  installMetrics({ defaultMetrics: false });
  resetMetrics();
});

test('cache events: hits, misses, tiles created, lock waits with their seconds, lock timeouts', async () => {
  channel(CHANNELS.cacheHit).publish({ cache: 'a' });
  channel(CHANNELS.cacheHit).publish({ cache: 'a' });
  channel(CHANNELS.cacheHit).publish({ cache: 'b' });
  channel(CHANNELS.cacheMiss).publish({ cache: 'a' });
  channel(CHANNELS.cacheCreated).publish({ cache: 'a', tiles: 16 });
  channel(CHANNELS.cacheCreated).publish({ cache: 'a', tiles: 9 });
  channel(CHANNELS.lockWait).publish({ cache: 'a', ms: 250 });
  channel(CHANNELS.lockTimeout).publish({ lockFile: '/tmp/x.lck', timeoutMs: 1000 });
  assert.deepEqual(await values('mapproxy_cache_hits_total'), { 'mapproxy_cache_hits_total{cache=a}': 2, 'mapproxy_cache_hits_total{cache=b}': 1 });
  assert.deepEqual(await values('mapproxy_cache_misses_total'), { 'mapproxy_cache_misses_total{cache=a}': 1 });
  assert.deepEqual(await values('mapproxy_tiles_created_total'), { 'mapproxy_tiles_created_total{cache=a}': 25 });
  assert.deepEqual(await values('mapproxy_lock_waits_total'), { 'mapproxy_lock_waits_total{cache=a}': 1 });
  const wait = await values('mapproxy_lock_wait_seconds');
  assert.equal(wait['mapproxy_lock_wait_seconds_sum{cache=a}'], 0.25);
  assert.equal(wait['mapproxy_lock_wait_seconds_bucket{cache=a,le=0.1}'], 0);
  assert.equal(wait['mapproxy_lock_wait_seconds_bucket{cache=a,le=0.5}'], 1);
  assert.deepEqual(await values('mapproxy_lock_timeouts_total'), { 'mapproxy_lock_timeouts_total{}': 1 });
});

test('image operations: every one counted, with the time it waited for a slot of the image pool', async () => {
  channel(CHANNELS.imageJob).publish({ ms: 0 });
  channel(CHANNELS.imageJob).publish({ ms: 0 });
  channel(CHANNELS.imageJob).publish({ ms: 30 });
  const wait = await values('mapproxy_image_job_wait_seconds');
  assert.equal(wait['mapproxy_image_job_wait_seconds_count{}'], 3);
  assert.equal(wait['mapproxy_image_job_wait_seconds_sum{}'], 0.03);
  assert.equal(wait['mapproxy_image_job_wait_seconds_bucket{le=0.0001}'], 2);
  assert.equal(wait['mapproxy_image_job_wait_seconds_bucket{le=0.025}'], 2);
  assert.equal(wait['mapproxy_image_job_wait_seconds_bucket{le=0.05}'], 3);
});

test('upstream requests: by source and status, errors by reason, durations', async () => {
  const ch = channel(CHANNELS.upstreamRequest);
  ch.publish({ method: 'GET', url: 'http://up.example:8080/wms?x=1', status: 200, bytes: 10, durationMs: 20 });
  ch.publish({
    method: 'GET', url: 'http://up.example:8080/wms', status: 503, durationMs: 5,
    error: new UpstreamHttpError('HTTP Error', { url: 'http://up.example:8080/wms', status: 503 }),
  });
  ch.publish({
    method: 'GET', url: 'https://tiles.example/a/b', durationMs: 1, source: 'osm',
    error: new UpstreamConnectionError('No response', { url: 'https://tiles.example/a/b' }),
  });
  assert.deepEqual(await values('mapproxy_upstream_requests_total'), {
    'mapproxy_upstream_requests_total{source=up.example:8080,status=200}': 1,
    'mapproxy_upstream_requests_total{source=up.example:8080,status=503}': 1,
    'mapproxy_upstream_requests_total{source=osm,status=none}': 1,
  });
  assert.deepEqual(await values('mapproxy_upstream_errors_total'), {
    'mapproxy_upstream_errors_total{reason=http,source=up.example:8080}': 1,
    'mapproxy_upstream_errors_total{reason=connection,source=osm}': 1,
  });
  const d = await values('mapproxy_upstream_request_duration_seconds');
  assert.equal(d['mapproxy_upstream_request_duration_seconds_count{source=up.example:8080}'], 2);
  assert.equal(d['mapproxy_upstream_request_duration_seconds_sum{source=up.example:8080}'], 0.025);
});

test('http requests: by service and status, durations by service', async () => {
  const ch = channel(CHANNELS.httpRequest);
  ch.publish({ service: 'tms', status: 200, durationMs: 2 });
  ch.publish({ service: 'tms', status: 200, durationMs: 4 });
  ch.publish({ service: 'tms', status: 304, durationMs: 1 });
  ch.publish({ service: 'none', status: 404, durationMs: 1 });
  assert.deepEqual(await values('mapproxy_http_requests_total'), {
    'mapproxy_http_requests_total{service=tms,status=200}': 2,
    'mapproxy_http_requests_total{service=tms,status=304}': 1,
    'mapproxy_http_requests_total{service=none,status=404}': 1,
  });
  const d = await values('mapproxy_http_request_duration_seconds');
  assert.equal(d['mapproxy_http_request_duration_seconds_count{service=tms}'], 3);
  assert.equal(d['mapproxy_http_request_duration_seconds_sum{service=tms}'], 0.007);
});

test('the label of an upstream: its source name, else the URL authority', () => {
  const msg = (url: string, source?: string) => ({ method: 'GET', url, durationMs: 0, source });
  assert.equal(upstreamLabel(msg('http://127.0.0.1:8091/wms?SERVICE=WMS')), '127.0.0.1:8091');
  assert.equal(upstreamLabel(msg('https://a.tile.example/1/2/3.png')), 'a.tile.example');
  assert.equal(upstreamLabel(msg('http://host?x=1')), 'host');
  assert.equal(upstreamLabel(msg('http://host#f')), 'host');
  assert.equal(upstreamLabel(msg('not a url')), 'unknown');
  assert.equal(upstreamLabel(msg('http://h/x', 'osm_source')), 'osm_source');
});

test('installMetrics is idempotent; uninstallMetrics stops counting', async () => {
  installMetrics({ defaultMetrics: false });
  channel(CHANNELS.cacheHit).publish({ cache: 'a' });
  assert.deepEqual(await values('mapproxy_cache_hits_total'), { 'mapproxy_cache_hits_total{cache=a}': 1 });
  uninstallMetrics();
  assert.equal(metricsInstalled(), false);
  assert.equal(channel(CHANNELS.cacheHit).hasSubscribers, false);
  channel(CHANNELS.cacheHit).publish({ cache: 'a' });
  assert.deepEqual(await values('mapproxy_cache_hits_total'), { 'mapproxy_cache_hits_total{cache=a}': 1 });
  installMetrics({ defaultMetrics: false });
  assert.equal(metricsInstalled(), true);
});

test('the local text exposition has the mapproxy_* families and no process metrics unless asked', async () => {
  const text = await renderLocalMetrics();
  assert.match(text, /^# HELP mapproxy_cache_hits_total /m);
  assert.match(text, /^mapproxy_lock_timeouts_total 0$/m);
  assert.doesNotMatch(text, /process_resident_memory_bytes/);
  installMetrics();
  assert.match(await renderLocalMetrics(), /^process_resident_memory_bytes \d+$/m);
});
