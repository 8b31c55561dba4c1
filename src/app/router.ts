/**
 * The HTTP entry of the app (REFERENCE.md §1.1): only GET and HEAD; the first path segment picks
 * the service (`tms`, `tiles`, `wmts`, …; `service`/`ows` go to the OWS dispatcher); `/` is a
 * welcome page and anything else a plain 404. A service's `ServiceResponse` is written by
 * `writeResponse`; an unexpected error becomes `500 internal error`, logged on `mapproxy.wsgiapp`
 * and never shown to the client.
 *
 * Beyond MapProxy: `/healthz`, `/readyz` and `/metrics` (paths configurable, see
 * `ObservabilityOptions`) are answered before any service, and every answer is published on the
 * `mapproxy:http:request` diagnostics channel for the request metrics.
 */
import { channel } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, RequestError } from '../errors.js';
import { accessLogOn, createAccessLog, getLogger } from '../log/index.js';
import { CHANNELS, type CacheEventMessage, type HttpRequestMessage } from '../metrics/channels.js';
import { isReady, notWritable } from '../metrics/health.js';
import { installMetrics } from '../metrics/install.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.js';
import { renderMetrics } from '../metrics/worker.js';
import { createOwsDispatcher, type OwsServices } from '../service/ows.js';
import { INTERNAL_ERROR_MESSAGE, PLAIN_CONTENT_TYPE } from '../service/exceptions.js';
import type { Service, ServiceResponse } from '../service/types.js';
import { escapeXml } from '../service/xml.js';
import { resolveRequest } from './proxy.js';
import { HotAnswers, hotKey, lentBuffers, type FastAnswer, type FastAnswerLookup, type HotAnswer } from './hot-answers.js';
import { writeResponse } from './respond.js';
import { checkOperationalPath, firstSegment, type OperationalPaths } from './operational-paths.js';

/** Options of `createHandler`. */
export interface HandlerOptions {
  /**
   * Services by first path segment (`tms`, `tiles`, `wmts`, `kml`, `demo`, …). `tms` also answers
   * `/tiles` unless `tiles` is given (MapProxy's tile server owns both).
   */
  readonly services?: Readonly<Partial<Record<string, Service>>>;
  /** KVP services by SERVICE value (`wmts`, `wms`): `/service`, `/ows`, and `/wms` when `wms` is set. */
  readonly ows?: OwsServices;
  /** `globals.http.access_control_allow_origin` (default `*`; empty: no CORS header). */
  readonly accessControlAllowOrigin?: string;
  /** The welcome page at `/`: product version, and a link to `/demo/` when the demo is on. */
  readonly welcome?: { readonly version?: string; readonly demo?: boolean };
  /**
   * Health, readiness and metrics routes (on by default at `/healthz`, `/readyz`, `/metrics`);
   * `false`: none of them.
   */
  readonly observability?: ObservabilityOptions | false;
  /** Tile answers from memory remembered for replay (hot-answers.ts); 0 turns that off. */
  readonly hotAnswers?: number;
  /**
   * Answer an unexpected error with its stack trace instead of `internal error` (serve-develop
   * --debug; MapProxy's `make_wsgi_app(debug=True)`). Never in production: it shows internals.
   */
  readonly debug?: boolean;
}

/**
 * The operational routes (beyond MapProxy). Each path is matched exactly (below the script
 * name, query ignored) before any service, so it takes precedence over a service or a
 * MultiMapProxy project of the same name; `reservedNames` lists the names a project must not use.
 */
export interface ObservabilityOptions extends OperationalPaths {
  /** Default: `isReady()` of src/metrics (the flag a worker flips with `setReady`). */
  readonly ready?: () => boolean | Promise<boolean>;
  /** Cache and lock directories `/readyz` checks (`cacheDirsOf(builtConfig)`). Default: none. */
  readonly writableDirs?: readonly string[];
  /**
   * The metrics text. Default: `renderMetrics()` of src/metrics (the cluster sum from the master
   * in a metrics-collecting `serve` cluster, else this process's registry), with
   * `installMetrics()` called when the handler is created.
   */
  readonly metrics?: () => Promise<string>;
}

