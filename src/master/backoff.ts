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
