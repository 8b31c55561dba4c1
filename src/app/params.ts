/**
 * Query strings as OGC services read them: parameter names are case-insensitive, values keep
 * their case, and a repeated name gives its first value (`get`) or all of them joined with commas
 * (`joined`), as MapProxy reads its request arguments and its request parameters. Decoding follows Python's `parse_qsl`
 * (what MapProxy uses): `+` is a space, bad percent escapes stay as written, invalid UTF-8
 * becomes U+FFFD, blank values are kept.
 */
import type { QueryParams } from '../service/types.js';

const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

/** Percent-decode leniently: runs of valid escapes are decoded as UTF-8, the rest is kept. */
export function decodeQueryComponent(text: string): string {
  const s = text.includes('+') ? text.replace(/\+/g, ' ') : text;
  if (!s.includes('%')) return s;
  return s.replace(PERCENT_RUN, (run) => {
    const bytes = Buffer.alloc(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return bytes.toString('utf8');
  });
}

/** Case-insensitive parameters: the first value, and every value of a repeated name. */
class CaseInsensitiveParams implements QueryParams {
  readonly #values = new Map<string, string>();
  readonly #names: string[] = [];
  /** Every value of the names sent more than once, in order. */
  #repeated: Map<string, string[]> | null = null;

  constructor(query: string) {
    if (query.length === 0) return;
    for (const part of query.split('&')) {
      if (part.length === 0) continue;
      const eq = part.indexOf('=');
      const name = decodeQueryComponent(eq < 0 ? part : part.slice(0, eq));
      const key = name.toLowerCase();
      const value = eq < 0 ? '' : decodeQueryComponent(part.slice(eq + 1));
      const first = this.#values.get(key);
      if (first !== undefined) {
        this.#repeated ??= new Map();
        const all = this.#repeated.get(key);
        if (all) all.push(value);
        else this.#repeated.set(key, [first, value]);
        continue;
      }
      this.#values.set(key, value);
      this.#names.push(name);
    }
  }

  get(name: string): string | undefined {
    return this.#values.get(name.toLowerCase());
  }

  joined(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.#repeated?.get(key)?.join(',') ?? this.#values.get(key);
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  keys(): string[] {
    return this.#names.slice();
  }
}

const EMPTY: QueryParams = new CaseInsensitiveParams('');

/** Parse a query string (without the leading `?`). */
export function parseQuery(query: string): QueryParams {
  return query.length === 0 ? EMPTY : new CaseInsensitiveParams(query);
}
