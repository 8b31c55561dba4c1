/**
 * Decoding any supported image into RGBA pixels and encoding pixels as PNG (paletted or full
 * colour), JPEG, GIF, TIFF/GeoTIFF, WebP or `mixed`, following MapProxy's image_opts semantics
 * (REFERENCE §1.5, §2.13). libvips (sharp) does the work off the event loop; paletted PNGs are
 * quantised and written here (see quantize.ts for why).
 */
import type sharp from 'sharp';
import { ImageDecodeError } from '../errors.js';
import { mimeFromMagic, parseImageFormat } from './format.js';
import { addGeoTiffTags, type GeoReference } from './geotiff.js';
import { encodeGif } from './gif.js';
import { encodePalettePng } from './png.js';
import { onImagePool } from './pool.js';
import { quantizeAsync } from './quantize.js';
import { flattenRaw, hasTransparency, rawImage } from './raw.js';
import { sharpLib } from './sharp.js';
import type { EncodedImage, ImageOptions, RawImage } from './types.js';

/** Extra inputs for encoding that are not image options. */
export interface EncodeExtras {
  /** Writes GeoTIFF tags (pixel scale, tie point, EPSG code) into TIFF output. */
  readonly georef?: GeoReference;
}

/**
 * Full-colour and grey PNG as Pillow writes them for MapProxy: zlib level 6 and each row's filter
 * chosen adaptively (libvips' PNG writer picks per row, as Pillow does; sizes agree within 1%). sharp's default leaves rows unfiltered, which makes a
 * map tile 1.25-2 times larger than MapProxy's for about 4 ms more per 256×256 tile (Pillow
 * takes longer still).
 */
const PNG_OPTIONS = { compressionLevel: 6, adaptiveFiltering: true } as const;

function printable(buf: Buffer): string {
  return buf.subarray(0, 40).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
}

/**
 * Decode PNG, JPEG, GIF (first frame), TIFF or WebP bytes into 8-bit RGBA. Truncated, corrupt or
 * non-image data (an HTML error page, an empty body) throws `ImageDecodeError`
 * (`MPX_ERR_IMAGE_DECODE`); libvips is told to fail on truncation, which it otherwise ignores.
 */
export async function decodeImage(buf: Buffer): Promise<RawImage> {
  if (buf.length === 0) throw new ImageDecodeError('cannot decode image: the data is empty');
  const magic = mimeFromMagic(buf);
  if (!magic) throw new ImageDecodeError(`cannot decode image: not an image (${buf.length} bytes starting with "${printable(buf)}")`);
  const lib = await sharpLib();
  try {
    const { data, info } = await onImagePool(() =>
      lib(buf, { failOn: 'truncated' }).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
    );
    return rawImage(data, info.width, info.height);
  } catch (err) {
    const reason = err instanceof Error ? err.message.trim().replace(/\s+/g, ' ') : String(err);
    throw new ImageDecodeError(`cannot decode ${magic} (${buf.length} bytes): ${reason}`, err);
  }
}

/** The MIME type of encoded bytes (for `mixed` output: `image/png` or `image/jpeg`); null if unknown. */
export function encodedMime(buf: Buffer): string | null {
  return mimeFromMagic(buf);
}

/**
 * Whether output under `opts` drops alpha: JPEG, modes RGB/L/I, and `transparent: false` unless
 * mode is RGBA. Alpha is dropped by compositing onto `bgcolor`.
 */
export function isOpaqueOutput(opts: ImageOptions, mime: string): boolean {
  if (mime === 'image/jpeg') return true;
  if (opts.mode === 'RGB' || opts.mode === 'L' || opts.mode === 'I') return true;
  if (opts.mode === 'RGBA') return false;
  return !opts.transparent;
}


function bgOf(opts: ImageOptions): { r: number; g: number; b: number } {
  const [r, g, b] = opts.bgcolor ?? [255, 255, 255];
  return { r, g, b };
}

/**
 * A libvips pipeline over the pixels, alpha composited onto bgcolor and removed when the output is
 * opaque. Async because it loads sharp on first use (paletted PNG and GIF never need it).
 */
async function prepared(raw: RawImage, opts: ImageOptions, opaque: boolean): Promise<sharp.Sharp> {
  const lib = await sharpLib();
  const p = lib(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } });
  return opaque ? p.flatten({ background: bgOf(opts) }) : p;
}

