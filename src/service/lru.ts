/**
 * A tiny least-recently-used map for documents that depend on the request's base URL
 * (capabilities): a handful of hosts/proxies in practice, so a few entries bound the memory, and
 * a bound on their total size keeps crafted hosts (a 15 KB X-Forwarded-Host repeated in every
 * URL of a 200-layer document: 2 MB each) from holding hundreds of MB.
 */

/** Default bound on the total size of an Lru's values (characters of the documents). */
export const LRU_MAX_SIZE = 8 * 1024 * 1024;

/**
 * Map with a size limit; `get` refreshes an entry, `set` evicts the oldest beyond the limit of
 * entries or of total size (`sizeOf`, default: a string's length). A value larger than the whole
 * size bound is not kept.
 */
export class Lru<V> {
  readonly #max: number;
  readonly #maxSize: number;
  readonly #sizeOf: (value: V) => number;
  readonly #map = new Map<string, V>();
  #size = 0;

  constructor(max: number, maxSize = LRU_MAX_SIZE, sizeOf: (value: V) => number = (v) => (typeof v === 'string' ? v.length : 0)) {
    this.#max = Math.max(1, max);
    this.#maxSize = maxSize;
    this.#sizeOf = sizeOf;
  }

  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#delete(key);
    const size = this.#sizeOf(value);
    if (size > this.#maxSize) return;
    this.#map.set(key, value);
    this.#size += size;
    while (this.#map.size > this.#max || this.#size > this.#maxSize) {
      this.#delete(this.#map.keys().next().value as string);
    }
  }

  #delete(key: string): void {
    const old = this.#map.get(key);
    if (old === undefined) return;
    this.#map.delete(key);
    this.#size -= this.#sizeOf(old);
  }

  /** Total size of the values kept. */
  get totalSize(): number {
    return this.#size;
  }

  get size(): number {
    return this.#map.size;
  }
}
