/**
 * The IPC messages of cluster metrics, between the master (`cluster.ts`) and its workers
 * (`worker.ts`), over node:cluster's channel. Their own `mapproxy-metrics:` prefix keeps them
 * apart from the supervisor's `mpx:` protocol. No imports: both sides load it cheaply.
 */

/**
 * Set (to `1`) in the master's environment by `createMetricsAggregator()`, so every worker forked
 * afterwards knows its master collects metrics and answers its `/metrics` from the cluster sum.
 */
export const CLUSTER_METRICS_ENV = 'MAPPROXY_TS_CLUSTER_METRICS';

/** One metric as prom-client's `getMetricsAsJSON()` gives it (its typings say otherwise). */
export interface MetricJson {
  readonly name: string;
  readonly help: string;
  /** `counter`, `gauge`, `histogram`, `summary`. */
  readonly type: string;
  /** prom-client's cluster aggregation method (`sum` when absent). */
  readonly aggregator?: string;
  readonly values: ReadonlyArray<{
    readonly value: number;
    readonly labels: Readonly<Record<string, string | number>>;
    readonly metricName?: string;
  }>;
}

/** Worker → master: the worker's collector is installed; include it in the sums. */
export interface HelloMessage {
  readonly type: 'mapproxy-metrics:hello';
}

/** Master → worker: send your registry as JSON. */
export interface CollectMessage {
  readonly type: 'mapproxy-metrics:collect';
  readonly id: number;
}

/** Worker → master: the answer to `collect`. */
export interface CollectedMessage {
  readonly type: 'mapproxy-metrics:collected';
  readonly id: number;
  readonly metrics?: readonly MetricJson[];
  readonly error?: string;
}

/**
 * Worker → master: the worker's last counts, sent once it has drained and before it exits, so
 * the cluster totals stay monotonic across reloads and recycling. Counters and histograms only.
 */
export interface FinalMessage {
  readonly type: 'mapproxy-metrics:final';
  readonly metrics: readonly MetricJson[];
}

/** Worker → master: render the cluster's metrics for my `/metrics` request. */
export interface RenderMessage {
  readonly type: 'mapproxy-metrics:render';
  readonly id: number;
}

/** Master → worker: the answer to `render`. */
export interface RenderedMessage {
  readonly type: 'mapproxy-metrics:rendered';
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

/** Messages a worker sends. */
export type WorkerMetricsMessage = HelloMessage | CollectedMessage | FinalMessage | RenderMessage;
/** Messages the master sends. */
export type MasterMetricsMessage = CollectMessage | RenderedMessage;

/** True for a message of this protocol. */
export function isMetricsMessage(msg: unknown): msg is { readonly type: string } {
  return typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string' &&
    (msg as { type: string }).type.startsWith('mapproxy-metrics:');
}

/**
 * Only what can be summed across processes that no longer exist: counters and histograms.
 * Gauges (memory, handles) describe a live process and would be wrong once it is gone.
 */
export function summableOnly(metrics: readonly MetricJson[]): MetricJson[] {
  return metrics.filter((m) => m.type === 'counter' || m.type === 'histogram');
}
