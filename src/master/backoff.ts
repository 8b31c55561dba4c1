/**
 * When to restart a crashed worker and when to give up: exponential backoff over the crashes of
 * a recent window, and a crash loop — workers that keep dying before they ever listen — ends the
 * master instead of restarting forever (a configuration or environment that cannot work).
 */

/** Options of `RestartPolicy`. */
export interface RestartPolicyOptions {
  /** Delay after a first crash (100 ms). */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay (10 s). */
  readonly maxDelayMs?: number;
  /** Crashes older than this no longer count towards the delay (30 s). */
  readonly windowMs?: number;
  /** This many workers in a row dying before they listen is a crash loop (5). */
  readonly maxStartFailures?: number;
}

/** What to do after a crash. */
export type CrashVerdict = { readonly restartInMs: number } | { readonly giveUp: string };

/** The restart policy of one master. */
export class RestartPolicy {
  readonly #initial: number;
  readonly #max: number;
  readonly #window: number;
  readonly #maxStartFailures: number;
  #crashes: number[] = [];
  #startFailures = 0;

  constructor(opts: RestartPolicyOptions = {}) {
    this.#initial = opts.initialDelayMs ?? 100;
    this.#max = opts.maxDelayMs ?? 10_000;
    this.#window = opts.windowMs ?? 30_000;
    this.#maxStartFailures = opts.maxStartFailures ?? 5;
  }

  /** A worker is listening: the start failures so far were not a loop. */
  ready(): void {
    this.#startFailures = 0;
  }

  /**
   * A worker exited without being asked to, at `now` (ms), `beforeReady` if it never listened.
   * The delay doubles with each crash in the window: 100 ms, 200 ms, 400 ms … up to the maximum.
   */
  crashed(now: number, beforeReady: boolean): CrashVerdict {
    this.#crashes = this.#crashes.filter((t) => now - t < this.#window);
    this.#crashes.push(now);
    if (beforeReady) {
      this.#startFailures++;
      if (this.#startFailures >= this.#maxStartFailures) {
        return { giveUp: `${this.#startFailures} workers in a row exited before they were listening` };
      }
    }
    const n = this.#crashes.length;
    return { restartInMs: Math.min(this.#initial * 2 ** (n - 1), this.#max) };
  }
}

/** Options of `LostConnectionPolicy`. */
export interface LostConnectionPolicyOptions {
  /** This many lost hand-overs within `windowMs` are a loop (5). */
  readonly maxInWindow?: number;
  /** The window of that count (5 minutes). */
  readonly windowMs?: number;
  /** Lost hand-overs over the master's life that are too many (at least 16). */
  readonly maxTotal?: number;
}

/**
 * When a master whose workers keep losing connection hand-overs (src/master/master.ts,
 * `#onHandleLost`) should give up rather than replace yet another worker: each loss leaves the
 * master a socket it can never close, so a worker that runs out of descriptors as soon as it
 * starts would have the master collect them until it runs out itself. A loop (several losses
 * within minutes) or a total of losses beyond what the master's own descriptors can spare ends
 * it, for its supervisor to start a fresh one.
 */
export class LostConnectionPolicy {
  readonly #maxInWindow: number;
  readonly #window: number;
  readonly #maxTotal: number;
  #recent: number[] = [];
  #total = 0;

  constructor(opts: LostConnectionPolicyOptions = {}) {
    this.#maxInWindow = opts.maxInWindow ?? 5;
    this.#window = opts.windowMs ?? 5 * 60_000;
    this.#maxTotal = Math.max(16, opts.maxTotal ?? 16);
  }

  /** A hand-over was lost at `now` (ms): why to give up, or undefined to replace the worker. */
  lost(now: number): string | undefined {
    this.#total++;
    this.#recent = this.#recent.filter((t) => now - t < this.#window);
    this.#recent.push(now);
    if (this.#recent.length >= this.#maxInWindow) {
      return `${this.#recent.length} connections could not be handed to a worker within ${Math.round(this.#window / 60_000)} minutes`;
    }
    if (this.#total >= this.#maxTotal) return `${this.#total} connections could not be handed to a worker since the start`;
    return undefined;
  }
}
