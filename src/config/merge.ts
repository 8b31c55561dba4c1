/**
 * How a file and the files it includes with `base:` are merged, following MapProxy 7's loader
 * (REFERENCE.md §2.1): the including file wins; mappings merge deeply; lists are concatenated
 * (base first), except the keys in `REPLACED_LIST_KEYS`, which the including file replaces;
 * `layers` lists merge layer by layer on `name`; an empty list deletes the key.
 */
import { isPlainObject } from './util.js';

/** List-valued keys that replace the base's list instead of extending it. */
export const REPLACED_LIST_KEYS: ReadonlySet<string> = new Set([
  'bbox',
  'tile_size',
  'max_output_pixels',
  'sources',
  'grids',
  'res',
]);

/**
 * Merge `conf` into `base` and return `base` (mutated): keys of `conf` win.
 *
 * MapProxy sets a key to None for an empty list; this deletes it instead, which has the same
 * effect on every later use (a missing key) without leaving a null for the validator to reject.
 * A null in `conf` keeps a base mapping or list (MapProxy skips None there).
 */
export function mergeConfig(
  conf: Record<string, unknown>,
  base: Record<string, unknown>,
): Record<string, unknown> {
  for (const [key, value] of Object.entries(conf)) {
    if (!Object.hasOwn(base, key)) {
      base[key] = value;
      continue;
    }
    const old = base[key];
    if (isPlainObject(old)) {
      if (isPlainObject(value)) base[key] = mergeConfig(value, old);
      else if (value !== null) base[key] = value;
    } else if (Array.isArray(old)) {
      if (value === null) continue;
      if (!Array.isArray(value) || REPLACED_LIST_KEYS.has(key)) base[key] = value;
      else if (key === 'layers') base[key] = mergeLayers(value, old);
      else if (value.length === 0) delete base[key];
      else base[key] = [...old, ...value];
    } else {
      base[key] = value;
    }
  }
  return base;
}

function layerName(layer: unknown): unknown {
  return isPlainObject(layer) ? layer.name : undefined;
}

/**
 * Merge two `layers` lists: a layer of `conf` with the name of a base layer is merged into it (in
 * the base's position, recursively, so child layers merge by name too); the other `conf` layers
 * follow in their order. Layers without a name never match.
 */
export function mergeLayers(conf: readonly unknown[], base: readonly unknown[]): unknown[] {
  const pending = [...conf];
  const out: unknown[] = [];
  for (const baseLayer of base) {
    const name = layerName(baseLayer);
    const idx = name === undefined ? -1 : pending.findIndex((l) => layerName(l) === name);
    if (idx >= 0 && isPlainObject(baseLayer)) {
      const [confLayer] = pending.splice(idx, 1);
      out.push(mergeConfig(confLayer as Record<string, unknown>, baseLayer));
    } else {
      out.push(baseLayer);
    }
  }
  out.push(...pending);
  return out;
}
