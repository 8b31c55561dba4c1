/**
 * Merging layers (REFERENCE §2.13): alpha compositing bottom to top on a canvas made from the
 * output options, opacity, blank and solid-colour images, and `transparent_color`.
 */
import type { Size } from '../grid/types.js';
import { encodeImage } from './codec.js';
import { mimeFromMagic, parseImageFormat } from './format.js';
import { backgroundOf, hasTransparency, rawImage, solidRaw, type Rgba } from './raw.js';
import type { EncodedImage, ImageOptions, RawImage } from './types.js';

/** One layer to merge: its pixels and an optional opacity (0–1). */
export interface MergeLayer {
  readonly image: RawImage;
  readonly opacity?: number;
}

const div255 = (v: number): number => ((v >>> 8) + v) >>> 8;

/** Pixels composited between two yields to the event loop. */
const CHUNK = 1 << 18;

/**
 * Composite `src` over `dst` in place (at the top-left corner, clipped), with `src`'s alpha scaled
 * by `opacity`. The arithmetic is Pillow's `alpha_composite` (7-bit fixed point), so results equal
 * MapProxy's to the byte; opacity scales alpha as MapProxy does (`a · ⌊255·opacity⌋ / 255`, truncated).
 * `fromRow`/`toRow` limit the work to a band of rows.
 */
export function compositeOnto(dst: RawImage, src: RawImage, opacity = 1, fromRow = 0, toRow = Infinity): void {
  const k = opacity >= 1 ? 255 : Math.max(0, Math.trunc(255 * opacity));
  if (k === 0) return;
  const w = Math.min(dst.width, src.width);
  const h = Math.min(dst.height, src.height, toRow);
  const d = dst.data;
  const s = src.data;
  for (let y = fromRow; y < h; y++) {
    let si = y * src.width * 4;
    let di = y * dst.width * 4;
    for (let x = 0; x < w; x++, si += 4, di += 4) {
      let sa = s[si + 3];
      if (k !== 255) sa = Math.trunc((sa * k) / 255);
      if (sa === 0) continue;
      if (sa === 255) {
        d[di] = s[si];
        d[di + 1] = s[si + 1];
        d[di + 2] = s[si + 2];
        d[di + 3] = 255;
        continue;
      }
      const outA255 = sa * 255 + d[di + 3] * (255 - sa);
      const c1 = Math.trunc((sa * 255 * 255 * 128) / outA255);
      const c2 = 255 * 128 - c1;
      d[di] = div255(s[si] * c1 + d[di] * c2 + (0x80 << 7)) >>> 7;
      d[di + 1] = div255(s[si + 1] * c1 + d[di + 1] * c2 + (0x80 << 7)) >>> 7;
      d[di + 2] = div255(s[si + 2] * c1 + d[di + 2] * c2 + (0x80 << 7)) >>> 7;
      d[di + 3] = div255(outA255 + 0x80);
    }
  }
}

/**
 * Merge layers bottom to top into an image of `size`. The canvas is `bgcolor`, with alpha 0 when
 * `opts.transparent`. No layers give the bare canvas; a single layer of the right size without
 * opacity passes through unchanged when it is opaque or the output is transparent (MapProxy's
 * LayerMerger). Layers of another size are composited at the top-left corner.
 */
export async function mergeImages(layers: readonly MergeLayer[], size: Size, opts: Pick<ImageOptions, 'bgcolor' | 'transparent'>): Promise<RawImage> {
  const [w, h] = size;
  if (layers.length === 1) {
    const { image, opacity } = layers[0];
    if (image.width === w && image.height === h && (opacity === undefined || opacity >= 1)
      && (opts.transparent || !hasTransparency(image))) return image;
  }
  const canvas = solidRaw(size, backgroundOf(opts));
  // Compositing is plain JS: large canvases go in slices of rows with the event loop let in between.
  const rows = Math.max(1, Math.floor(CHUNK / w));
  let first = true;
  for (const layer of layers) {
    for (let y = 0; y < Math.min(h, layer.image.height); y += rows) {
      if (!first) await new Promise<void>((resolve) => setImmediate(resolve));
      first = false;
      compositeOnto(canvas, layer.image, layer.opacity ?? 1, y, y + rows);
    }
  }
  return canvas;
}

const blanks = new Map<string, Promise<Buffer>>();

/**
 * An encoded empty image: a transparent PNG when `opts.transparent`, else `bgcolor` in
 * `opts.format` (MapProxy: blank tiles are transparent PNGs). Results are memoised per size and
 * options; treat the buffer as read-only.
 */
export function blankImage(size: Size, opts: ImageOptions): Promise<Buffer> {
  const o: ImageOptions = opts.transparent ? { ...opts, format: 'image/png', mode: undefined } : opts;
  const key = JSON.stringify([size, o.format, o.mode, o.transparent, o.colors, o.jpegQuality, o.bgcolor, o.tiffCompression]);
  let p = blanks.get(key);
  if (!p) {
    p = encodeImage(solidRaw(size, backgroundOf(o)), o);
    p.catch(() => blanks.delete(key));
    if (blanks.size > 200) blanks.clear();
    blanks.set(key, p);
  }
  return p;
}

/**
 * A solid-colour image (a source's `on_error` response colour): the pixels and their encoding in
 * `opts.format`. A colour with alpha < 255 stays transparent only where the format keeps alpha.
 */
export async function solidImage(size: Size, rgba: Rgba, opts: ImageOptions): Promise<EncodedImage & { raw: RawImage }> {
  const raw = solidRaw(size, rgba);
  const data = await encodeImage(raw, opts);
  return { data, mime: mimeFromMagic(data) ?? parseImageFormat(opts.format).mime, raw };
}

/**
 * Make every pixel within `tolerance` of `rgb` on each channel fully transparent; other pixels keep
 * their alpha (a source's `image.transparent_color`; MapProxy's configured default tolerance is 5).
 */
export function transparentColor(raw: RawImage, rgb: readonly [number, number, number], tolerance = 5): RawImage {
  const out = Buffer.from(raw.data);
  const [r, g, b] = rgb;
  for (let i = 0; i < out.length; i += 4) {
    if (Math.abs(out[i] - r) <= tolerance && Math.abs(out[i + 1] - g) <= tolerance && Math.abs(out[i + 2] - b) <= tolerance) {
      out[i + 3] = 0;
    }
  }
  return rawImage(out, raw.width, raw.height);
}
