/**
 * How many image jobs (libvips operations through sharp, zlib deflates of paletted PNGs) one process
 * has on libuv's thread pool at once. The pool is FIFO and shared with the file reads of cache hits:
 * a meta tile's sixteen encodes queued at once put every hit of that worker behind them. Capped at
 * one thread fewer than the pool has, image work leaves a thread for everything else: a hit waits
 * for other file work (reads, and the stores and stats of misses) and, only while a DNS lookup
 * holds a thread too, for one image job, never for a queue of encodes.
 */
import { channel } from 'node:diagnostics_channel';

/**
 * The pool libuv makes of UV_THREADPOOL_SIZE (the `serve` master sets it, or passes its own on): 4
 * when unset, else its leading number (atoi: none is 0) read as unsigned, 0 as 1, at most 1024; so
 * a negative number gives 1024, as in libuv's threadpool.c. (Numbers past 2^31, which atoi wraps,
 * are reported as 1024.)
 */
export function libuvPoolSize(value: string | undefined): number {
  if (value === undefined) return 4;
  const n = Number.parseInt(value, 10);
  if (Number.isNaN(n) || n === 0) return 1;
  return n < 0 ? 1024 : Math.min(n, 1024);
}

/** Image jobs at once for a pool of `poolSize` threads: all but one, at least one. */
export function imageJobLimit(poolSize: number): number {
  return Math.max(1, poolSize - 1);
}

/** Every job, when it gets its slot: `{ ms }` waited (src/metrics/channels.ts, `imageJob`). */
const jobChannel = channel('mapproxy:image:job');

let limit = imageJobLimit(libuvPoolSize(process.env.UV_THREADPOOL_SIZE));
let running = 0;
const waiting: Array<() => void> = [];

/** Set the cap (`serve --image-jobs`; tests). Jobs already running keep running. */
export function setImageJobLimit(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`image job limit must be a whole number ≥ 1, got ${n}`);
  limit = n;
  while (running < limit && waiting.length > 0) {
    running++;
    waiting.shift()!();
  }
}

/** The cap in force and the jobs running and waiting now (for tests and diagnostics). */
export function imageJobState(): { limit: number; running: number; waiting: number } {
  return { limit, running, waiting: waiting.length };
}

/**
 * Run `job` (one thread-pool job: a sharp `toBuffer`, a deflate) when fewer than the cap are
 * running; jobs start in the order they asked.
 */
export async function onImagePool<T>(job: () => Promise<T>): Promise<T> {
  if (running < limit) {
    running++;
    if (jobChannel.hasSubscribers) jobChannel.publish({ ms: 0 });
  } else {
    const since = performance.now();
    await new Promise<void>((resolve) => waiting.push(resolve));
    if (jobChannel.hasSubscribers) jobChannel.publish({ ms: performance.now() - since });
  }
  try {
    return await job();
  } finally {
    // The slot goes straight to the next waiter, unless the cap was lowered meanwhile.
    if (running <= limit && waiting.length > 0) waiting.shift()!();
    else running--;
  }
}
