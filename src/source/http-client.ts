/**
 * The one HTTP client of all sources: undici Agents with keep-alive pools (one per timeout/TLS
 * setting), MapProxy's `http.*` options, credentials from the URL as Basic auth, typed
 * `SourceError`s, and one log line per upstream request on `mapproxy.source.request`. undici is
 * loaded at the first upstream request, not at import: a worker that only serves cache hits never
 * pays its memory (~15 MiB of RSS).
 */
import { channel } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import type { Agent } from 'undici';
import { getLogger } from '../log/index.js';
import { UpstreamConnectionError, UpstreamHttpError, UpstreamTimeoutError } from './errors.js';

/** `http` options of a source, globals merged in (MapProxy names in comments). */
export interface HttpOptions {
  /** `client_timeout` in seconds (60). */
  readonly clientTimeout?: number;
  /** `headers`: added to every request; may override User-Agent. */
  readonly headers?: Readonly<Record<string, string>>;
  /** `hide_error_details` (true): error messages without URL and reason (the log has them). */
  readonly hideErrorDetails?: boolean;
  /** `ssl_no_cert_checks` (false). */
  readonly sslNoCertChecks?: boolean;
  /** `ssl_ca_certs`: a CA bundle file (absolute path). */
  readonly sslCaCerts?: string;
  /** `method` (AUTO): how WMS requests are sent; AUTO posts only when there is an `sld_body`. */
  readonly method?: 'AUTO' | 'GET' | 'POST';
  /**
   * `manage_cookies`: a jar (name → value) the answers' Set-Cookie headers go into and the next
   * requests' Cookie header comes from. Attributes (path, domain, expiry) are not tracked.
   */
  readonly cookies?: Map<string, string>;
}

/** One request. */
export interface HttpRequestOptions extends HttpOptions {
  /** POST a form body (`application/x-www-form-urlencoded`) instead of GET. */
  readonly body?: string;
  /** The name of the source in the configuration that asks (the `source` of logs and metrics). */
  readonly source?: string;
}

/** An upstream answer (a 2xx status other than 204, after any redirects). */
export interface HttpResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The URL as requested, credentials removed. */
  readonly url: string;
}

/** Sent unless `http.headers` sets its own. MapProxy sends `MapProxy-<version>`. */
export const USER_AGENT = 'MapProxy-ts';
export const DEFAULT_CLIENT_TIMEOUT = 60;

/** Published for every upstream request: `{ method, url, status, bytes, durationMs, error }`. */
const requestChannel = channel('mapproxy:source:request');

/**
 * Split `user:pass@` off a URL as MapProxy's `auth_data_from_url` does: the last `@` of the
 * authority separates credentials, the first `:` of those the password. Never decodes.
 */
export function splitCredentials(url: string): { url: string; username?: string; password?: string } {
  const sep = url.indexOf('://');
  if (sep < 0) return { url };
  const scheme = url.slice(0, sep);
  const rest = url.slice(sep + 3);
  const slash = rest.indexOf('/');
  let host = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  const at = host.lastIndexOf('@');
  if (at < 0) return { url };
  const auth = host.slice(0, at);
  host = host.slice(at + 1);
  const colon = auth.indexOf(':');
  const stripped = `${scheme}://${host}/${path}`;
  return colon < 0 ? { url: stripped, username: auth } : { url: stripped, username: auth.slice(0, colon), password: auth.slice(colon + 1) };
}

/** The `Authorization` value for credentials, or undefined. */
export function basicAuth(username?: string, password?: string): string | undefined {
  if (username === undefined) return undefined;
  return 'Basic ' + Buffer.from(`${username}:${password ?? ''}`).toString('base64');
}

type Undici = typeof import('undici');

let undiciLoad: Promise<Undici> | undefined;

/** undici, imported once; concurrent first requests share the load, a failed one is retried. */
function undiciLib(): Promise<Undici> {
  undiciLoad ??= import('undici').catch((err: unknown) => {
    undiciLoad = undefined;
    throw err;
  });
  return undiciLoad;
}

const agents = new Map<string, Agent>();

