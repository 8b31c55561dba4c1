/**
 * Image format names: MapProxy's spellings (`image/png`, `png8`, `image/png; mode=8bit`, `jpeg`,
 * `image/GeoTIFF`, `mixed`, …) resolved to the MIME type the encoder works with, the extension
 * MapProxy uses in tile paths and URLs, and the Content-Type to answer with; plus format detection
 * from magic bytes (never trust an upstream's Content-Type).
 */
import { MapProxyError } from '../errors.js';

/** What a format name means. */
export interface ImageFormat {
  /** The name as given (trimmed). */
  readonly name: string;
  /**
   * The encoded type: `image/png`, `image/jpeg`, `image/gif`, `image/tiff`, `image/webp`, or
   * `mixed` (PNG where any pixel is transparent, else JPEG).
   */
  readonly mime: string;
  /**
   * MapProxy's extension for the name: the subtype without parameters, case kept (`png`, `jpeg`,
   * `png8`, `GeoTIFF`, `mixed`). File caches name their tiles with it, so a cache seeded by MapProxy
   * with `format: png8a` (`.png8a` files) is found again.
   */
  readonly extension: string;
  /**
   * Content-Type for responses: the name itself when it is a proper image MIME type
   * (`image/png; mode=8bit`, `image/jpg`), else `mime`. `mixed` answers `image/png` here (capabilities);
   * a mixed tile's real type comes from its bytes (`encodedMime`).
   */
  readonly contentType: string;
}

/** A format name that is not an image format mapproxy-ts can write. */
export class UnknownImageFormatError extends MapProxyError {
  readonly format: string;
  constructor(format: string) {
    super(`unknown image format ${JSON.stringify(format)} (known: png, jpeg, gif, tiff, webp, mixed and png variants like png8)`, {
      code: 'MPX_ERR_IMAGE_FORMAT',
      status: 400,
      ogcCode: 'InvalidFormat',
      locator: 'format',
    });
    this.format = format;
  }
}

const BASE: Record<string, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  tiff: 'image/tiff',
  tif: 'image/tiff',
  geotiff: 'image/tiff',
  webp: 'image/webp',
  mixed: 'mixed',
};

const parsed = new Map<string, ImageFormat>();

/**
 * Resolve a format name, or null when it names no supported format. Names starting with `png`
 * (`png8`, `png24`, `png8a`) are PNG, as MapProxy's encoder treats them (REFERENCE §5).
 */
export function tryParseImageFormat(name: string): ImageFormat | null {
  const hit = parsed.get(name);
  if (hit) return hit;
  const trimmed = name.trim();
  const hasPrefix = /^image\//i.test(trimmed);
  const subtype = (hasPrefix ? trimmed.slice(6) : trimmed).split(';', 1)[0].trim();
  const lower = subtype.toLowerCase();
  const known = BASE[lower];
  const mime = known ?? (lower.startsWith('png') ? 'image/png' : undefined);
  if (!mime || subtype === '') return null;
  const contentType = mime === 'mixed' ? 'image/png' : hasPrefix && known ? trimmed : mime;
  const fmt: ImageFormat = { name: trimmed, mime, extension: subtype, contentType };
  if (parsed.size < 1000) parsed.set(name, fmt);
  return fmt;
}

/** Resolve a format name; throws `UnknownImageFormatError` (code `MPX_ERR_IMAGE_FORMAT`) when unknown. */
export function parseImageFormat(name: string): ImageFormat {
  const fmt = tryParseImageFormat(name);
  if (!fmt) throw new UnknownImageFormatError(name);
  return fmt;
}

/** The usual file extension of an encoded MIME type (`image/jpeg` → `jpeg`); null when unknown. */
export function extensionForMime(mime: string): string | null {
  const fmt = tryParseImageFormat(mime);
  if (!fmt) return null;
  switch (fmt.mime) {
    case 'image/png': return 'png';
    case 'image/jpeg': return 'jpeg';
    case 'image/gif': return 'gif';
    case 'image/tiff': return 'tiff';
    case 'image/webp': return 'webp';
    default: return fmt.extension;
  }
}

/**
 * The type of encoded bytes from their signature: PNG, JPEG, GIF, TIFF (both byte orders) or WebP;
 * null for anything else (an HTML error page, an empty body).
 */
export function mimeFromMagic(buf: Uint8Array): string | null {
  if (buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47
    && buf[4] === 0x0d && buf[5] === 0x0a && buf[6] === 0x1a && buf[7] === 0x0a) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 6 && buf[0] === 0x47 && buf[1] === 0x49 && buf[2] === 0x46 && buf[3] === 0x38
    && (buf[4] === 0x37 || buf[4] === 0x39) && buf[5] === 0x61) return 'image/gif';
  if (buf.length >= 4 && ((buf[0] === 0x49 && buf[1] === 0x49 && buf[2] === 0x2a && buf[3] === 0x00)
    || (buf[0] === 0x4d && buf[1] === 0x4d && buf[2] === 0x00 && buf[3] === 0x2a))) return 'image/tiff';
  if (buf.length >= 12 && buf[0] === 0x52 && buf[1] === 0x49 && buf[2] === 0x46 && buf[3] === 0x46
    && buf[8] === 0x57 && buf[9] === 0x45 && buf[10] === 0x42 && buf[11] === 0x50) return 'image/webp';
  return null;
}
