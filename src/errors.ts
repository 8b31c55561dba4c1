/**
 * The error registry of mapproxy-ts. Every failure a user can see is one class here with a stable
 * `code` (`MPX_ERR_…`), the HTTP status it maps to and, for OGC services, the exception code.
 * Messages may change; codes never do. Services turn these into OGC exception reports or plain
 * HTTP answers; nothing else decides a status.
 */

/** Base class: a failure with a stable code and the HTTP status it answers with. */
export class MapProxyError extends Error {
  /** Stable machine-readable code, `MPX_ERR_…`. */
  readonly code: string;
  /** HTTP status a service answers with when this error reaches it. */
  readonly status: number;
  /** OGC exception code (WMS/WMTS), when the error has one. */
  readonly ogcCode: string | undefined;
  /** OGC `locator` attribute (the offending parameter), when known. */
  readonly locator: string | undefined;

  constructor(
    message: string,
    opts: { code: string; status: number; ogcCode?: string; locator?: string; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.status = opts.status;
    this.ogcCode = opts.ogcCode;
    this.locator = opts.locator;
  }
}

/** One problem in a configuration file, with the YAML path it concerns (`caches.osm.grids[0]`). */
export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * The configuration is invalid. Carries every problem found, so `check-config` can print them all;
 * the message lists them one per line as `<path>: <message>`.
 */
export class ConfigError extends MapProxyError {
  readonly problems: readonly ConfigProblem[];
  readonly file: string | undefined;

  /** `what`: the kind of file, as the message names it (`log configuration` for --log-config). */
  constructor(problems: readonly ConfigProblem[], file?: string, what = 'configuration') {
    const lines = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    const head = file ? `invalid ${what} ${file}` : `invalid ${what}`;
    super(`${head}:\n  ${lines.join('\n  ')}`, { code: 'MPX_ERR_CONFIG', status: 500 });
    this.problems = problems;
    this.file = file;
  }
}

/**
 * Exit status of `serve` when its configuration or `--log-config` file is invalid: EX_CONFIG of
 * sysexits.h. Not 1, so that a supervisor can tell "will fail again until someone edits a file"
 * from a failure worth a restart: pm2's `stop_exit_codes`, systemd's `RestartPreventExitStatus`.
 */
export const EXIT_INVALID_CONFIG = 78;

/**
 * An upstream source failed: HTTP error, timeout, connection refused, a body that is not an image,
 * or an image that does not decode. Always names the URL (credentials removed).
 */
export class SourceError extends MapProxyError {
  readonly url: string | undefined;
  /** The upstream HTTP status, if an answer came. */
  readonly upstreamStatus: number | undefined;
  /** What kind of failure: matches a key of a source's `on_error` (a status or `other`). */
  readonly reason: 'http' | 'timeout' | 'connection' | 'not-image' | 'bad-image' | 'other';

  constructor(
    message: string,
    opts: {
      url?: string;
      upstreamStatus?: number;
      reason: SourceError['reason'];
      code?: string;
      cause?: unknown;
    },
  ) {
    super(message, { code: opts.code ?? 'MPX_ERR_SOURCE', status: 500, ogcCode: 'NoApplicableCode', cause: opts.cause });
    this.url = opts.url;
    this.upstreamStatus = opts.upstreamStatus;
    this.reason = opts.reason;
  }
}

/** Waiting for another process to finish a meta tile took longer than the lock timeout. */
export class LockTimeoutError extends MapProxyError {
  /** The lock's path: for logs only, never in an answer to a client. */
  readonly lockFile: string;
  constructor(lockFile: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs / 1000} s waiting for a lock held by another process`, {
      code: 'MPX_ERR_LOCK_TIMEOUT',
      status: 500,
      ogcCode: 'NoApplicableCode',
    });
    this.lockFile = lockFile;
  }
}

/** An image (from a source or from the cache) could not be decoded. */
export class ImageDecodeError extends MapProxyError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'MPX_ERR_IMAGE_DECODE', status: 500, ogcCode: 'NoApplicableCode', cause });
  }
}

/**
 * A client request that cannot be answered: bad or missing parameters, unknown layer, a tile out
 * of range. Services render it in their own format (OWS ExceptionReport, TileMapServerError, text).
 */
export class RequestError extends MapProxyError {
  constructor(
    message: string,
    opts: { status?: number; ogcCode?: string; locator?: string; code?: string } = {},
  ) {
    super(message, {
      code: opts.code ?? 'MPX_ERR_REQUEST',
      status: opts.status ?? 400,
      ogcCode: opts.ogcCode ?? 'NoApplicableCode',
      locator: opts.locator,
    });
  }
}

/** The requested tile lies outside the grid or its levels. */
export class TileOutOfRangeError extends RequestError {
  constructor(message = 'The requested tile is outside the bounding box of the tile map.') {
    super(message, { status: 400, ogcCode: 'TileOutOfRange', code: 'MPX_ERR_TILE_OUT_OF_RANGE' });
  }
}

/** Stable codes of warnings emitted with `process.emitWarning` (deprecated or ignored keys). */
export const WarningCodes = {
  /** A configuration key MapProxy ignores too (unknown key): it is ignored with a warning. */
  unknownConfigKey: 'MPXW001',
  /** A deprecated configuration key that still works. */
  deprecatedConfigKey: 'MPXDEP001',
} as const;

/** What the usual file-system errors mean to whoever set the path; the errno code stays for searching. */
const FILE_ERROR_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'its directory does not exist (ENOENT)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  EISDIR: 'it is a directory (EISDIR)',
  ENOTDIR: 'a part of its path is a file, not a directory (ENOTDIR)',
  // mkdir -p over a path with a file in it.
  EEXIST: 'a part of its path is a file, not a directory (EEXIST)',
  EROFS: 'the file system is read-only (EROFS)',
  ENOSPC: 'no space left on the device (ENOSPC)',
  EDQUOT: 'disk quota exceeded (EDQUOT)',
};

/**
 * `cannot <doing> <file>: <why>` for a file-system error, as a user reads it: `cannot write the pid
 * file /run/x.pid: its directory does not exist (ENOENT)`. The errno code is kept on the error.
 */
export function fileError(doing: string, file: string, err: unknown): Error & { code?: string } {
  return Object.assign(new Error(`cannot ${doing} ${file}: ${fileErrorReason(err)}`, { cause: err }), { code: (err as NodeJS.ErrnoException).code });
}

/** The words for a file-system error (`permission denied (EACCES)`), else its message. */
export function fileErrorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return FILE_ERROR_REASONS[e.code ?? ''] ?? e.message;
}