function agentFor(undici: Undici, opts: HttpOptions): Agent {
  const timeoutMs = Math.round((opts.clientTimeout ?? DEFAULT_CLIENT_TIMEOUT) * 1000);
  const key = `${timeoutMs}|${opts.sslNoCertChecks ? 1 : 0}|${opts.sslCaCerts ?? ''}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new undici.Agent({
      keepAliveTimeout: 30_000,
      connections: 64,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: {
        timeout: timeoutMs,
        rejectUnauthorized: !opts.sslNoCertChecks,
        // Read once per agent, at the first request of a source (never on a hot path).
        ...(opts.sslCaCerts && !opts.sslNoCertChecks ? { ca: readFileSync(opts.sslCaCerts) } : {}),
      },
    });
    agents.set(key, agent);
  }
  return agent;
}

/** Close every pooled connection (end of a test, worker drain). Loads nothing when none were made. */
export async function closeHttpAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: Array<{ code?: unknown }>; cause?: unknown };
  if (typeof e?.code === 'string') return e.code;
  if (Array.isArray(e?.errors) && typeof e.errors[0]?.code === 'string') return e.errors[0].code;
  if (e?.cause) return errorCode(e.cause);
  return undefined;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
/** Reasons worded as Python's socket errors, which MapProxy's messages show. */
const CONNECTION_REASONS: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  UND_ERR_SOCKET: 'Connection closed by peer',
};

function storeCookies(jar: Map<string, string>, header: string | string[] | undefined): void {
  for (const line of header === undefined ? [] : Array.isArray(header) ? header : [header]) {
    const pair = line.split(';', 1)[0];
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '' || /;\s*max-age=0\b/i.test(line)) jar.delete(name);
    else jar.set(name, value);
  }
}

/** MapProxy's wording: `<what> "<url>": <reason>`, or without URL and reason when hidden. */
function message(hide: boolean, what: string, url: string, reason: string): string {
  return hide ? `${what} (see logs for URL and reason).` : `${what} "${url}": ${reason}`;
}

/** Redirect statuses followed, as urllib's HTTPRedirectHandler (Python 3.11) follows them. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** urllib's limits: distinct URLs in one chain, and visits of one URL. */
const MAX_REDIRECT_URLS = 10;
const MAX_URL_REPEATS = 4;

/**
 * Where a redirect answer sends the request next, as urllib decides it: GET follows every
 * redirect status, POST only 301, 302 and 303 (as a GET without body); only to http or https.
 * Undefined when the answer is not followed (it is then an `HTTP Error` with its status).
 */
function redirectTarget(current: string, method: string, status: number, location: string | string[] | undefined): URL | undefined {
  if (!REDIRECTS.has(status) || (method === 'POST' && status > 303)) return undefined;
  const first = Array.isArray(location) ? location[0] : location;
  // An empty Location is the same URL again (urllib's urljoin), as in a cookie round trip.
  if (first === undefined) return undefined;
  let next: URL;
  try {
    // undici gives header bytes as latin1: bytes above 0x7f are percent-encoded as bytes, as
    // urllib does, not re-encoded as UTF-8 characters.
    next = new URL(first.replace(/[\x80-\xff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`), current);
  } catch {
    return undefined;
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') return undefined;
  // Credentials in a Location are not used (nor logged): only those of the configured URL are.
  next.username = '';
  next.password = '';
  return next;
}

/**
 * GET (or POST with `body`) a URL and return status, headers and the whole body.
 * Credentials in the URL become a Basic Authorization header and never appear in logs or errors.
 * Redirects are followed as MapProxy's urllib follows them (at most 10 URLs, each at most 4
 * times); credentials and the cookie jar go only to the origin of the URL asked for.
 * Rejects with `UpstreamTimeoutError` (no answer within `clientTimeout`),
 * `UpstreamConnectionError` (refused, reset, DNS, TLS) or `UpstreamHttpError` (a final status
 * outside 200-299, or 204), all `SourceError`s carrying the URL as asked for.
 */
