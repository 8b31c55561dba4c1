/**
 * The metrics of one serving process (a worker, serve-develop, an embedding app): one prom-client
 * Registry holding every `mapproxy_*` series a process records. Counters and histograms only,
 * so the master can sum the workers' registries (and keep the counts of workers that left).
 * `install.ts` feeds these from diagnostics channels; the series are `fast.ts`'s, cheap per event.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter as Counter, FastHistogram as Histogram } from './fast.js';

/** Content type of the Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

// Tile answers from disk take well under a millisecond; a cold meta tile can take seconds.
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const LOCK_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60];
// Most image operations get a slot at once; a queue behind a burst of misses waits tens of ms.
const IMAGE_WAIT_BUCKETS = [0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The series of a serving process. */
export interface ProcessMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'service' | 'status'>;
  readonly httpDuration: Histogram<'service'>;
  readonly cacheHits: Counter<'cache'>;
  readonly cacheMisses: Counter<'cache'>;
  readonly tilesCreated: Counter<'cache'>;
  readonly lockWaits: Counter<'cache'>;
  readonly lockWaitSeconds: Histogram<'cache'>;
  readonly lockTimeouts: Counter<never>;
  readonly upstreamRequests: Counter<'source' | 'status'>;
  readonly upstreamErrors: Counter<'source' | 'reason'>;
  readonly upstreamDuration: Histogram<'source'>;
  readonly imageJobWaitSeconds: Histogram<never>;
}

let metrics: ProcessMetrics | undefined;
let defaultsOn = false;

function create(): ProcessMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'mapproxy_http_requests_total',
      help: 'HTTP requests answered, by service (tms, wmts, wms, ows, demo, health, ready, metrics, welcome, none) and status',
      labelNames: ['service', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'mapproxy_http_request_duration_seconds',
      help: 'Time from the start of a request until its answer was handed to the socket, by service',
      labelNames: ['service'],
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    cacheHits: new Counter({
      name: 'mapproxy_cache_hits_total',
      help: 'Tiles served from the cache storage, by cache',
      labelNames: ['cache'],
      registers,
    }),
    cacheMisses: new Counter({
      name: 'mapproxy_cache_misses_total',
      help: 'Tile requests not found (or stale) in the cache storage, by cache',
      labelNames: ['cache'],
      registers,
    }),
    tilesCreated: new Counter({
      name: 'mapproxy_tiles_created_total',
      help: 'Tiles created from the sources (every tile of a meta tile counts), by cache',
      labelNames: ['cache'],
      registers,
    }),
    lockWaits: new Counter({
      name: 'mapproxy_lock_waits_total',
      help: 'Meta tile locks acquired (each after waiting for any other holder), by cache',
      labelNames: ['cache'],
      registers,
    }),
    lockWaitSeconds: new Histogram({
      name: 'mapproxy_lock_wait_seconds',
      help: 'Time spent acquiring a meta tile lock, by cache',
      labelNames: ['cache'],
      buckets: LOCK_BUCKETS,
      registers,
    }),
    lockTimeouts: new Counter({
      name: 'mapproxy_lock_timeouts_total',
      help: 'Meta tile locks given up after the lock timeout (another process held them)',
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'mapproxy_upstream_requests_total',
      help: 'HTTP requests to upstream sources, by source and status ("none": no answer)',
      labelNames: ['source', 'status'],
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'mapproxy_upstream_errors_total',
      help: 'Failed upstream requests, by source and reason (http, timeout, connection, other)',
      labelNames: ['source', 'reason'],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'mapproxy_upstream_request_duration_seconds',
      help: 'Duration of upstream requests (until the whole body was read), by source',
      labelNames: ['source'],
      buckets: UPSTREAM_BUCKETS,
      registers,
    }),
    imageJobWaitSeconds: new Histogram({
      name: 'mapproxy_image_job_wait_seconds',
      help: 'Time an image operation (decode, resize, encode) waited for a slot of the process\'s image pool (serve --image-jobs); _count: all image operations',
      buckets: IMAGE_WAIT_BUCKETS,
      registers,
    }),
  };
}

/** The series of this process (created on first use; one per process). */
export function processMetrics(): ProcessMetrics {
  return (metrics ??= create());
}

/**
 * The prom-client Registry of this process: what `/metrics` shows in a single process and what a
 * worker sends its master for the cluster sum.
 */
export function workerMetricsRegistry(): Registry {
  return processMetrics().registry;
}

/**
 * Add prom-client's default process metrics (`process_*`, `nodejs_*`: CPU, memory, event loop
 * lag, GC) to this process's registry, once. The master sums or averages them across workers
 * as prom-client marks each one.
 */
export function enableDefaultMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: processMetrics().registry });
}

/** Set every series of this process back to zero (tests). */
export function resetMetrics(): void {
  processMetrics().registry.resetMetrics();
}

/** The Prometheus text of this process's registry alone. */
export function renderLocalMetrics(): Promise<string> {
  return processMetrics().registry.metrics();
}