/** The encoded bytes of a pipeline, run as one job of the image pool (pool.ts). */
function pooled(p: sharp.Sharp): Promise<Buffer> {
  return onImagePool(() => p.toBuffer());
}

/**
 * Encode RGBA pixels in the format of `opts.format` (a MIME type, a MapProxy format name or
 * `mixed`). PNG is quantised to `opts.colors` colours when that is > 0 (mode `P` without colours
 * means 256), as MapProxy does whatever the mode; `colors: 0` writes full colour. `mixed` writes PNG
 * when any pixel has alpha < 255, else JPEG. Throws `UnknownImageFormatError` for unknown formats.
 */
export async function encodeImage(raw: RawImage, opts: ImageOptions, extras: EncodeExtras = {}): Promise<Buffer> {
  let mime = parseImageFormat(opts.format).mime;
  let opaque: boolean;
  if (mime === 'mixed') {
    // MapProxy: mixed is PNG (alpha kept) when the image has transparency, else JPEG.
    const transparent = hasTransparency(raw);
    mime = transparent ? 'image/png' : 'image/jpeg';
    opaque = !transparent;
  } else {
    opaque = isOpaqueOutput(opts, mime);
  }
  const grey = opts.mode === 'L' || opts.mode === 'I';
  const quality = clampQuality(opts.jpegQuality);
  switch (mime) {
    case 'image/png': {
      if (grey) return pooled((await prepared(raw, opts, true)).toColourspace('b-w').png(PNG_OPTIONS));
      const colors = opts.colors > 0 ? opts.colors : opts.mode === 'P' ? 256 : 0;
      if (colors > 0) {
        const img = opaque ? flattenRaw(raw, opts.bgcolor ?? [255, 255, 255]) : raw;
        return encodePalettePng(await quantizeAsync(img.data, img.width * img.height, colors, !opaque), img.width, img.height);
      }
      return pooled((await prepared(raw, opts, opaque)).png(PNG_OPTIONS));
    }
    case 'image/jpeg': {
      const p = await prepared(raw, opts, true);
      return pooled((grey ? p.toColourspace('b-w') : p).jpeg({ quality }));
    }
    case 'image/gif':
      return encodeGifImage(raw, opts, opaque);
    case 'image/tiff': {
      const compression = opts.tiffCompression === 'tiff_lzw' ? 'lzw' : opts.tiffCompression === 'jpeg' ? 'jpeg' : 'none';
      const p = await prepared(raw, opts, opaque || compression === 'jpeg');
      const out = await pooled((grey ? p.toColourspace('b-w') : p).tiff({ compression, quality }));
      return extras.georef ? addGeoTiffTags(out, extras.georef, [raw.width, raw.height]) : out;
    }
    case 'image/webp':
      return pooled((await prepared(raw, opts, opaque)).webp({ quality }));
    default:
      throw new Error(`no encoder for ${mime}`);
  }
}

/** `encodeImage` plus the MIME type of the bytes written (the real one for `mixed`). */
export async function encodeImageWithMime(raw: RawImage, opts: ImageOptions, extras: EncodeExtras = {}): Promise<EncodedImage> {
  const data = await encodeImage(raw, opts, extras);
  return { data, mime: mimeFromMagic(data) ?? parseImageFormat(opts.format).mime };
}

function clampQuality(q: number | undefined): number {
  if (q === undefined || !Number.isFinite(q)) return 90;
  return Math.max(1, Math.min(100, Math.round(q)));
}

/** GIF: quantised here (transparency is on/off in GIF, so alpha is cut at 128) and written by gif.ts. */
async function encodeGifImage(raw: RawImage, opts: ImageOptions, opaque: boolean): Promise<Buffer> {
  let img = opaque ? flattenRaw(raw, opts.bgcolor ?? [255, 255, 255]) : raw;
  if (!opaque) {
    const d = Buffer.from(img.data);
    for (let i = 3; i < d.length; i += 4) d[i] = d[i] >= 128 ? 255 : 0;
    img = rawImage(d, img.width, img.height);
  }
  const q = await quantizeAsync(img.data, img.width * img.height, opts.colors > 0 ? opts.colors : 256, !opaque);
  return encodeGif(q, img.width, img.height);
}
