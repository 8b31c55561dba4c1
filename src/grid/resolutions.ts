/**
 * The resolution list of a grid from its configuration (MapProxy's `tile_grid()` rules,
 * REFERENCE.md §2.3): explicit `res`, `res_factor` pyramids, `min_res`/`max_res` (log-spaced with
 * `num_levels`, else divided down with max_res excluded) and `align_resolutions_with`.
 */
import { pyRound } from './pyfloat.js';
import type { Bbox, Size } from './types.js';

/** `res_factor`: a number (default 2) or `'sqrt2'`. */
export type ResFactor = number | 'sqrt2';

/** Inputs of the computed resolution rules. */
export interface ResolutionOptions {
  /** The grid bbox in grid units; gives the default `min_res` (one tile covers it). */
  readonly bbox: Bbox;
  readonly tileSize: Size;
  readonly resFactor?: ResFactor;
  readonly numLevels?: number;
  readonly minRes?: number;
  readonly maxRes?: number;
}

/** `max(width / tile width, height / tile height)`: the resolution at which one tile covers the bbox. */
export function initialResolution(bbox: Bbox, tileSize: Size): number {
  return Math.max((bbox[2] - bbox[0]) / tileSize[0], (bbox[3] - bbox[1]) / tileSize[1]);
}

function factorValue(f: ResFactor | undefined): number {
  if (f === undefined) return 2;
  return f === 'sqrt2' ? Math.SQRT2 : f;
}

/** An explicit `res:` list, sorted coarse to fine. */
export function sortedResolutions(res: readonly number[]): number[] {
  return [...res].sort((a, b) => b - a);
}

/**
 * Resolutions from `min_res`, `max_res`, `num_levels` and `res_factor` (MapProxy's rules 2–5):
 * - max_res and num_levels: `num_levels` values evenly spaced in log10 from min_res to max_res;
 * - max_res only: divide by the factor while the next value is still above max_res (MapProxy stops
 *   when `max_res >= next`, so max_res itself never appears);
 * - otherwise `num_levels` (20, or 40 for √2) values `min_res / factor^i`.
 * `min_res` defaults to the resolution at which one tile covers the bbox.
 */
export function computeResolutions(opts: ResolutionOptions): number[] {
  const factor = factorValue(opts.resFactor);
  const minRes = opts.minRes || initialResolution(opts.bbox, opts.tileSize);
  const maxRes = opts.maxRes;
  if (maxRes) {
    if (opts.numLevels) {
      const start = Math.log10(minRes);
      const step = (start - Math.log10(maxRes)) / (opts.numLevels - 1);
      return Array.from({ length: opts.numLevels }, (_, i) => 10 ** (start - step * i));
    }
    const res = [minRes];
    while (true) {
      const next = res[res.length - 1] / factor;
      if (maxRes >= next) break;
      res.push(next);
    }
    return res;
  }
  const numLevels = opts.numLevels || (factor === Math.SQRT2 ? 40 : 20);
  const res = [minRes];
  // Repeated division, not min_res / factor**i: the last bits differ and MapProxy divides.
  while (res.length < numLevels) res.push(res[res.length - 1] / factor);
  return res;
}

/**
 * `align_resolutions_with`: the other grid's resolutions between min_res and max_res, cut to
 * num_levels, then converted between factor 2 and √2 when the other grid uses the other factor
 * (√2 from a factor-2 grid inserts `r/√2` after each `r`; 2 from a √2 grid keeps every second).
 * Factors are compared rounded to 8 decimals, as MapProxy does. Returns fewer than two values
 * when the range leaves fewer; the caller reports that.
 */
export function alignedResolutions(alignWith: readonly number[], opts: ResolutionOptions): number[] {
  const minRes = opts.minRes || initialResolution(opts.bbox, opts.tileSize);
  let res = alignWith.filter((r) => r <= minRes);
  if (opts.maxRes) {
    const maxRes = opts.maxRes;
    res = res.filter((r) => r >= maxRes);
  }
  if (opts.numLevels) res = res.slice(0, opts.numLevels);
  if (res.length < 2) return res;
  const calculated = pyRound(res[0] / res[1], 8);
  const sqrt2 = pyRound(Math.SQRT2, 8);
  const wanted = opts.resFactor ?? 2;
  if (wanted === 'sqrt2' && calculated !== sqrt2) {
    if (calculated === 2) res = res.flatMap((r) => [r, r / Math.SQRT2]);
  } else if (wanted === 2 && calculated !== 2) {
    if (calculated === sqrt2) res = res.filter((_, i) => i % 2 === 0);
  }
  return res;
}
