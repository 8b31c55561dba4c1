/**
 * Resolution ↔ scale denominator (OGC 0.28 mm pixel) and the exact text MapProxy prints for them:
 * WMTS ScaleDenominator and TMS units-per-pixel (REFERENCE.md §2.4, §2.8, §2.9).
 */
import { pyFloatRepr, pyRound } from './pyfloat.js';
import type { Srs } from './types.js';

/** The OGC "standardized rendering pixel size" in metres (WMS 1.3.0 §7.2.4.6.9, WMTS §6.1). */
export const OGC_PIXEL_SIZE = 0.00028;

/** Metres per degree of the GoogleCRS84Quad well-known scale set, as MapProxy uses for WMTS. */
export const METERS_PER_DEGREE = 111319.4907932736;

/** Metres per unit of an SRS for scale computations: METERS_PER_DEGREE for geographic systems, else 1. */
export function metersPerUnit(srs: Srs): number {
  return srs.isLatLong ? METERS_PER_DEGREE : 1;
}

/** Scale denominator of a resolution: `res / 0.00028 · metersPerUnit` (MapProxy's res_to_ogc_scale with mpu 1). */
export function resToScale(res: number, unitsToMeters = 1): number {
  return (res / OGC_PIXEL_SIZE) * unitsToMeters;
}

/** Resolution of a scale denominator: `scale · 0.00028 / metersPerUnit` (MapProxy's ogc_scale_to_res with mpu 1). */
export function scaleToRes(scale: number, unitsToMeters = 1): number {
  return (scale * OGC_PIXEL_SIZE) / unitsToMeters;
}

/** Degrees to metres on the equator of the WGS84 sphere: `deg · 2π·6378137 / 360` (layer min/max_res checks). */
export function degToMeters(deg: number): number {
  return (deg * (6378137 * 2 * Math.PI)) / 360;
}

/** The diagonal resolution of WMS 1.1.x ScaleHint: `√(2·res²)`. */
export function scaleHint(res: number): number {
  return Math.sqrt(2 * res ** 2);
}

/**
 * The WMTS ScaleDenominator of a level, computed exactly as MapProxy 1.15 does
 * (`res / (0.28 / 1000) · metersPerUnit`; note 0.28/1000 is not the double 0.00028, so the last
 * digits differ from `resToScale`: 559082264.0287176 vs 559082264.0287178 for level 0 of
 * GLOBAL_WEBMERCATOR — the former is what the reference rig's capabilities show).
 */
export function wmtsScaleDenominator(res: number, srs: Srs): number {
  return (res / (0.28 / 1000)) * metersPerUnit(srs);
}

/**
 * Text of a ScaleDenominator.
 * - `'mapproxy-1.15'` (default): Python `str(float)`, what MapProxy 1.15 writes
 *   (`559082264.0287176`, `1066.3647919248917`).
 * - `'rounded'`: rounded to 10 decimals, trailing zeros and dot stripped (REFERENCE.md §2.4's rule).
 */
export function formatScaleDenominator(value: number, style: 'mapproxy-1.15' | 'rounded' = 'mapproxy-1.15'): string {
  if (style === 'mapproxy-1.15') return pyFloatRepr(value);
  const s = pyFloatRepr(pyRound(value, 10));
  return s.endsWith('.0') ? s.slice(0, -2) : s;
}

/** TMS `units-per-pixel`: Python `str(float)` of the resolution (`78271.51696402048`, `305.748113140705`). */
export function formatUnitsPerPixel(res: number): string {
  return pyFloatRepr(res);
}
