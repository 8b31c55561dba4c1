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

/**
 * A replayable answer for a worker's fast lane (src/worker/fast-lane.ts), which reads requests off
 * the socket itself: the headers of the 200 and its body.
 */
export interface FastAnswer {
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
}

/**
 * An answer whose tile is held but due for its check against the file: `revalidate` stats the
 * file and gives the answer when the tile is unchanged (counted as served then), else undefined.
 */
export interface DueAnswer {
  revalidate(done: (answer: FastAnswer | undefined) => void): void;
}

/**
 * Look up the answer to a plain GET of `url` (the request target as sent) with `scriptName` (the
 * X-Script-Name header, if any): a fresh answer (counted as served), a due one, or undefined when
 * the full path must answer.
 */
export type FastAnswerLookup = (url: string, scriptName: string | undefined) => FastAnswer | DueAnswer | undefined;

/** The key of a plain GET (see `keyOf`). */
export function hotKey(url: string, scriptName: string | undefined): string {
  return scriptName === undefined ? url : `${url}\n${scriptName}`;
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
    return hotKey(req.url ?? '/', script === undefined ? undefined : String(script));
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

  /**
   * The answer and tile for `key` while the tile is held, fresh or not (the caller checks or
   * revalidates); one no longer held is forgotten. Does not count as a use.
   */
  peek(key: string): { answer: HotAnswer; tile: HeldTile } | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    const tile = slot.tile.deref();
    if (tile === undefined) {
      this.#slots.delete(key);
      return undefined;
    }
    return { answer: slot, tile };
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