/** The operational routes of a handler, for a front router (MultiMapProxy) to answer first. */
export interface ObservabilityRoutes {
  /** Exact paths answered, e.g. `['/healthz', '/readyz', '/metrics']`. */
  readonly paths: readonly string[];
  /** First path segments a MultiMapProxy project must not be named (they would be shadowed). */
  readonly reservedNames: ReadonlySet<string>;
  /** The answer for `path`, or undefined when it is no operational route. */
  answer(path: string): Promise<ServiceResponse> | undefined;
  /** The service label of `path` in the request metrics (`health`, `ready`, `metrics`). */
  label(path: string): string | undefined;
}

/** A `node:http` request listener. */
export interface RequestHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /**
   * Replayed tile answers for a server that reads requests itself (the worker's fast lane);
   * undefined while nothing can be replayed, for example while the access log is on.
   */
  readonly fastAnswer?: FastAnswerLookup;
}

const NOT_FOUND: ServiceResponse = { status: 404, contentType: PLAIN_CONTENT_TYPE, body: 'not found' };
// MapProxy's 500 carries no charset; it is the one answer that must not depend on anything.
const INTERNAL_ERROR: ServiceResponse = {
  status: 500,
  contentType: 'text/plain',
  body: INTERNAL_ERROR_MESSAGE,
  cache: 'no-cache',
};
/** 405 for anything but GET and HEAD; shared with the MultiMapProxy front. */
export const METHOD_NOT_ALLOWED: ServiceResponse = {
  status: 405,
  contentType: PLAIN_CONTENT_TYPE,
  body: 'method not allowed',
  headers: { Allow: 'GET, HEAD' },
  cache: 'no-cache',
};

const NO_CACHE_TEXT = 'text/plain; charset=utf-8';
const HEALTHY: ServiceResponse = { status: 200, contentType: NO_CACHE_TEXT, body: 'ok', cache: 'no-cache' };
const READY: ServiceResponse = { status: 200, contentType: NO_CACHE_TEXT, body: 'ready', cache: 'no-cache' };
const NOT_READY: ServiceResponse = { status: 503, contentType: NO_CACHE_TEXT, body: 'not ready', cache: 'no-cache' };
const METRICS_UNAVAILABLE: ServiceResponse = { status: 503, contentType: NO_CACHE_TEXT, body: 'metrics unavailable', cache: 'no-cache' };

/** Published when an answer was written (see src/metrics/channels.ts). */
const httpChannel = channel(CHANNELS.httpRequest);
/** A replayed tile answer is a cache hit like the one it repeats. */
const cacheHitChannel = channel(CHANNELS.cacheHit);

let packageVersion: string | undefined;

/** The version in mapproxy-ts's package.json (read once; the file sits above src/ and dist/). */
export function productVersion(): string {
  if (packageVersion !== undefined) return packageVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mapproxy-ts' && pkg.version) return (packageVersion = pkg.version);
    } catch {
      // not here: look one directory up
    }
    dir = dirname(dir);
  }
  return (packageVersion = 'unknown');
}

/** Where the operational routes of `ObservabilityOptions` are (null: off). */
export interface ObservabilityPaths {
  readonly healthPath: string | null;
  readonly readyPath: string | null;
  readonly metricsPath: string | null;
  /** Health and readiness paths: what the access log leaves out (probes every few seconds). */
  readonly probePaths: readonly string[];
  /** First path segments a MultiMapProxy project must not be named (they would be shadowed). */
  readonly reservedNames: ReadonlySet<string>;
}

/**
 * Check and resolve the paths of `opts` (defaults `/healthz`, `/readyz`, `/metrics`) without
 * setting anything up. `serviceSegments`: first path segments that belong to services; an
 * operational path in one of them is refused. Throws `ConfigError` (`MPX_ERR_CONFIG`) naming the
 * option.
 */
