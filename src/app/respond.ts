/**
 * Writing a `ServiceResponse` to Node's `ServerResponse`, the same way for every service:
 * Content-Type/Length, CORS, `Vary` on documents, tile caching headers and conditional requests
 * (REFERENCE.md §1.1, §2.10; RFC 9110 §13.1 and §15.4.5), and header-only answers to HEAD.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pyFloatRepr } from '../grid/index.js';
import type { ServiceResponse } from '../service/types.js';
import { formatHttpDate, parseHttpDate } from './http-date.js';

/** Documents can depend on these proxy headers; caches must key on them (MapProxy sends the same). */
export const VARY_PROXY_HEADERS = 'X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto';

/**
 * The ETag of a tile: the quoted md5 of its timestamp in seconds as Python prints a float and its
 * size, MapProxy's recipe (`md5(str(timestamp) + str(size))`), so every tile version has its own.
 * `mtimeSec`, when known, is the timestamp exactly as Python's st_mtime (see `StoredTile.mtimeSec`).
 */
export function tileEtag(mtimeMs: number, size: number, mtimeSec?: number): string {
  return `"${createHash('md5').update(`${pyFloatRepr(mtimeSec ?? mtimeMs / 1000)}${size}`).digest('hex')}"`;
}

/** Opaque tag without the weak prefix and quotes, for weak comparison (RFC 9110 §8.8.3.2). */
function opaque(tag: string): string {
  let t = tag.trim();
  if (t.startsWith('W/')) t = t.slice(2);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  return t;
}

/**
 * Whether the client's copy is current (RFC 9110 §13.1.1–13.1.3): If-None-Match (`*`, a list,
 * weak comparison) decides when present; otherwise If-Modified-Since at or after the mtime,
 * compared in whole seconds because HTTP dates have no fraction. Invalid dates are ignored.
 */
export function isNotModified(headers: IncomingHttpHeaders, etag: string, mtimeMs: number): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) {
    const mine = opaque(etag);
    for (const candidate of inm.split(',')) {
      const c = candidate.trim();
      if (c === '*' || opaque(c) === mine) return true;
    }
    return false;
  }
  const ims = parseHttpDate(headers['if-modified-since']);
  return ims !== null && Math.floor(mtimeMs / 1000) <= ims;
}

/**
 * Write `sr` to `res`. `accessControlAllowOrigin` (`globals.http.access_control_allow_origin`,
 * empty: no CORS header) goes on every answer. Cacheable tiles get Last-Modified, ETag and
 * Cache-Control and may become a 304 without body or Content-Type; `no-cache` answers get
 * `Cache-Control: no-cache, no-store`, `Pragma: no-cache`, `Expires: -1`.
 *
 * @returns the headers of a 200 answer with its body (the router may give it again, see
 *   hot-answers.ts); null for anything else (304, HEAD, other statuses).
 */
export function writeResponse(
  req: IncomingMessage,
  res: ServerResponse,
  sr: ServiceResponse,
  accessControlAllowOrigin: string,
): OutgoingHttpHeaders | null {
  const headers: OutgoingHttpHeaders = {};
  let status = sr.status;
  const cache = sr.cache;
  if (cache === 'no-cache') {
    headers['Cache-Control'] = 'no-cache, no-store';
    headers.Pragma = 'no-cache';
    headers.Expires = '-1';
  } else if (cache) {
    const v = cache.validators;
    let etag = v?.etag;
    if (etag === undefined) {
      etag = tileEtag(cache.mtime, cache.size, cache.mtimeSec);
      if (v) v.etag = etag;
    }
    let lastModified = v?.lastModified;
    if (lastModified === undefined) {
      lastModified = formatHttpDate(cache.mtime);
      if (v) v.lastModified = lastModified;
    }
    const maxAge = Math.trunc(cache.maxAge);
    headers.ETag = etag;
    headers['Last-Modified'] = lastModified;
    headers['Cache-Control'] = `public, max-age=${maxAge}, s-maxage=${maxAge}`;
    if (status === 200 && isNotModified(req.headers, etag, cache.mtime)) status = 304;
  }
  if (accessControlAllowOrigin) headers['Access-Control-Allow-Origin'] = accessControlAllowOrigin;
  if (sr.headers) Object.assign(headers, sr.headers);
  if (status === 304) {
    res.writeHead(304, headers);
    res.end();
    return null;
  }
  const contentType = sr.contentType;
  if (contentType !== undefined) {
    headers['Content-Type'] = contentType;
    if (contentType.startsWith('text/') || contentType.startsWith('application/')) headers.Vary = VARY_PROXY_HEADERS;
  }
  const body = typeof sr.body === 'string' ? Buffer.from(sr.body, 'utf8') : sr.body;
  headers['Content-Length'] = body.length;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') {
    res.end();
    return null;
  }
  res.end(body);
  return status === 200 ? headers : null;
}
