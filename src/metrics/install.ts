/**
 * Turning the internal events into metrics: `installMetrics()` subscribes this process's
 * registry to the diagnostics channels (see channels.ts). Publishers check `hasSubscribers`, so
 * a process that never installs the metrics pays nothing; one that does pays one small object
 * and a counter increment per event.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  CHANNELS,
  type CacheCreatedMessage,
  type CacheEventMessage,
  type HttpRequestMessage,
  type ImageJobMessage,
  type LockWaitMessage,
  type UpstreamRequestMessage,
} from './channels.js';
import { enableDefaultMetrics, processMetrics } from './registry.js';
import { installClusterResponder } from './worker.js';

/** Options of `installMetrics`. */
export interface InstallMetricsOptions {
  /** Also collect prom-client's default `process_*` / `nodejs_*` metrics (default true). */
  readonly defaultMetrics?: boolean;
}

type Listener = (message: unknown, name: string | symbol) => void;

let listeners: Array<[string, Listener]> | null = null;

/**
 * The label of an upstream: the source's config name when the publisher sends it, else the host
 * (and port) of the URL, which stays a small set (one per configured upstream server).
 */
export function upstreamLabel(msg: UpstreamRequestMessage): string {
  if (typeof msg.source === 'string' && msg.source !== '') return msg.source;
  const url = msg.url;
  const sep = url.indexOf('://');
  if (sep < 0) return 'unknown';
  const start = sep + 3;
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    // '/', '?', '#' end the authority
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  return url.slice(start, end) || 'unknown';
}

// Status codes as label values, made once.
const STATUS_TEXT: string[] = Array.from({ length: 600 }, (_, i) => String(i));
const statusText = (status: number): string => STATUS_TEXT[status] ?? String(status);

function build(): Array<[string, Listener]> {
  const m = processMetrics();
  return [
    [CHANNELS.cacheHit, (msg) => m.cacheHits.inc((msg as CacheEventMessage).cache)],
    [CHANNELS.cacheMiss, (msg) => m.cacheMisses.inc((msg as CacheEventMessage).cache)],
    [CHANNELS.cacheCreated, (msg) => {
      const { cache, tiles } = msg as CacheCreatedMessage;
      m.tilesCreated.inc(cache, undefined, tiles);
    }],
    [CHANNELS.lockWait, (msg) => {
      const { cache, ms } = msg as LockWaitMessage;
      m.lockWaits.inc(cache);
      m.lockWaitSeconds.observe(ms / 1000, cache);
    }],
    [CHANNELS.lockTimeout, () => m.lockTimeouts.inc()],
    [CHANNELS.upstreamRequest, (msg) => {
      const u = msg as UpstreamRequestMessage;
      const source = upstreamLabel(u);
      m.upstreamRequests.inc(source, u.status === undefined ? 'none' : String(u.status));
      m.upstreamDuration.observe(u.durationMs / 1000, source);
      if (u.error) m.upstreamErrors.inc(source, typeof u.error.reason === 'string' ? u.error.reason : 'other');
    }],
    [CHANNELS.imageJob, (msg) => m.imageJobWaitSeconds.observe((msg as ImageJobMessage).ms / 1000)],
    [CHANNELS.httpRequest, (msg) => {
      const { service, status, durationMs } = msg as HttpRequestMessage;
      m.httpRequests.inc(service, statusText(status));
      m.httpDuration.observe(durationMs / 1000, service);
    }],
  ];
}

/**
 * Start recording this process's metrics (idempotent). In a `serve` worker whose master runs
 * `createMetricsAggregator()`, this also answers the master's collection requests over IPC.
 */
export function installMetrics(opts: InstallMetricsOptions = {}): void {
  if (opts.defaultMetrics !== false) enableDefaultMetrics();
  if (listeners) return;
  listeners = build();
  for (const [name, fn] of listeners) subscribe(name, fn);
  installClusterResponder();
}

/** Stop recording (the series keep their values). */
export function uninstallMetrics(): void {
  if (!listeners) return;
  for (const [name, fn] of listeners) unsubscribe(name, fn);
  listeners = null;
}

/** True while `installMetrics` is in effect. */
export function metricsInstalled(): boolean {
  return listeners !== null;
}
