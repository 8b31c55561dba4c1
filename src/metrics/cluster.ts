/**
 * The master side of cluster metrics: ask every worker for its registry over node:cluster's IPC,
 * sum them with prom-client's `AggregatorRegistry.aggregate` (each default metric by the method
 * prom-client marks it with), add the counts of workers that have left and the master's own
 * series (worker restarts), and render Prometheus text; also for workers asking on behalf of their
 * `/metrics` route. Imports no request-serving code: the master loads it.
 *
 * Not `AggregatorRegistry.clusterMetrics()`: it crashes the master when a worker answers after
 * its 5 s timeout, and it forgets the counts of every worker that exited (each reload or recycle
 * would make the cluster's counters go down). Here late answers are dropped, a worker that
 * exits hands over its last counts, and the totals only grow.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import {
  CLUSTER_METRICS_ENV,
  isMetricsMessage,
  summableOnly,
  type MasterMetricsMessage,
  type MetricJson,
  type WorkerMetricsMessage,
} from './protocol.js';

/** How long the master waits for every worker's registry (ms); then the scrape fails. */
export const COLLECT_TIMEOUT_MS = 5_000;

/** Why a worker was replaced (`countWorkerRestart`). */
export type RestartReason = 'crash' | 'timeout' | 'max-requests' | 'reload' | 'descriptors';

/** Left workers kept apart (their last counts may still be replaced by a late final message). */
const RECENT_DEPARTED = 32;

interface Scrape {
  readonly waiting: Set<number>;
  readonly responses: Map<number, readonly MetricJson[]>;
  readonly resolve: (metrics: Array<readonly MetricJson[]>) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

type MetricValue = MetricJson['values'][number];

function labelKey(v: MetricValue): string {
  const keys = Object.keys(v.labels).sort();
  return `${v.metricName ?? ''}{${keys.map((k) => `${k}=${String(v.labels[k])}`).join(',')}}`;
}

/**
 * Sum metric lists by name, series name and label set, as prom-client's `sum` aggregator does
 * (used for the counters and histograms of processes that left; runs once per departure).
 */
export function sumMetrics(lists: ReadonlyArray<readonly MetricJson[]>): MetricJson[] {
  const byName = new Map<string, { meta: MetricJson; values: Map<string, MetricValue> }>();
  for (const list of lists) {
    for (const m of list) {
      let entry = byName.get(m.name);
      if (!entry) byName.set(m.name, (entry = { meta: m, values: new Map() }));
      for (const v of m.values) {
        const k = labelKey(v);
        const prev = entry.values.get(k);
        entry.values.set(k, prev ? { ...prev, value: prev.value + v.value } : v);
      }
    }
  }
  return [...byName.values()].map(({ meta, values }) => ({ ...meta, values: [...values.values()] }));
}

/** The metrics of a `serve` master and its workers; one per master process. */
export class MetricsAggregator {
  /** The master's own series. */
  readonly registry = new Registry();
  readonly #restarts: Counter<'reason'>;
  /** Workers that said hello and have not left. */
  readonly #live = new Set<number>();
  /** The last registry each live worker sent, kept in case it dies without a final message. */
  readonly #lastSeen = new Map<number, readonly MetricJson[]>();
  /** Recently departed workers' last counts, by worker id. */
  readonly #recent = new Map<number, readonly MetricJson[]>();
  /** Everything older, summed. */
  #departed: readonly MetricJson[] = [];
  readonly #scrapes = new Map<number, Scrape>();
  #nextId = 0;
  /** The collection in progress, which scrapes arriving meanwhile share. */
  #rendering: Promise<string> | null = null;