export function observabilityPaths(opts: ObservabilityOptions | false = {}, serviceSegments: Iterable<string> = []): ObservabilityPaths {
  const o: ObservabilityOptions = opts === false ? { healthPath: false, readyPath: false, metricsPath: false } : opts;
  const taken = new Set(serviceSegments);
  const seen = new Set<string>();
  const resolve = (key: 'healthPath' | 'readyPath' | 'metricsPath', fallback: string): string | null => {
    const path = checkOperationalPath(key, o[key], fallback);
    if (path === null) return null;
    if (seen.has(path)) {
      throw new ConfigError([{ path: `observability.${key}`, message: `${path} is already the path of another operational route` }]);
    }
    if (taken.has(firstSegment(path))) {
      throw new ConfigError([{ path: `observability.${key}`, message: `${path} lies under the path of a service (/${firstSegment(path)})` }]);
    }
    seen.add(path);
    return path;
  };
  const healthPath = resolve('healthPath', '/healthz');
  const readyPath = resolve('readyPath', '/readyz');
  const metricsPath = resolve('metricsPath', '/metrics');
  const probePaths = [healthPath, readyPath].filter((p): p is string => p !== null);
  return { healthPath, readyPath, metricsPath, probePaths, reservedNames: new Set([...seen].map(firstSegment)) };
}

/**
 * The health, readiness and metrics routes of `opts` (see `observabilityPaths`). With the default
 * metrics source it starts recording this process's metrics (`installMetrics()`).
 */
export function createObservabilityRoutes(
  opts: ObservabilityOptions | false = {},
  serviceSegments: Iterable<string> = [],
): ObservabilityRoutes {
  const o: ObservabilityOptions = opts === false ? {} : opts;
  const { healthPath, readyPath, metricsPath, reservedNames } = observabilityPaths(opts, serviceSegments);
  const table = new Map<string, { label: string; answer: () => Promise<ServiceResponse> }>();
  const add = (path: string | null, label: string, answer: () => Promise<ServiceResponse>): void => {
    if (path !== null) table.set(path, { label, answer });
  };
  const log = getLogger('mapproxy.wsgiapp');

  add(healthPath, 'health', () => Promise.resolve(HEALTHY));

  const ready = o.ready ?? isReady;
  const dirs = o.writableDirs ?? [];
  // What made the last answer 'not ready' for the directories, said once each time it changes: the
  // answer itself names no path (it may be public), the log does.
  let reported = '';
  add(readyPath, 'ready', async () => {
    try {
      if (!(await ready())) return NOT_READY;
      const why = dirs.length === 0 ? [] : await notWritable(dirs);
      const key = why.join('\n');
      if (key !== reported) {
        if (why.length > 0) log.warn({ dirs: why }, `not ready: a cache or lock directory cannot be written (${why.join('; ')})`);
        else log.info('ready: the cache and lock directories can be written again');
        reported = key;
      }
      return why.length === 0 ? READY : NOT_READY;
    } catch (err) {
      log.warn({ err }, 'readiness check failed');
      return NOT_READY;
    }
  });

  if (metricsPath !== null && o.metrics === undefined) installMetrics();
  const metrics = o.metrics ?? renderMetrics;
  add(metricsPath, 'metrics', async () => {
    try {
      return { status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: await metrics(), cache: 'no-cache' };
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot collect the metrics');
      return METRICS_UNAVAILABLE;
    }
  });

  return {
    paths: [...table.keys()],
    reservedNames,
    answer: (path) => table.get(path)?.answer(),
    label: (path) => table.get(path)?.label,
  };
}