export async function httpGet(rawUrl: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const { url, username, password } = splitCredentials(rawUrl);
  const hide = opts.hideErrorDetails ?? true;
  const method = opts.body === undefined ? 'GET' : 'POST';
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (opts.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const auth = basicAuth(username, password);
  const jar = headers.cookie === undefined ? opts.cookies : undefined;
  /** The headers of one request: credentials and the jar's cookies only for the origin asked for. */
  const headersFor = (own: boolean): Record<string, string> => {
    if (!own || (auth === undefined && (jar === undefined || jar.size === 0))) return headers;
    const h = { ...headers };
    if (auth !== undefined) h.authorization = auth;
    if (jar !== undefined && jar.size > 0) h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return h;
  };

  // Before the clock starts: the first request's duration should not include the module load.
  const undici = await undiciLib();
  const dispatcher = agentFor(undici, opts);
  const start = performance.now();
  let status: number | undefined;
  let body: Buffer | undefined;
  let failure: Error | undefined;
  let detail: string | undefined;
  /** The URL answered last, when a redirect led there. */
  let landed: string | undefined;
  const visited = new Map<string, number>();
  try {
    let origin: string | undefined;
    try {
      origin = new URL(url).origin;
    } catch {
      // undici rejects the URL below, with its own reason.
    }
    let target = url;
    let own = true;
    let hopMethod = method;
    let hopBody = opts.body;
    for (;;) {
      // The status of the answer taken: none while a later hop has not answered (a timeout there
      // is no 302).
      status = undefined;
      const res = await undici.request(target, { method: hopMethod, headers: headersFor(own), body: hopBody, dispatcher });
      status = res.statusCode;
      if (opts.cookies && own) storeCookies(opts.cookies, res.headers['set-cookie']);
      // urllib takes a `URI` header where there is no Location.
      const next = redirectTarget(target, hopMethod, status, res.headers.location ?? res.headers.uri);
      if (next !== undefined) {
        const nextUrl = next.href;
        const repeats = visited.get(nextUrl) ?? 0;
        if (repeats < MAX_URL_REPEATS && visited.size < MAX_REDIRECT_URLS) {
          visited.set(nextUrl, repeats + 1);
          await res.body.dump();
          if (hopMethod === 'POST') {
            // 301/302/303 after a POST: the next request is a GET without the form (as urllib).
            hopMethod = 'GET';
            hopBody = undefined;
            delete headers['content-type'];
          }
          target = nextUrl;
          own = next.origin === origin;
          landed = nextUrl;
          continue;
        }
      }
      body = Buffer.from(await res.body.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) outHeaders[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      if (status < 200 || status >= 300 || status === 204) {
        // MapProxy: 204 is an error too ('HTTP Error "204 No Content"'); so is a redirect that
        // is not followed (no Location, another scheme, a loop, a POST sent on by 307/308).
        detail = message(false, 'HTTP Error', url, String(status));
        failure = new UpstreamHttpError(message(hide, 'HTTP Error', url, String(status)), { url, status });
        throw failure;
      }
      return { status, headers: outHeaders, body, url };
    }
  } catch (err) {
    if (failure) throw failure;
    const code = errorCode(err);
    if (code && TIMEOUT_CODES.has(code)) {
      detail = message(false, 'No response from URL', url, 'timed out');
      failure = new UpstreamTimeoutError(message(hide, 'No response from URL', url, 'timed out'), { url, cause: err });
    } else {
      const reason = (code && CONNECTION_REASONS[code]) ?? (err instanceof Error ? err.message : String(err));
      detail = message(false, 'No response from URL', url, reason);
      failure = new UpstreamConnectionError(message(hide, 'No response from URL', url, reason), { url, cause: err });
    }
    throw failure;
  } finally {
    const durationMs = performance.now() - start;
    // Looked up per request: configureLogging may have replaced the root since the last one.
    const requestLog = getLogger('mapproxy.source.request');
    if (requestLog.isLevelEnabled('info')) {
      const sizeKb = body ? Math.round((body.length / 1024) * 10) / 10 : null;
      requestLog.info(
        {
          source: opts.source,
          method,
          url,
          status: status ?? null,
          sizeKb,
          durationMs: Math.round(durationMs),
          ...(landed !== undefined ? { redirects: [...visited.values()].reduce((a, b) => a + b, 0), location: landed } : {}),
          ...(detail ? { error: detail } : {}),
        },
        `${method} ${url} ${status ?? '-'} ${sizeKb === null ? '-' : sizeKb.toFixed(1)} ${Math.round(durationMs)}`,
      );
    }
    if (requestChannel.hasSubscribers) {
      requestChannel.publish({ method, url, status, bytes: body?.length, durationMs, error: failure, source: opts.source });
    }
  }
}
