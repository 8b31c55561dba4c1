/**
 * Which file of a configuration and its `base:` includes a YAML path comes from, so that a problem
 * found after the files were merged names the file to edit: `caches.osm.grids[0]: unknown grid
 * "x" (in base.yaml)`. The loader records each file's mapping keys as it reads them (before the
 * merge, which changes the mappings); a path belongs to the file that sets its deepest mapping
 * key, and of files setting the same key to the one that wins the merge. Lists are not followed
 * (`layers` merge by name, other lists are joined): a path into one belongs to where the list is.
 */
import { isPlainObject } from './util.js';

/** One file's mapping keys (nested mappings as nested trees; anything else as `true`). */
export type KeyTree = { readonly [key: string]: KeyTree | true };

/** The files of one load, in the order the merge lets them win (the main file first). */
export interface ConfigOrigin {
  readonly file: string;
  readonly keys: KeyTree;
}

/** The key tree of a parsed document. */
export function keyTree(doc: Record<string, unknown>): KeyTree {
  // No prototype: a key named __proto__ is a key like any other.
  const out = Object.create(null) as Record<string, KeyTree | true>;
  for (const [k, v] of Object.entries(doc)) out[k] = isPlainObject(v) ? keyTree(v) : true;
  return out;
}

/** The mapping keys of a formatted YAML path (`a.b["c.d"][2].e` → a, b, c.d), up to the first list index. */
export function pathKeys(path: string): string[] {
  const keys: string[] = [];
  const re = /^(?:\.?([A-Za-z0-9_-]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\])/;
  let rest = path;
  while (rest !== '') {
    const m = re.exec(rest);
    if (m === null || m[3] !== undefined) break;
    keys.push(m[1] ?? (JSON.parse(`"${m[2]}"`) as string));
    rest = rest.slice(m[0].length);
  }
  return keys;
}

/** The file `path` comes from (see the module comment); undefined for no path or no file. */
export function originOf(path: string, origins: readonly ConfigOrigin[]): string | undefined {
  const keys = pathKeys(path);
  let best: { file: string; depth: number } | undefined;
  for (const o of origins) {
    let node: KeyTree | true = o.keys;
    let depth = 0;
    for (const k of keys) {
      if (node === true || !Object.hasOwn(node, k)) break;
      node = node[k];
      depth++;
    }
    if (depth > 0 && (best === undefined || depth > best.depth)) best = { file: o.file, depth };
  }
  return best?.file;
}
