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
import type { HeldFile, HeldTile, ReadBuffer } from '../cache/types.js';

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
   * With `into`, the bytes may be in a buffer it lent (`lent`; see `HeldFile.read`).
   */
  readFile(done: (data: Buffer | null, lent: boolean) => void, into?: ReadBuffer): void {
    if (this.file === undefined) {
      done(null, false);
      return;
    }
    this.file.read((read) => {
      if (read === null) {
        done(null, false);
        return;
      }
      if (read.held !== undefined) this.tile = new WeakRef(read.held);
      done(read.data, read.lent === true);
    }, into);
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
  /**
   * Set when `body` is a view of a buffer lent by these: once written, the body is given back,
   * with whether the socket kept any of it.
   */
  readonly lent?: LentBuffers;
}

/** Smallest buffer lent (most tiles fit). */
const LENT_MIN_BYTES = 64 * 1024;
/** Larger tiles are read into a buffer of their own: a kept loan must not pin much memory. */
const LENT_MAX_BYTES = 1024 * 1024;
/** Bytes of free buffers kept for later loans. */
const FREE_MAX_BYTES = 2 * 1024 * 1024;

/**
 * Buffers a worker lends for hits read from kept-open files (`HeldFile.read` and `readNow`): read
 * into, written to the socket, and given back once the kernel has taken every byte, so a hit
 * allocates no buffer. A new 20 KiB buffer per hit cost about as much CPU as the thread pool's
 * round trip (bench/lib/node-floor.mjs: modes heldfd, reuse, scratch). When a write cannot finish
 * at once (a slow client, a full socket buffer), the socket keeps that buffer until it is sent,
 * and it is never lent again. Free buffers are kept up to `FREE_MAX_BYTES`.
 */
export class LentBuffers implements ReadBuffer {
  readonly #free: ArrayBuffer[] = [];
  #freeBytes = 0;
  /** Buffers left to writes the socket could not finish at once. */
  kept = 0;

  take(bytes: number): Buffer | undefined {
    if (bytes > LENT_MAX_BYTES) return undefined;
    const ab = this.#free.pop();
    if (ab !== undefined) this.#freeBytes -= ab.byteLength;
    // One too small is let go of: the buffers grow to the largest tile lent.
    if (ab === undefined || ab.byteLength < bytes) return Buffer.allocUnsafeSlow(Math.max(LENT_MIN_BYTES, Math.ceil(bytes / 16384) * 16384));
    return Buffer.from(ab);
  }

  /**
   * After the answer whose body (`lent`, a view of a lent buffer) was written: back to the free
   * buffers when `sent` (the socket holds none of it).
   */
  give(lent: Buffer, sent: boolean): void {
    if (!sent) {
      this.kept++;
      return;
    }
    const ab = lent.buffer as ArrayBuffer;
    // Only buffers as `take` makes them (never a slice of Node's shared 8 KiB pool, nor a large
    // tile's own buffer).
    if (ab.byteLength < LENT_MIN_BYTES || ab.byteLength > LENT_MAX_BYTES || this.#freeBytes + ab.byteLength > FREE_MAX_BYTES) return;
    this.#free.push(ab);
    this.#freeBytes += ab.byteLength;
  }
}

/**
 * The lent buffers of this process (apps of a MultiMapProxy share them): each loan is written out
 * before it is given back.
 */
export const lentBuffers = new LentBuffers();

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
 * X-Script-Name header, if any): a fresh answer (counted as served; written before anything else
 * runs, as its body may be lent), a pending one, or undefined when the full path must answer.
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