  constructor() {
    const registers = [this.registry];
    this.#restarts = new Counter({
      name: 'mapproxy_worker_restarts_total',
      help: 'Workers the master replaced, by reason (crash, timeout, max-requests, reload, descriptors)',
      labelNames: ['reason'] as const,
      registers,
    });
    for (const reason of ['crash', 'timeout', 'max-requests', 'reload', 'descriptors'] as const) this.#restarts.inc({ reason }, 0);
    const live = this.#live;
    new Gauge({
      name: 'mapproxy_workers',
      help: 'Worker processes reporting to the master now, standing-by spares included',
      registers,
      collect() {
        this.set(live.size);
      },
    });
    cluster.on('message', (worker: Worker, msg: unknown) => this.#onMessage(worker, msg));
    cluster.on('exit', (worker: Worker) => this.#onExit(worker.id));
    // Inherited by every worker forked from now on (cluster.fork merges process.env).
    process.env[CLUSTER_METRICS_ENV] = '1';
  }

  /** Count a worker replacement (call where the master forks a replacement). */
  countWorkerRestart(reason: RestartReason = 'crash'): void {
    this.#restarts.inc({ reason });
  }

  /**
   * The Prometheus text of the whole cluster: every live worker's registry summed, plus the
   * counts of workers that left, plus the master's series. Rejects when a live worker does not
   * answer within `timeoutMs` (a scrape should fail rather than show counters going down).
   */
  render(timeoutMs = COLLECT_TIMEOUT_MS): Promise<string> {
    // Scrapes that come while one collects share it: each collection asks every worker for its
    // whole registry (about 5 ms of CPU over the processes, and memory in the master), so a burst
    // of scrapes costs one (a probe's 50 at once: 15 MiB more in the master for a while).
    this.#rendering ??= this.#render(timeoutMs).finally(() => {
      this.#rendering = null;
    });
    return this.#rendering;
  }

  async #render(timeoutMs: number): Promise<string> {
    const live = await this.#collect(timeoutMs);
    const own = (await this.registry.getMetricsAsJSON()) as unknown as MetricJson[];
    const all: Array<readonly MetricJson[]> = [...live, this.#departed, ...this.#recent.values(), own];
    return AggregatorRegistry.aggregate(all as object[]).metrics();
  }

  #collect(timeoutMs: number): Promise<Array<readonly MetricJson[]>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const scrape: Scrape = {
        waiting: new Set(),
        responses: new Map(),
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#scrapes.delete(id);
          reject(new Error(`no metrics from worker(s) ${[...scrape.waiting].join(', ')} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#scrapes.set(id, scrape);
      for (const wid of this.#live) {
        const worker = cluster.workers?.[wid];
        if (!worker?.isConnected()) {
          // Going away (its exit or final message is on the way): count what it last reported.
          const last = this.#lastSeen.get(wid);
          if (last) scrape.responses.set(wid, last);
          continue;
        }
        scrape.waiting.add(wid);
        worker.send({ type: 'mapproxy-metrics:collect', id } satisfies MasterMetricsMessage);
      }
      this.#settle(id, scrape);
    });
  }

  #settle(id: number, scrape: Scrape): void {
    if (scrape.waiting.size > 0) return;
    clearTimeout(scrape.timer);
    this.#scrapes.delete(id);
    scrape.resolve([...scrape.responses.values()]);
  }

  /** A worker left: keep `metrics` (its last counts) and stop waiting for it. */
  #depart(wid: number, metrics: readonly MetricJson[] | undefined): void {
    this.#live.delete(wid);
    this.#lastSeen.delete(wid);
    if (metrics) this.#recent.set(wid, summableOnly(metrics));
    if (this.#recent.size > RECENT_DEPARTED) {
      const [oldest, counts] = this.#recent.entries().next().value as [number, readonly MetricJson[]];
      this.#recent.delete(oldest);
      this.#departed = sumMetrics([this.#departed, counts]);
    }
    for (const [id, scrape] of this.#scrapes) {
      // Its counts are in #recent now; a live answer it gave to this scrape would count twice.
      scrape.responses.delete(wid);
      scrape.waiting.delete(wid);
      this.#settle(id, scrape);
    }
  }

  #onExit(wid: number): void {
    // Without a final message (a crash): its last collected registry is the best we know.
    if (this.#live.has(wid)) this.#depart(wid, this.#lastSeen.get(wid));
  }

  #onMessage(worker: Worker, msg: unknown): void {
    if (!isMetricsMessage(msg)) return;
    const m = msg as WorkerMetricsMessage;
    const wid = worker.id;
    switch (m.type) {
      case 'mapproxy-metrics:hello':
        if (!this.#recent.has(wid)) this.#live.add(wid);
        break;
      case 'mapproxy-metrics:collected': {
        const scrape = this.#scrapes.get(m.id);
        if (!scrape || !scrape.waiting.has(wid)) return;
        scrape.waiting.delete(wid);
        if (m.metrics) {
          scrape.responses.set(wid, m.metrics);
          this.#lastSeen.set(wid, m.metrics);
          this.#settle(m.id, scrape);
        } else {
          clearTimeout(scrape.timer);
          this.#scrapes.delete(m.id);
          scrape.reject(new Error(`worker ${wid} could not collect its metrics: ${m.error ?? 'unknown error'}`));
        }
        break;
      }
      case 'mapproxy-metrics:final':
        // May come after the exit event; it replaces the last collected counts either way.
        this.#depart(wid, m.metrics);
        break;
      case 'mapproxy-metrics:render':
        this.render().then(
          (text) => this.#reply(worker, { type: 'mapproxy-metrics:rendered', id: m.id, text }),
          (err: unknown) => this.#reply(worker, { type: 'mapproxy-metrics:rendered', id: m.id, error: (err as Error).message }),
        );
        break;
    }
  }

  #reply(worker: Worker, msg: MasterMetricsMessage): void {
    if (worker.isConnected()) worker.send(msg);
  }
}

let aggregator: MetricsAggregator | undefined;

/**
 * Set up cluster metrics in the master (idempotent). Call before the first `cluster.fork()`:
 * only workers forked afterwards report (they learn it from their environment).
 */
export function createMetricsAggregator(): MetricsAggregator {
  return (aggregator ??= new MetricsAggregator());
}

/** The cluster's metrics as Prometheus text (see `MetricsAggregator.render`). */
export function renderClusterMetrics(): Promise<string> {
  if (!aggregator) return Promise.reject(new Error('createMetricsAggregator() was not called in this process'));
  return aggregator.render();
}

/** Count a worker replacement in the master's `mapproxy_worker_restarts_total`. */
export function countWorkerRestart(reason: RestartReason = 'crash'): void {
  createMetricsAggregator().countWorkerRestart(reason);
}