/** Build the request listener. Route tables are fixed here; nothing is compiled per request. */
export function createHandler(opts: HandlerOptions): RequestHandler {
  const log = getLogger('mapproxy.wsgiapp');
  const cors = opts.accessControlAllowOrigin ?? '*';
  const routes = new Map<string, Service>();
  for (const [segment, service] of Object.entries(opts.services ?? {})) if (service) routes.set(segment, service);
  const tms = routes.get('tms');
  if (tms && !routes.has('tiles')) routes.set('tiles', tms);
  const ows = opts.ows ?? {};
  if (Object.values(ows).some((s) => s !== undefined)) {
    const dispatcher = createOwsDispatcher(ows);
    routes.set('service', dispatcher);
    routes.set('ows', dispatcher);
    if (ows.wms) routes.set('wms', dispatcher);
  }
  const version = opts.welcome?.version ?? productVersion();
  const demo = opts.welcome?.demo === true;
  const operational = createObservabilityRoutes(opts.observability ?? {}, routes.keys());
  const hasOperational = operational.paths.length > 0;
  /** The label of a request in the metrics: the answering service, SERVICE-refined for OWS. */
  const labelOf = (service: Service, query: { get(name: string): string | undefined }): string => {
    if (service.name !== 'ows') return service.name;
    const asked = query.get('service')?.toLowerCase();
    return asked !== undefined && ows[asked] !== undefined ? asked : 'ows';
  };

  const welcome = (baseUrl: string): ServiceResponse => {
    let html = `<html><body><h1>Welcome to MapProxy-ts ${escapeXml(version)}</h1>`;
    if (demo) html += `<p>See all configured layers and services at: <a href="${escapeXml(baseUrl)}/demo/">demo</a>`;
    return { status: 200, contentType: 'text/html; charset=utf-8', body: html };
  };

  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    log.error({ err, method: req.method, url: req.url }, `fatal error for ${req.url ?? ''}`);
    if (res.headersSent) res.destroy();
    else writeResponse(req, res, opts.debug === true ? debugError(err) : INTERNAL_ERROR, cors);
  };

  /** Answer the request; resolves to the service label of the request metrics. */
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<string> => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      writeResponse(req, res, METHOD_NOT_ALLOWED, cors);
      return 'none';
    }
    let target;
    try {
      target = resolveRequest(req);
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      const bad: ServiceResponse = { status: err.status, contentType: PLAIN_CONTENT_TYPE, body: err.message, cache: 'no-cache' };
      writeResponse(req, res, bad, cors);
      return 'none';
    }
    const { path } = target;
    if (path === '/' || path === '') {
      writeResponse(req, res, welcome(target.baseUrl), cors);
      return 'welcome';
    }
    const service = routes.get(firstSegment(path));
    if (!service) {
      const op = hasOperational ? operational.answer(path) : undefined;
      writeResponse(req, res, op ? await op : NOT_FOUND, cors);
      return op ? (operational.label(path) ?? 'none') : 'none';
    }
    const label = labelOf(service, target.query);
    try {
      const answer = await service.handle({
        method,
        path,
        query: target.query,
        headers: req.headers,
        baseUrl: target.baseUrl,
      });
      const written = writeResponse(req, res, answer ?? NOT_FOUND, cors);
      const replay = answer?.replay;
      if (written && replay) {
        const key = HotAnswers.keyOf(req);
        if (key !== null) hot.set(key, replay, { headers: written, label, cache: replay.cache });
      }
    } catch (err) {
      fail(req, res, err);
    }
    return label;
  };

  // The access log (off unless the log configuration turns it on) skips the probe paths.
  const access = createAccessLog({
    exclude: observabilityPaths(opts.observability ?? {}).probePaths,
    routePath: (req) => {
      try {
        return resolveRequest(req).path;
      } catch {
        return undefined;
      }
    },
  });

  const hot = new HotAnswers(opts.hotAnswers);

  /**
   * The fast lane's lookup: what the replay below does, minus the response object, and with the
   * tile's open file when its memory copy is gone or due.
   */
  const fastAnswer: FastAnswerLookup = (url, scriptName) => {
    if (hot.size === 0 || accessLogOn()) return undefined;
    const slot = hot.peek(hotKey(url, scriptName));
    if (slot === undefined) return undefined;
    const tile = slot.tile?.deref();
    // Answered at once: the lane writes it now, so it is counted now.
    if (tile !== undefined && tile.isFresh()) return given(slot, tile.data, true);
    // Only its open file left, read on the event loop where the storage does (blocking_reads).
    if (tile === undefined) {
      const data = slot.file?.readNow?.(lentBuffers);
      if (data !== undefined) return given(slot, data, true, true);
    }
    const viaFile = (done: (answer: FastAnswer | undefined) => void): void =>
      slot.readFile((data, lent) => done(data === null ? undefined : given(slot, data, false, lent)), lentBuffers);
    // Held but due for its check: one stat off node:http's path instead of a full load.
    if (tile !== undefined) return { settle: (done) => tile.revalidate((fresh) => (fresh ? done(given(slot, tile.data, false)) : viaFile(done))) };
    return { settle: viaFile };
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    access(req, res);
    if (hot.size > 0) {
      const key = HotAnswers.keyOf(req);
      const h = key === null ? undefined : hot.get(key);
      if (h) {
        const start = httpChannel.hasSubscribers ? performance.now() : 0;
        res.writeHead(200, h.answer.headers);
        res.end(h.body);
        countReplay(h.answer, start === 0 ? 0 : performance.now() - start);
        return;
      }
      // Not in memory (or due for its check): the version's open file, as the fast lane does.
      const slot = key === null ? undefined : hot.peek(key);
      if (slot?.file !== undefined) {
        const start = httpChannel.hasSubscribers ? performance.now() : 0;
        slot.readFile((data) => {
          if (data === null) {
            full(req, res);
            return;
          }
          res.writeHead(200, slot.headers);
          res.end(data);
          countReplay(slot, start === 0 ? 0 : performance.now() - start);
        });
        return;
      }
    }
    full(req, res);
  };

  /** The whole path: route, service, cache. */
  const full = (req: IncomingMessage, res: ServerResponse): void => {
    if (!httpChannel.hasSubscribers) {
      handle(req, res).catch((err: unknown) => fail(req, res, err));
      return;
    }
    const start = performance.now();
    handle(req, res).then(
      (service) => publish(service, res.statusCode, start),
      (err: unknown) => {
        fail(req, res, err);
        publish('none', res.statusCode, start);
      },
    );
  };
  return Object.assign(handler, { fastAnswer });
}

