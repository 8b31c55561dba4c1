/**
 * The failures of upstream sources, one `SourceError` subclass each with a stable `MPX_ERR_SOURCE_*`
 * code. Messages follow MapProxy's HTTP client (`HTTP Error "<url>": 500`, `No response from URL
 * "<url>": timed out`), or its generic form when `http.hide_error_details` is on (REFERENCE §2.12).
 */
import { SourceError } from '../errors.js';
import type { SourceImage } from './types.js';

/** Common options of the source error constructors. */
export interface SourceErrorOptions {
  readonly url: string;
  readonly cause?: unknown;
}

/** The upstream answered with HTTP status ≥ 400 (or 204). */
export class UpstreamHttpError extends SourceError {
  constructor(message: string, opts: SourceErrorOptions & { status: number }) {
    super(message, { url: opts.url, upstreamStatus: opts.status, reason: 'http', code: 'MPX_ERR_SOURCE_HTTP', cause: opts.cause });
  }
}

/** No answer within `http.client_timeout`. */
export class UpstreamTimeoutError extends SourceError {
  constructor(message: string, opts: SourceErrorOptions) {
    super(message, { url: opts.url, reason: 'timeout', code: 'MPX_ERR_SOURCE_TIMEOUT', cause: opts.cause });
  }
}

/** The connection failed (refused, reset, unknown host, TLS). */
export class UpstreamConnectionError extends SourceError {
  constructor(message: string, opts: SourceErrorOptions) {
    super(message, { url: opts.url, reason: 'connection', code: 'MPX_ERR_SOURCE_CONNECTION', cause: opts.cause });
  }
}

/** The upstream answered 200 with something that is not an image (content type not `image/*`). */
export class NotAnImageError extends SourceError {
  constructor(message: string, opts: SourceErrorOptions & { status?: number }) {
    super(message, { url: opts.url, upstreamStatus: opts.status, reason: 'not-image', code: 'MPX_ERR_SOURCE_NOT_IMAGE', cause: opts.cause });
  }
}

/** The upstream's image does not decode (truncated, corrupt, unknown format). */
export class BadImageError extends SourceError {
  constructor(message: string, opts: SourceErrorOptions & { status?: number }) {
    super(message, { url: opts.url, upstreamStatus: opts.status, reason: 'bad-image', code: 'MPX_ERR_SOURCE_BAD_IMAGE', cause: opts.cause });
  }
}

/**
 * A query the source cannot answer by design: a tile source asked for something that is not exactly
 * one of its tiles, in another SRS or tile size (MapProxy's InvalidSourceQuery). A configuration
 * mistake, not an upstream failure.
 */
export class InvalidSourceQueryError extends SourceError {
  constructor(message: string, url?: string) {
    super(message, { url, reason: 'other', code: 'MPX_ERR_SOURCE_INVALID_QUERY' });
  }
}

/** A local `file://` tile could not be read, or its path escapes the template's directory. */
export class SourceFileError extends SourceError {
  constructor(message: string, opts: SourceErrorOptions) {
    super(message, { url: opts.url, reason: 'other', code: 'MPX_ERR_SOURCE_FILE', cause: opts.cause });
  }
}

/** A `file://` tile URL that leaves the directory of the template's fixed part (`..`, links). */
export class FileUrlRefusedError extends SourceError {
  constructor(message: string, url: string) {
    super(message, { url, reason: 'other', code: 'MPX_ERR_SOURCE_FILE_REFUSED' });
  }
}

/**
 * The source failed and its `on_error` entry has `authorize_stale: true`: the TileManager serves the
 * stale cached tile instead when it has one, else `substitute` (the on_error colour image, cacheable
 * per `cache:`), as MapProxy does. Keeps the message, reason, URL and code of the failure it wraps
 * (`cause`).
 */
export class AuthorizeStaleError extends SourceError {
  readonly authorizeStale = true as const;
  readonly substitute: SourceImage;
  constructor(original: SourceError, substitute: SourceImage) {
    super(original.message, {
      url: original.url,
      upstreamStatus: original.upstreamStatus,
      reason: original.reason,
      code: original.code,
      cause: original,
    });
    this.substitute = substitute;
  }
}
