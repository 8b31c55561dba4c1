/**
 * Plain operations on decoded RGBA pixels (`RawImage`): creating canvases, cropping with padding,
 * pasting, flattening and transparency checks. All work on buffers directly: a crop is a row copy,
 * never a trip through libvips.
 */
import type { Size } from '../grid/types.js';
import type { ImageOptions, RawImage } from './types.js';

/** An RGBA colour, 0–255 per channel. */
export type Rgba = readonly [number, number, number, number];

/** Wrap RGBA bytes as a RawImage, checking the length. */
export function rawImage(data: Buffer, width: number, height: number): RawImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`invalid image size ${width}x${height}`);
  }
  if (data.length !== width * height * 4) {
    throw new RangeError(`RGBA data of ${data.length} bytes does not fit ${width}x${height}`);
  }
  return { data, width, height, channels: 4 };
}

/** A canvas of `size` filled with one colour. */
export function solidRaw(size: Size, rgba: Rgba): RawImage {
  const [w, h] = size;
  const data = Buffer.allocUnsafe(w * h * 4);
  fillRgba(data, rgba);
  return rawImage(data, w, h);
}

/**
 * The background of output described by `opts`: `bgcolor` with alpha 0 when transparent, else
 * opaque (MapProxy's create_image).
 */
export function backgroundOf(opts: Pick<ImageOptions, 'bgcolor' | 'transparent'>): Rgba {
  const [r, g, b] = opts.bgcolor ?? [255, 255, 255];
  return [r, g, b, opts.transparent ? 0 : 255];
}

/** Fill a whole RGBA buffer with one colour (doubling copies: a few memcpy calls). */
export function fillRgba(data: Buffer, rgba: Rgba): void {
  if (data.length === 0) return;
  data[0] = rgba[0];
  data[1] = rgba[1];
  data[2] = rgba[2];
  data[3] = rgba[3];
  let filled = 4;
  while (filled < data.length) {
    const n = Math.min(filled, data.length - filled);
    data.copy(data, filled, 0, n);
    filled += n;
  }
}

/**
 * The `w`×`h` window of `src` whose top-left corner is at (`x`, `y`) (which may lie outside the
 * image); whatever falls outside `src` is `fill`.
 */
export function cropRaw(src: RawImage, x: number, y: number, w: number, h: number, fill: Rgba = [0, 0, 0, 0]): RawImage {
  const out = Buffer.allocUnsafe(w * h * 4);
  const inside = x >= 0 && y >= 0 && x + w <= src.width && y + h <= src.height;
  if (!inside) fillRgba(out, fill);
  const x0 = Math.max(x, 0);
  const x1 = Math.min(x + w, src.width);
  const y0 = Math.max(y, 0);
  const y1 = Math.min(y + h, src.height);
  if (x1 > x0) {
    const rowBytes = (x1 - x0) * 4;
    for (let row = y0; row < y1; row++) {
      const from = (row * src.width + x0) * 4;
      src.data.copy(out, ((row - y) * w + (x0 - x)) * 4, from, from + rowBytes);
    }
  }
  return rawImage(out, w, h);
}

/** Copy `src` into `dst` at (`x`, `y`) (clipped to `dst`), replacing pixels (no blending). */
export function pasteRaw(dst: RawImage, src: RawImage, x: number, y: number): void {
  const x0 = Math.max(x, 0);
  const x1 = Math.min(x + src.width, dst.width);
  const y0 = Math.max(y, 0);
  const y1 = Math.min(y + src.height, dst.height);
  if (x1 <= x0) return;
  for (let row = y0; row < y1; row++) {
    const from = ((row - y) * src.width + (x0 - x)) * 4;
    src.data.copy(dst.data, (row * dst.width + x0) * 4, from, from + (x1 - x0) * 4);
  }
}

/**
 * Stitch equally sized tiles (row by row from the top, `null` = missing) into one image of
 * `gridSize` tiles; missing tiles are `fill` (MapProxy's TileMerger).
 */
export function stitchTiles(tiles: ReadonlyArray<RawImage | null>, gridSize: Size, tileSize: Size, fill: Rgba = [0, 0, 0, 0]): RawImage {
  const [cols, rows] = gridSize;
  const [tw, th] = tileSize;
  const out = solidRaw([cols * tw, rows * th], fill);
  tiles.forEach((t, i) => {
    if (t) pasteRaw(out, t, (i % cols) * tw, Math.floor(i / cols) * th);
  });
  return out;
}

/** True when any pixel has alpha below 255. */
export function hasTransparency(raw: RawImage): boolean {
  const d = raw.data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return true;
  return false;
}

/**
 * Composite the image over an opaque `bg` and return opaque RGBA (alpha 255); the input itself when
 * it already is opaque.
 */
export function flattenRaw(raw: RawImage, bg: readonly [number, number, number]): RawImage {
  const d = raw.data;
  let i = 3;
  while (i < d.length && d[i] === 255) i += 4;
  if (i >= d.length) return raw;
  const out = Buffer.from(d);
  for (i -= 3; i < out.length; i += 4) {
    const a = out[i + 3];
    if (a === 255) continue;
    if (a === 0) {
      out[i] = bg[0];
      out[i + 1] = bg[1];
      out[i + 2] = bg[2];
    } else {
      const k = 255 - a;
      out[i] = Math.round((out[i] * a + bg[0] * k) / 255);
      out[i + 1] = Math.round((out[i + 1] * a + bg[1] * k) / 255);
      out[i + 2] = Math.round((out[i + 2] * a + bg[2] * k) / 255);
    }
    out[i + 3] = 255;
  }
  return rawImage(out, raw.width, raw.height);
}

/** The single colour of an image as `[r, g, b, a]`, or null when it has more than one. */
export function singleColor(raw: RawImage): [number, number, number, number] | null {
  const d = raw.data;
  const r = d[0];
  const g = d[1];
  const b = d[2];
  const a = d[3];
  for (let i = 4; i < d.length; i += 4) {
    if (d[i] !== r || d[i + 1] !== g || d[i + 2] !== b || d[i + 3] !== a) return null;
  }
  return [r, g, b, a];
}
