/**
 * The request as the services see it behind a reverse proxy (REFERENCE.md §1.1): `X-Script-Name`
 * becomes the script name and is stripped from the path; the host comes from `X-Forwarded-Host`
 * (first of a list), then `Host` (`:80`/`:443` dropped when they match the scheme), then the
 * local socket; the scheme from `X-Forwarded-Proto`, then the connection. `baseUrl` =
 * `scheme://host` + script name is the prefix of every URL in capabilities. An app that mounts
 * others (MultiMapProxy) moves a path segment into the script name with `shiftPathSegment` and
 * hands the result on with `mountRequest`, so the mounted app sees its prefix in every URL.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { RequestError } from '../errors.js';
import { quotePath, withoutTrailingSlashes } from '../service/xml.js';
import type { QueryParams } from '../service/types.js';
import { parseQuery } from './params.js';

/** Where a request points, after proxy headers were applied. */
export interface RequestTarget {
  /**
   * Percent-decoded path below the script name, starting with `/` (or `/` alone; `''` in a
   * mounted app asked for its bare prefix, `/proj` without the slash).
   */
  readonly path: string;
  /** Script name from `X-Script-Name` (decoded as sent), `''` without one. */
  readonly scriptName: string;
  readonly query: QueryParams;
  /** `scheme://host` + quoted script name, no trailing slash. */
  readonly baseUrl: string;
}

/** The first value of a header that may be repeated or a comma list. */
function firstValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const comma = v.indexOf(',');
  const first = (comma < 0 ? v : v.slice(0, comma)).trim();
  return first.length > 0 ? first : undefined;
}

/** `http` or `https`: `X-Forwarded-Proto` first, then whether the connection is TLS. */
export function requestScheme(req: IncomingMessage): string {
  const forwarded = firstValue(req.headers['x-forwarded-proto']);
  if (forwarded) return forwarded.toLowerCase();
  return (req.socket as TLSSocket).encrypted ? 'https' : 'http';
}

/** The public host (with port unless it is the scheme's default). */
export function requestHost(req: IncomingMessage, scheme: string): string {
  const forwarded = firstValue(req.headers['x-forwarded-host']);
  if (forwarded) return forwarded;
  const host = req.headers.host;
  if (host) {
    const colon = host.lastIndexOf(':');
    // A colon inside [..] belongs to an IPv6 literal, not to a port.
    if (colon > host.lastIndexOf(']')) {
      const port = host.slice(colon + 1);
      if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) return host.slice(0, colon);
    }
    return host;
  }
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const port = req.socket.localPort;
  const name = addr.includes(':') ? `[${addr}]` : addr;
  const defaultPort = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  return port === undefined || defaultPort ? name : `${name}:${port}`;
}

/** Targets fixed by a mounting app for the request it hands on (see `mountRequest`). */
const mountedTargets = new WeakMap<IncomingMessage, RequestTarget>();

const MALFORMED_ESCAPE = 'malformed percent-encoding in the request path';
const NOT_UTF8 = 'the request path is not UTF-8 once its %XX escapes are decoded';

/**
 * Split and decode the request target. Throws `RequestError` (400) for a path with malformed
 * percent-encoding or escapes of bytes that are not UTF-8; query strings are decoded leniently, as MapProxy does. A request passed on by
 * a mounting app resolves to the target that app fixed with `mountRequest`.
 */
export function resolveRequest(req: IncomingMessage): RequestTarget {
  const mounted = mountedTargets.get(req);
  if (mounted) return mounted;
  let url = req.url ?? '/';
  // A fragment is the client's own; one sent anyway is dropped, as gunicorn and nginx do.
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  // absolute-form (`GET http://host/path`), as sent to proxies.
  if (!url.startsWith('/')) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(url);
    url = m ? url.slice(m[0].length) || '/' : `/${url}`;
  }
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = parseQuery(q < 0 ? '' : url.slice(q + 1));
  let path: string;
  try {
    path = rawPath.includes('%') ? decodeURIComponent(rawPath) : rawPath;
  } catch {
    // Either a `%` not followed by two hex digits, or escapes of bytes that are not UTF-8.
    const message = /%(?![0-9A-Fa-f]{2})/.test(rawPath) ? MALFORMED_ESCAPE : NOT_UTF8;
    throw new RequestError(message, { status: 400, code: 'MPX_ERR_BAD_PATH' });
  }
  const scriptHeader = firstScriptName(req.headers['x-script-name']);
  let scriptName = '';
  if (scriptHeader) {
    scriptName = scriptHeader;
    // Only strip a whole leading segment run: `/mapproxy` strips from `/mapproxy/tms`, not `/mapproxyx`.
    if (path.startsWith(scriptName)) {
      const rest = path.slice(scriptName.length);
      if (rest === '' || rest.startsWith('/') || scriptName.endsWith('/')) path = rest.startsWith('/') ? rest : `/${rest}`;
    }
  }
  const scheme = requestScheme(req);
  const host = requestHost(req, scheme);
  const script = withoutTrailingSlashes(scriptName);
  const baseUrl = `${scheme}://${host}${script ? quotePath(script) : ''}`;
  return { path, scriptName, query, baseUrl };
}

/**
 * Move the first segment of `target.path` into the script name (WSGI's `pop_path`, as MapProxy's
 * MultiMapProxy does): `/proj/tms/1.0.0` under `/mapproxy` becomes `/tms/1.0.0` under
 * `/mapproxy/proj`, and the base URL grows by `/proj`. `segment` is `''` for `/` and `''`; the
 * path left is `''` when nothing followed the segment (`/proj`), as in MapProxy.
 */
export function shiftPathSegment(target: RequestTarget): { segment: string; target: RequestTarget } {
  const path = target.path.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  const segment = slash < 0 ? path : path.slice(0, slash);
  if (segment === '') return { segment, target };
  const rest = slash < 0 ? '' : path.slice(slash);
  return {
    segment,
    target: {
      path: rest,
      scriptName: `${withoutTrailingSlashes(target.scriptName)}/${segment}`,
      query: target.query,
      baseUrl: `${target.baseUrl}/${quotePath(segment)}`,
    },
  };
}

/**
 * Hand `req` on to a mounted app with `target` (from `shiftPathSegment`): `resolveRequest(req)`
 * returns it from now on, instead of reading the URL and the proxy headers again.
 */
export function mountRequest(req: IncomingMessage, target: RequestTarget): void {
  mountedTargets.set(req, target);
}

function firstScriptName(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v && v.length > 0 ? v : undefined;
}
