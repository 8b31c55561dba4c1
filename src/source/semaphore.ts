/**
 * `concurrent_requests: n` as a counting semaphore shared by every process on the host (workers,
 * seeders): n slot files `<lock_dir>/<md5(host:port)>.lck0 … .lck{n-1}`, each locked with
 * proper-lockfile (a `.lock` directory beside it, refreshed while held, taken over when its holder
 * died). MapProxy: `SemLock` over the same names, waiting up to `http.client_timeout` (REFERENCE §2.7).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { LockTimeoutError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { splitCredentials } from './http-client.js';

/** Options of a `FileSemaphore`. */
export interface SemaphoreOptions {
  /** Give up after this long (ms) with `LockTimeoutError`. MapProxy: client_timeout. */
  readonly timeoutMs: number;
  /** A slot whose holder stopped refreshing it this long ago is taken over (ms, ≥ 2000). Default 10 000. */
  readonly staleMs?: number;
  /** Wait between rounds over all slots (ms). MapProxy polls every 10 ms. Default 10. */
  readonly pollMs?: number;
}

/** A held slot; `release` is idempotent. */
export type ReleaseSlot = () => Promise<void>;

/**
 * The lock file base for a source URL: `<lockDir>/<md5(host[:port])>.lck`, the authority as written
 * in the URL without credentials (MapProxy hashes `urlparse(url).netloc`).
 */
export function semaphoreBase(lockDir: string, url: string): string {
  const stripped = splitCredentials(url).url;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(stripped);
  const netloc = m ? m[1] : stripped;
  return path.join(lockDir, createHash('md5').update(netloc).digest('hex') + '.lck');
}

/** A counting semaphore over `n` slot files (`<base>0 … <base>{n-1}`). */
export class FileSemaphore {
  readonly #base: string;
  readonly #n: number;
  readonly #timeoutMs: number;
  readonly #staleMs: number;
  readonly #pollMs: number;
  #dirReady: Promise<unknown> | undefined;

  constructor(base: string, n: number, opts: SemaphoreOptions) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`semaphore needs at least one slot, got ${n}`);
    this.#base = base;
    this.#n = n;
    this.#timeoutMs = opts.timeoutMs;
    this.#staleMs = Math.max(opts.staleMs ?? 10_000, 2000);
    this.#pollMs = opts.pollMs ?? 10;
  }

  /** The slot file names. */
  get slotFiles(): string[] {
    return Array.from({ length: this.#n }, (_, i) => `${this.#base}${i}`);
  }

  /** Take one slot, waiting while all are held; rejects with LockTimeoutError after the timeout. */
  async acquire(): Promise<ReleaseSlot> {
    this.#dirReady ??= mkdir(path.dirname(this.#base), { recursive: true }).catch((err) => {
      this.#dirReady = undefined;
      throw err;
    });
    await this.#dirReady;
    const deadline = Date.now() + this.#timeoutMs;
    // Start at a random slot, as MapProxy does, so waiters spread over the slots.
    const first = Math.floor(Math.random() * this.#n);
    while (true) {
      for (let k = 0; k < this.#n; k++) {
        const release = await this.#tryLock(`${this.#base}${(first + k) % this.#n}`);
        if (release) return release;
      }
      if (Date.now() >= deadline) {
        throw new LockTimeoutError(this.#n === 1 ? `${this.#base}0` : `${this.#base}{0..${this.#n - 1}}`, this.#timeoutMs);
      }
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
    }
  }

  /** Run `fn` while holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  async #tryLock(file: string): Promise<ReleaseSlot | null> {
    try {
      const unlock = await lockfile.lock(file, {
        realpath: false,
        stale: this.#staleMs,
        retries: 0,
        onCompromised: (err) => getLogger('mapproxy.source').warn({ file, err: err.message }, 'concurrent_requests lock compromised'),
      });
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        // A compromised (taken-over) lock fails to release; the slot is someone else's now.
        await unlock().catch(() => undefined);
      };
    } catch (err) {
      if ((err as { code?: string }).code === 'ELOCKED') return null;
      throw err;
    }
  }
}
