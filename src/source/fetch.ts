/**
 * What WMS and tile sources share between the HTTP answer and a `SourceImage`: the content-type
 * check, decoding once (so a truncated image is a source error, never a cached tile), the size
 * check, format conversion, blank images and the `on_error` substitutes.
 */
import { ImageDecodeError, SourceError } from '../errors.js';
import type { Size } from '../grid/types.js';
import { blankImage, decodeImage, encodeImage, mimeFromMagic, solidImage, tryParseImageFormat } from '../image/index.js';
import type { ImageOptions, RawImage, Resampling } from '../image/types.js';
import { getLogger } from '../log/index.js';
import type { OnError } from './config.js';
import { AuthorizeStaleError, BadImageError, FileUrlRefusedError, InvalidSourceQueryError, NotAnImageError } from './errors.js';
import type { HttpResponse } from './http-client.js';
import type { SourceImage } from './types.js';

/** Image options for what a source encodes itself (conversions, substitutes): full colour, no palette. */
export function sourceImageOptions(format: string, transparent: boolean, resampling: Resampling = 'bicubic'): ImageOptions {
  return { format, transparent, colors: 0, jpegQuality: 90, resampling, bgcolor: [255, 255, 255] };
}

/** The encodable MIME type of a query format (`mixed` and unknown names ask for PNG). */
export function baseMime(format: string): string {
  const mime = tryParseImageFormat(format)?.mime;
  return !mime || mime === 'mixed' ? 'image/png' : mime;
}

/** A decoded upstream image with its bytes as received. */
export interface VerifiedImage {
  readonly data: Buffer;
  /** From the magic bytes, never from the Content-Type header (§6). */
  readonly mime: string;
  readonly raw: RawImage;
}

/**
 * Check an answer is an image of `size` and decode it. `kind` names the source in messages
 * (MapProxy: "no image returned from source WMS: <url>").
 */
export async function verifyImage(res: HttpResponse, size: Size, kind: string): Promise<VerifiedImage> {
  const type = res.headers['content-type'];
  // MapProxy: a missing Content-Type counts as an image; anything but image/* does not.
  if (type !== undefined && !type.trim().toLowerCase().startsWith('image/')) {
    const log = getLogger(`mapproxy.source.${kind.toLowerCase()}`);
    if (log.isLevelEnabled('warn')) {
      const limit = /^(text\/|application\/vnd\.ogc)/i.test(type) ? 8000 : 100;
      const text = res.body.subarray(0, limit).toString('utf8');
      log.warn({ url: res.url, contentType: type, body: text }, `no image returned from source ${kind}: ${res.url}`);
    }
    throw new NotAnImageError(`no image returned from source ${kind}: ${res.url}`, { url: res.url, status: res.status });
  }
  return decodeVerified(res.body, size, kind, res.url, res.status);
}

/** Decode bytes read from a source (HTTP or file) and check their size. */
export async function decodeVerified(data: Buffer, size: Size, kind: string, url: string, status?: number): Promise<VerifiedImage> {
  const mime = mimeFromMagic(data);
  let raw: RawImage;
  try {
    if (!mime) throw new ImageDecodeError(`not an image (${data.length} bytes)`);
    raw = await decodeImage(data);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    getLogger(`mapproxy.source.${kind.toLowerCase()}`).warn({ url, err: reason }, `invalid image returned from source ${kind}: ${url}`);
    throw new BadImageError(`invalid image returned from source ${kind}: ${url}`, { url, status, cause: err });
  }
  if (raw.width !== size[0] || raw.height !== size[1]) {
    throw new BadImageError(
      `image of wrong size returned from source ${kind}: ${url} (${raw.width}x${raw.height}, expected ${size[0]}x${size[1]})`,
      { url, status },
    );
  }
  return { data, mime: mime as string, raw };
}

/**
 * The image as a `SourceImage` in `format`: the bytes unchanged when they already are that format,
 * else re-encoded from the decoded pixels.
 */
export async function inFormat(img: VerifiedImage, format: string, transparent: boolean): Promise<SourceImage> {
  const want = baseMime(format);
  if (img.mime === want) return { data: img.data, mime: img.mime, raw: img.raw, cacheable: true };
  return encoded(img.raw, format, transparent);
}

/** Encode pixels in `format` (PNG for `mixed`) as a cacheable `SourceImage`. */
export async function encoded(raw: RawImage, format: string, transparent: boolean): Promise<SourceImage> {
  const mime = baseMime(format);
  const data = await encodeImage(raw, sourceImageOptions(mime, transparent));
  return { data, mime, raw, cacheable: true };
}

/** A fully transparent PNG of `size`, marked `blank` (outside coverage, resolution range, seed_only). */
export async function blankSourceImage(size: Size, cacheable: boolean): Promise<SourceImage> {
  const data = await blankImage(size, sourceImageOptions('image/png', true));
  return { data, mime: 'image/png', cacheable, blank: true };
}

/** Whether `on_error` may replace this failure (not for configuration mistakes or refused paths). */
function handles(err: SourceError): boolean {
  return !(err instanceof InvalidSourceQueryError || err instanceof FileUrlRefusedError);
}

/**
 * Apply a source's `on_error` to a failure: the entry for the upstream status, else `other`.
 * Returns the colour image (cacheable per `cache:`), throws `AuthorizeStaleError` when the entry
 * authorises a stale tile, or returns null when no entry applies.
 */
export async function onErrorImage(err: SourceError, onError: OnError | undefined, size: Size, format: string): Promise<SourceImage | null> {
  if (!onError || !handles(err)) return null;
  const entry = (err.upstreamStatus !== undefined ? onError.get(String(err.upstreamStatus)) : undefined) ?? onError.get('other');
  if (!entry) return null;
  // MapProxy: a colour with alpha gives a transparent image, which needs a format with alpha.
  let mime = baseMime(format);
  if (entry.hasAlpha && mime === 'image/jpeg') mime = 'image/png';
  const img = await solidImage(size, entry.color, sourceImageOptions(mime, entry.hasAlpha));
  const substitute: SourceImage = { data: img.data, mime: img.mime, raw: img.raw, cacheable: entry.cacheable };
  if (entry.authorizeStale) throw new AuthorizeStaleError(err, substitute);
  return substitute;
}
