/**
 * Answers given again without asking the service: the router's short cut for cache hits served
 * from the memory tier. A tile answer built from a tile version held in memory (`replay` of a
 * `ServiceResponse`) is remembered under the request that produced it, and the same request is
 * answered with the same status line, headers and bytes while that version is fresh in the tier
 * (`HeldTile.isFresh()`: still held, and checked against its file within the tier's revalidate
 * bound). So a hot tile costs a map lookup and a socket write, and can never be older than what
 * the full path would have served: the same bound, the same bytes.
 *
 * The request key is what decides the answer: the request target as sent and `X-Script-Name`
 * (the services read the path below it). Only GET without If-None-Match / If-Modified-Since is
 * answered here; everything else takes the full path. The map is bounded in entries; it refers to
 * the tier's entries weakly, so it never keeps a tile in memory that the tier has let go.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { HeldTile } from '../cache/types.js';

/** What is given again. */
export interface HotAnswer {
  readonly headers: OutgoingHttpHeaders;
  /** Service label of the request metrics. */
  readonly label: string;
  /** Cache whose hit it counts as. */
  readonly cache: string | undefined;
}

interface Slot extends HotAnswer {
  readonly tile: WeakRef<HeldTile>;
}

/** Default bound: answers remembered per app. */
export const DEFAULT_HOT_ANSWERS = 4096;

/** A count-bounded LRU of answers to replay. */
export class HotAnswers {
  readonly max: number;
  readonly #slots = new Map<string, Slot>();

  constructor(max = DEFAULT_HOT_ANSWERS) {
    this.max = Math.max(0, Math.floor(max));
  }

  /**
   * The key of `req` when it may be answered from here (GET, no conditional headers), else null.
   */
  static keyOf(req: IncomingMessage): string | null {
    if (req.method !== 'GET') return null;
    const h = req.headers;
    if (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) return null;
    const script = h['x-script-name'];
    const url = req.url ?? '/';
    return script === undefined ? url : `${url}\n${String(script)}`;
  }

  /** The answer and tile for `key` while the tile is fresh; a stale one is forgotten. */
  get(key: string): { answer: HotAnswer; body: Buffer } | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    const tile = slot.tile.deref();
    if (tile === undefined || !tile.isFresh()) {
      this.#slots.delete(key);
      return undefined;
    }
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return { answer: slot, body: tile.data };
  }

  /** Remember `headers` as the answer to `key`, given with the bytes of `tile`. */
  set(key: string, tile: HeldTile, answer: HotAnswer): void {
    if (this.max === 0) return;
    this.#slots.delete(key);
    this.#slots.set(key, { ...answer, tile: new WeakRef(tile) });
    if (this.#slots.size > this.max) {
      const oldest = this.#slots.keys().next().value;
      if (oldest !== undefined) this.#slots.delete(oldest);
    }
  }

  get size(): number {
    return this.#slots.size;
  }

  clear(): void {
    this.#slots.clear();
  }
}
