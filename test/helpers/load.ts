/**
 * A bounded HTTP load generator for tests (no wrk needed): N keep-alive connections (an undici
 * Pool, one request at a time per connection) send GET requests for a list of URLs in turn
 * until a deadline or `stop()`, and every request is recorded — start and end time, status or
 * error code — so a test can tell which requests were in flight at a given moment.
 */
import { Pool } from 'undici';

/** One request as the load generator saw it. */
export interface LoadRecord {
  readonly path: string;
  /** `Date.now()` when it was sent and when it finished (answer read, or failed). */
  readonly start: number;
  end: number;
  status?: number;
  /** The response's `Connection` header when it was not a 200. */
  connection?: string;
  /** Error code (`ECONNREFUSED`, `ECONNRESET`, `UND_ERR_SOCKET`, …) when no answer came. */
  error?: string;
}

/** Options of `startLoad`. */
export interface LoadOptions {
  /** `http://127.0.0.1:port` */
  readonly origin: string;
  /** Paths (with query) requested round-robin. */
  readonly paths: readonly string[];
  readonly connections: number;
  /** Stop sending after this long (ms); `stop()` ends it sooner. */
  readonly durationMs: number;
  /** Stop sending after this many requests in all. */
  readonly totalRequests?: number;
  /** Per-request bound for headers and body (ms, default 30 s). */
  readonly timeoutMs?: number;
  /** Pause of a connection's loop after a failed request, so refused connections do not spin (ms, 20). */
  readonly pauseAfterErrorMs?: number;
}

/** Summary of a run. */
export interface LoadResult {
  readonly records: readonly LoadRecord[];
  /** Count per HTTP status. */
  readonly statuses: Readonly<Record<number, number>>;
  /** Count per error code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Requests whose connection was reset or closed before the answer. */
  readonly resets: number;
}

/** A running load. */
export interface Load {
  /** Requests sent so far (finished or not). */
  readonly records: readonly LoadRecord[];
  /** Requests sent and not yet finished. */
  inFlight(): LoadRecord[];
  /** Stop sending, wait for the requests in flight, close the pool (idempotent). */
  stop(): Promise<LoadResult>;
  /** Resolves when the deadline passed and every loop finished (then call `stop()` for the result). */
  readonly finished: Promise<void>;
}

const RESET_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'UND_ERR_CLOSED']);

/** Summarise records. */
export function summarize(records: readonly LoadRecord[]): LoadResult {
  const statuses: Record<number, number> = {};
  const errors: Record<string, number> = {};
  let resets = 0;
  for (const r of records) {
    if (r.status !== undefined) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.error !== undefined) {
      errors[r.error] = (errors[r.error] ?? 0) + 1;
      if (RESET_CODES.has(r.error)) resets++;
    }
  }
  return { records, statuses, errors, resets };
}

/** Start sending load; see `LoadOptions`. */
export function startLoad(opts: LoadOptions): Load {
  const timeout = opts.timeoutMs ?? 30_000;
  const pool = new Pool(opts.origin, { connections: opts.connections, pipelining: 1, headersTimeout: timeout, bodyTimeout: timeout });
  const records: LoadRecord[] = [];
  const open = new Set<LoadRecord>();
  const deadline = Date.now() + opts.durationMs;
  let stopped = false;
  let closing: Promise<LoadResult> | undefined;
  let next = 0;
  const pause = opts.pauseAfterErrorMs ?? 20;

  const loop = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline && records.length < (opts.totalRequests ?? Infinity)) {
      const path = opts.paths[next++ % opts.paths.length];
      const rec: LoadRecord = { path, start: Date.now(), end: 0 };
      records.push(rec);
      open.add(rec);
      try {
        const res = await pool.request({ path, method: 'GET' });
        await res.body.arrayBuffer();
        rec.status = res.statusCode;
        if (res.statusCode !== 200) rec.connection = String(res.headers.connection ?? '');
      } catch (err) {
        const e = err as { code?: string; cause?: { code?: string }; name?: string };
        rec.error = e.code ?? e.cause?.code ?? e.name ?? 'unknown';
      } finally {
        rec.end = Date.now();
        open.delete(rec);
      }
      if (rec.error !== undefined) await new Promise((r) => setTimeout(r, pause));
    }
  };
  const finished = Promise.all(Array.from({ length: opts.connections }, loop)).then(() => undefined);
  return {
    records,
    inFlight: () => [...open],
    finished,
    stop() {
      stopped = true;
      closing ??= finished.then(() => pool.close()).then(() => summarize(records));
      return closing;
    },
  };
}
