/**
 * The optional access log on `mapproxy.access`: one line per answered request with method, path,
 * status, bytes, ms and remote address. Off unless `configureLogging({ accessLog })` (or
 * `access_log:` in the log config) turns it on; when off, a request costs one boolean check.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ACCESS_LOGGER, accessLogState, getLogger } from './logger.js';

/** Call at the start of every request; it logs the request when its response is done. */
export type AccessLogHook = (req: IncomingMessage, res: ServerResponse) => void;

/** Paths never logged unless the caller passes its own list (liveness and readiness probes). */
export const DEFAULT_ACCESS_EXCLUDE: readonly string[] = Object.freeze(['/healthz', '/readyz']);

/** The fields of one access-log line (besides pino's level, time, pid, hostname, name, msg). */
export interface AccessLogFields {
  readonly method: string;
  /** The request target as sent: path and query string. */
  readonly path: string;
  readonly status: number;
  /**
   * Body bytes: the Content-Length (0 for HEAD, 204 and 304), or for a response without one (chunked)
   * the bytes written to the socket for it after the header block (chunk framing included).
   */
  readonly bytes: number;
  /** Milliseconds from the hook call to the end of the response, 0.1 ms precision. */
  readonly ms: number;
  readonly remote: string | null;
  /** Present (true) when the connection closed before the response was complete. */
  readonly aborted?: true;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function bodyBytes(req: IncomingMessage, res: ServerResponse, socketBytes: number): number {
  if (req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304) return 0;
  const length = res.getHeader('content-length');
  if (length !== undefined) return Number(length);
  // Headers given to writeHead() as an object never reach getHeader(); node keeps the header block
  // it sent in `_header` (long-standing, if underscored), so read Content-Length from there.
  const block = (res as unknown as { _header?: unknown })._header;
  if (typeof block === 'string') {
    const m = /\r\ncontent-length:[ \t]*(\d+)/i.exec(block);
    return m ? Number(m[1]) : Math.max(0, socketBytes - Buffer.byteLength(block));
  }
  return socketBytes;
}

/** Whether the access log writes lines now (its logger enabled at info). */
export function accessLogOn(): boolean {
  return getLogger(ACCESS_LOGGER).isLevelEnabled('info');
}

/**
 * Build the access-log hook of a server. `exclude`: request paths (without query) never logged,
 * default `/healthz` and `/readyz`; paths listed in the log configuration are added. `routePath`:
 * the path the server routes by (decoded, below `X-Script-Name` or a MultiMapProxy project), also
 * compared with both lists, so a probe is left out however it is mounted; undefined when the
 * request cannot be routed.
 */
export function createAccessLog(opts: { exclude?: Iterable<string>; routePath?: (req: IncomingMessage) => string | undefined } = {}): AccessLogHook {
  const exclude = new Set(opts.exclude ?? DEFAULT_ACCESS_EXCLUDE);
  return (req, res) => {
    const log = getLogger(ACCESS_LOGGER);
    if (!log.isLevelEnabled('info')) return;
    const url = req.url ?? '/';
    const p = pathOf(url);
    const configured = accessLogState().exclude;
    if (exclude.has(p) || configured.has(p)) return;
    const routed = opts.routePath?.(req);
    if (routed !== undefined && routed !== p && (exclude.has(routed) || configured.has(routed))) return;
    const start = performance.now();
    const socket = req.socket;
    const written0 = socket.bytesWritten;
    res.once('close', () => {
      const fields: AccessLogFields = {
        method: req.method ?? 'GET',
        path: url,
        status: res.statusCode,
        bytes: bodyBytes(req, res, socket.bytesWritten - written0),
        ms: Math.round((performance.now() - start) * 10) / 10,
        remote: socket.remoteAddress ?? null,
        ...(res.writableFinished ? {} : { aborted: true as const }),
      };
      log.info(fields, `${fields.remote ?? '-'} "${fields.method} ${url}" ${fields.status} ${fields.bytes} ${fields.ms}ms`);
    });
  };
}
