/**
 * Bbox helpers with MapProxy's exact comparison rules (strict intersection, tolerant containment
 * and equality), plus parsing of the bbox forms a configuration may use.
 */
import type { Bbox, Size } from './types.js';

/** True when the two bboxes overlap with a positive area (touching edges do not count). */
export function bboxIntersects(a: Bbox, b: Bbox): boolean {
  return a[0] < b[2] && a[2] > b[0] && a[1] < b[3] && a[3] > b[1];
}

/** True when `outer` contains `inner`, allowing a rounding error of 1/1e13 of the outer size. */
export function bboxContains(outer: Bbox, inner: Bbox): boolean {
  const dx = Math.abs(outer[2] - outer[0]) / 10e12;
  const dy = Math.abs(outer[3] - outer[1]) / 10e12;
  return outer[0] <= inner[0] + dx && outer[2] >= inner[2] - dx && outer[1] <= inner[1] + dy && outer[3] >= inner[3] - dy;
}

/** The union of two bboxes. */
export function mergeBbox(a: Bbox, b: Bbox): Bbox {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

/**
 * Nearly equal bboxes: every coordinate within `xDelta` (x) and `yDelta` (y). MapProxy's
 * default delta is a millionth of the first bbox's width, for both axes.
 */
export function bboxEquals(a: Bbox, b: Bbox, xDelta?: number, yDelta?: number): boolean {
  const dx = xDelta ?? Math.abs(a[0] - a[2]) / 1e6;
  const dy = yDelta ?? dx;
  // MapProxy compares miny against the x delta and maxx against the y delta; kept as is.
  return Math.abs(a[0] - b[0]) < dx && Math.abs(a[1] - b[1]) < dx && Math.abs(a[2] - b[2]) < dy && Math.abs(a[3] - b[3]) < dy;
}

/** The resolution needed to draw `bbox` into `size` pixels: `min(w / width, h / height)`. */
export function requestResolution(bbox: Bbox, size: Size): number {
  return Math.min(Math.abs(bbox[0] - bbox[2]) / size[0], Math.abs(bbox[1] - bbox[3]) / size[1]);
}

/**
 * Parse a bbox given as four numbers or as the string `"minx,miny,maxx,maxy"`. Returns undefined
 * when the value is neither; no ordering check.
 */
export function parseBbox(value: unknown): Bbox | undefined {
  let parts: unknown[];
  if (typeof value === 'string') parts = value.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  else if (Array.isArray(value)) parts = value;
  else return undefined;
  if (parts.length !== 4 || !parts.every((p) => typeof p === 'number' && Number.isFinite(p))) return undefined;
  const [a, b, c, d] = parts as number[];
  return [a, b, c, d];
}
