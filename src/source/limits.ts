/**
 * Where a source answers at all: resolution ranges (min/max res or scale), bbox coverages and
 * the sub-request of a query that only partly overlaps a coverage (MapProxy's
 * `ResolutionRange.contains`, `coverage.intersects` and `bbox_position_in_image`, REFERENCE §2.4).
 */
import type { Bbox, Size, Srs } from '../grid/types.js';
import { bboxContains, bboxIntersects } from '../grid/bbox.js';
import type { BboxCoverage, ResRange } from './config.js';

/** Metres per degree at the equator, as MapProxy converts degrees for resolution checks. */
const M_PER_DEG = (6378137 * 2 * Math.PI) / 360;

/**
 * Whether a request of `bbox` (in `srs`) at `size` pixels lies in the range: `max_res ≤ r` and
 * `r < min_res + 1e-6` for both the x and the y resolution, degrees converted to metres.
 */
export function resRangeContains(range: ResRange, bbox: Bbox, size: Size, srs: Srs): boolean {
  let w = Math.abs(bbox[2] - bbox[0]);
  let h = Math.abs(bbox[3] - bbox[1]);
  if (srs.isLatLong) {
    w *= M_PER_DEG;
    h *= M_PER_DEG;
  }
  const xRes = w / size[0];
  const yRes = h / size[1];
  if (range.minRes) {
    const min = range.minRes + 1e-6;
    if (min <= xRes || min <= yRes) return false;
  }
  if (range.maxRes) {
    if (range.maxRes > xRes || range.maxRes > yRes) return false;
  }
  return true;
}

/** The coverage bbox in `srs` (transformed through a 16-point envelope when the SRS differs). */
export function coverageBboxIn(coverage: BboxCoverage, srs: Srs): Bbox {
  return coverage.srs.equals(srs) ? coverage.bbox : coverage.srs.transformBboxTo(srs, coverage.bbox, 16);
}

/** True when `bbox` in `srs` overlaps the coverage (touching edges do not count). */
export function coverageIntersects(coverage: BboxCoverage, bbox: Bbox, srs: Srs): boolean {
  return bboxIntersects(coverageBboxIn(coverage, srs), bbox);
}

/** True when the coverage contains `bbox` in `srs` (up to rounding). */
export function coverageContains(coverage: BboxCoverage, bbox: Bbox, srs: Srs): boolean {
  return bboxContains(coverageBboxIn(coverage, srs), bbox);
}

/** The part of an image that a sub-bbox occupies. */
export interface SubImage {
  /** Pixel size of the part (0 in either axis: nothing to request). */
  readonly size: Size;
  /** Offset of its top-left corner in the full image. */
  readonly offset: Size;
  /** The bbox of the part: the image bbox clipped to `clip`. */
  readonly bbox: Bbox;
}

/**
 * Where `clip` cuts into an image of `size` showing `bbox`: the clipped bbox, its pixel size and
 * offset (MapProxy's `bbox_position_in_image`, pixel edges truncated as there).
 */
export function bboxPositionInImage(bbox: Bbox, size: Size, clip: Bbox): SubImage {
  const sx = size[0] / (bbox[2] - bbox[0]);
  const sy = size[1] / (bbox[3] - bbox[1]);
  const toPxX = (x: number) => (x - bbox[0]) * sx;
  const toPxY = (y: number) => (bbox[3] - y) * sy;
  const sub: [number, number, number, number] = [bbox[0], bbox[1], bbox[2], bbox[3]];
  const off = [0, size[1], size[0], 0];
  if (clip[0] > bbox[0]) {
    sub[0] = clip[0];
    off[0] = Math.trunc(toPxX(clip[0]));
  }
  if (clip[1] > bbox[1]) {
    sub[1] = clip[1];
    off[1] = Math.trunc(toPxY(clip[1]));
  }
  if (clip[2] < bbox[2]) {
    sub[2] = clip[2];
    off[2] = Math.trunc(toPxX(clip[2]));
  }
  if (clip[3] < bbox[3]) {
    sub[3] = clip[3];
    off[3] = Math.trunc(toPxY(clip[3]));
  }
  return {
    size: [Math.max(0, off[2] - off[0]), Math.max(0, off[1] - off[3])],
    offset: [off[0], off[3]],
    bbox: sub,
  };
}
