/**
 * Answers given again without asking the service: the router's short cut for cache hits whose
 * tile version the storage still holds. A tile answer built from such a version (`replay` of a
 * `ServiceResponse`) is remembered under the request that produced it, and the same request is
 * answered with the same status line, headers and bytes while that version can be given:
 * - held in the memory tier and fresh (`HeldTile.isFresh()`: checked against its file within the
 *   tier's revalidate bound): a map lookup and a socket write;
 * - else through the version's open file (`HeldFile.read`: one pread, after one stat when due,
 *   which also puts the tile back into a tier), in the fast lane and in node:http's replay.
 * Either way the answer can never be older than what the full path would have served: the same
 * bound, the same bytes.
 *
 * The request key is what decides the answer: the request target as sent and `X-Script-Name`
 * (the services read the path below it). Only GET without If-None-Match / If-Modified-Since is
 * answered here; everything else takes the full path. The map is bounded in entries; it refers to
 * the tier's entries weakly, so it never keeps a tile in memory that the tier has let go.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { HeldFile, HeldTile } from '../cache/types.js';

/** What is given again. */
export interface HotAnswer {
  readonly headers: OutgoingHttpHeaders;
  /** Service label of the request metrics. */
  readonly label: string;
  /** Cache whose hit it counts as. */
  readonly cache: string | undefined;
}

/**
 * A remembered answer and the tile version it gives. A class, so that thousands of slots share
 * one object shape (spread literals gave each slot its own, about 600 bytes more per slot).
 */
export class Slot implements HotAnswer {
  constructor(
    readonly headers: OutgoingHttpHeaders,
    readonly label: string,
    readonly cache: string | undefined,
    /** The version in memory (weakly: the tier decides how long); replaced when read again. */
    public tile: WeakRef<HeldTile> | undefined,
    /** The version's open file, when the storage keeps it open. */
    readonly file: HeldFile | undefined,
  ) {}

  /**
   * The version's bytes through its open file, or null when there is none or it can no longer
   * give this version (a full load must answer). A copy the read put back into memory is held.
   */
  readFile(done: (data: Buffer | null) => void): void {
    if (this.file === undefined) {
      done(null);
      return;
    }
    this.file.read((read) => {
      if (read === null) {
        done(null);
        return;
      }
      if (read.held !== undefined) this.tile = new WeakRef(read.held);
      done(read.data);
    });
  }
}

/**
 * A replayable answer for a worker's fast lane (src/worker/fast-lane.ts), which reads requests off
 * the socket itself: the headers of the 200 and its body.
 */
export interface FastAnswer {
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  /** Count it as served: called once it is written (set when the answer was settled later). */
  readonly served?: () => void;
}

/**
 * An answer that needs the disk first: its tile is held but due for its check against the file
 * (one stat), or only its open file is left (one pread). `settle` gives the answer when the
 * version is still the file's (counted as served once written: `FastAnswer.served`), else undefined.
 */
export interface PendingAnswer {
  settle(done: (answer: FastAnswer | undefined) => void): void;
}

/**
 * Look up the answer to a plain GET of `url` (the request target as sent) with `scriptName` (the
 * X-Script-Name header, if any): a fresh answer (counted as served), a pending one, or undefined
 * when the full path must answer.
 */
export type FastAnswerLookup = (url: string, scriptName: string | undefined) => FastAnswer | PendingAnswer | undefined;

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

  /**
   * The answer and bytes for `key` while its tile is fresh in memory. A slot with nothing left to
   * give (no tile in memory, no open file) is forgotten.
   */
  get(key: string): { answer: HotAnswer; body: Buffer } | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    const tile = slot.tile?.deref();
    if (tile === undefined || !tile.isFresh()) {
      if (slot.file === undefined) this.#slots.delete(key);
      return undefined;
    }
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return { answer: slot, body: tile.data };
  }

  /**
   * The slot of `key` while it has something to give (a tile in memory, fresh or not, or an open
   * file: the caller checks, revalidates or reads); one with nothing left is forgotten. Does not
   * count as a use.
   */
  peek(key: string): Slot | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.file === undefined && slot.tile?.deref() === undefined) {
      this.#slots.delete(key);
      return undefined;
    }
    return slot;
  }

  /** Remember `headers` as the answer to `key`, given with the bytes of `version`. */
  set(key: string, version: { readonly held?: HeldTile; readonly file?: HeldFile }, answer: HotAnswer): void {
    if (this.max === 0 || (version.held === undefined && version.file === undefined)) return;
    this.#slots.delete(key);
    const tile = version.held === undefined ? undefined : new WeakRef(version.held);
    this.#slots.set(key, new Slot(answer.headers, answer.label, answer.cache, tile, version.file));
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
