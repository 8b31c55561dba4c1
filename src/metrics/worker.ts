/**
 * The worker side of cluster metrics: answer the master's collection requests with this
 * process's registry, hand over the final counts before exiting, and render `/metrics` (the
 * cluster sum, asked from the master; or this process alone outside a metrics-collecting cluster).
 */
import cluster from 'node:cluster';
import {
  CLUSTER_METRICS_ENV,
  isMetricsMessage,
  summableOnly,
  type MasterMetricsMessage,
  type MetricJson,
  type WorkerMetricsMessage,
} from './protocol.js';
import { renderLocalMetrics, workerMetricsRegistry } from './registry.js';

/** How long a worker waits for the master's cluster sum before `/metrics` fails (ms). */
export const RENDER_TIMEOUT_MS = 10_000;

let installed = false;
let nextId = 0;
const renders = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

/** True in a cluster worker whose master runs `createMetricsAggregator()`. */
export function clusterMetricsEnabled(): boolean {
  return cluster.isWorker && process.env[CLUSTER_METRICS_ENV] === '1' && typeof process.send === 'function';
}

function send(msg: WorkerMetricsMessage, done?: (err: Error | null) => void): void {
  if (!process.connected || !process.send) {
    done?.(new Error('the IPC channel to the master is closed'));
    return;
  }
  process.send(msg, undefined, {}, (err) => done?.(err ?? null));
}

async function registryJson(): Promise<MetricJson[]> {
  return (await workerMetricsRegistry().getMetricsAsJSON()) as unknown as MetricJson[];
}

function failRenders(reason: string): void {
  for (const [id, r] of renders) {
    clearTimeout(r.timer);
    renders.delete(id);
    r.reject(new Error(reason));
  }
}

function onMessage(msg: unknown): void {
  if (!isMetricsMessage(msg)) return;
  const m = msg as MasterMetricsMessage;
  if (m.type === 'mapproxy-metrics:collect') {
    registryJson().then(
      (metrics) => send({ type: 'mapproxy-metrics:collected', id: m.id, metrics }),
      (err: unknown) => send({ type: 'mapproxy-metrics:collected', id: m.id, error: String((err as Error)?.message ?? err) }),
    );
  } else if (m.type === 'mapproxy-metrics:rendered') {
    const r = renders.get(m.id);
    if (!r) return;
    renders.delete(m.id);
    clearTimeout(r.timer);
    if (m.text !== undefined) r.resolve(m.text);
    else r.reject(new Error(`the master could not collect the metrics: ${m.error ?? 'unknown error'}`));
  }
}

/**
 * In a cluster worker whose master collects metrics: listen for the master's requests and tell
 * it this worker counts from now on (idempotent; a no-op elsewhere). `installMetrics()` calls it.
 */
export function installClusterResponder(): void {
  if (installed || !clusterMetricsEnabled()) return;
  installed = true;
  process.on('message', onMessage);
  process.on('disconnect', () => failRenders('the master went away'));
  send({ type: 'mapproxy-metrics:hello' });
}

/** Ask the master for the cluster's metrics (Prometheus text, every worker summed). */
export function clusterMetricsFromMaster(timeoutMs = RENDER_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      renders.delete(id);
      reject(new Error(`the master did not send the metrics within ${timeoutMs} ms`));
    }, timeoutMs);
    renders.set(id, { resolve, reject, timer });
    send({ type: 'mapproxy-metrics:render', id }, (err) => {
      if (!err || !renders.has(id)) return;
      renders.delete(id);
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * The text `/metrics` answers with: the cluster sum from the master in a metrics-collecting
 * cluster, else this process's registry.
 */
export function renderMetrics(): Promise<string> {
  return installed ? clusterMetricsFromMaster() : renderLocalMetrics();
}

/**
 * Hand this worker's final counts to the master, so they stay in the cluster totals after it
 * exits. Call once the worker has drained (no request in flight), right before it exits; resolves
 * when the message is written (or at once outside a metrics-collecting cluster).
 */
export async function sendFinalMetrics(): Promise<void> {
  if (!installed || !process.connected) return;
  const metrics = summableOnly(await registryJson());
  await new Promise<void>((resolve) => send({ type: 'mapproxy-metrics:final', metrics }, () => resolve()));
}