/**
 * The fast lane's answer of `slot` with `body` (in a buffer of `lentBuffers` when `lent`): counted
 * now (`now`), or once the lane writes it.
 */
function given(slot: HotAnswer, body: Buffer, now: boolean, lent = false): FastAnswer {
  const from = lent ? lentBuffers : undefined;
  if (now) {
    countReplay(slot, 0);
    return { headers: slot.headers, body, lent: from };
  }
  // Settled later: the lane may find the socket gone or a drain begun, and not write it.
  return { headers: slot.headers, body, served: () => countReplay(slot, 0), lent: from };
}

/** The 500 of `--debug`: the message MapProxy sends, then what went wrong and where. */
function debugError(err: unknown): ServiceResponse {
  const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return { ...INTERNAL_ERROR, body: `${INTERNAL_ERROR_MESSAGE}\n\n${detail}\n` };
}

/** A replayed answer in the metrics: a hit of its cache and a 200 of its service. */
function countReplay(answer: HotAnswer, durationMs: number): void {
  if (answer.cache !== undefined && cacheHitChannel.hasSubscribers) cacheHitChannel.publish({ cache: answer.cache, replay: true } satisfies CacheEventMessage);
  if (httpChannel.hasSubscribers) httpChannel.publish({ service: answer.label, status: 200, durationMs } satisfies HttpRequestMessage);
}

function publish(service: string, status: number, start: number): void {
  const msg: HttpRequestMessage = { service, status, durationMs: performance.now() - start };
  httpChannel.publish(msg);
}
