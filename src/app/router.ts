/**
 * The HTTP entry of the app (REFERENCE.md §1.1): only GET and HEAD; the first path segment picks
 * the service (`tms`, `tiles`, `wmts`, …; `service`/`ows` go to the OWS dispatcher); `/` is a
 * welcome page and anything else a plain 404. A service's `ServiceResponse` is written by
 * `writeResponse`; an unexpected error becomes `500 internal error`, logged on `mapproxy.wsgiapp`
 * and never shown to the client.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { createOwsDispatcher, type OwsServices } from '../service/ows.js';
import { INTERNAL_ERROR_MESSAGE, PLAIN_CONTENT_TYPE } from '../service/exceptions.js';
import type { Service, ServiceResponse } from '../service/types.js';
import { escapeXml } from '../service/xml.js';
import { resolveRequest } from './proxy.js';
import { writeResponse } from './respond.js';

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
}

/** A `node:http` request listener. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const NOT_FOUND: ServiceResponse = { status: 404, contentType: PLAIN_CONTENT_TYPE, body: 'not found' };
// MapProxy's 500 carries no charset; it is the one answer that must not depend on anything.
const INTERNAL_ERROR: ServiceResponse = {
  status: 500,
  contentType: 'text/plain',
  body: INTERNAL_ERROR_MESSAGE,
  cache: 'no-cache',
};
const METHOD_NOT_ALLOWED: ServiceResponse = {
  status: 405,
  contentType: PLAIN_CONTENT_TYPE,
  body: 'method not allowed',
  headers: { Allow: 'GET, HEAD' },
  cache: 'no-cache',
};

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

function firstSegment(path: string): string {
  const slash = path.indexOf('/', 1);
  return slash < 0 ? path.slice(1) : path.slice(1, slash);
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

  const welcome = (baseUrl: string): ServiceResponse => {
    let html = `<html><body><h1>Welcome to MapProxy-ts ${escapeXml(version)}</h1>`;
    if (demo) html += `<p>See all configured layers and services at: <a href="${escapeXml(baseUrl)}/demo/">demo</a>`;
    return { status: 200, contentType: 'text/html; charset=utf-8', body: html };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return writeResponse(req, res, METHOD_NOT_ALLOWED, cors);
    let target;
    try {
      target = resolveRequest(req);
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      const bad: ServiceResponse = { status: err.status, contentType: PLAIN_CONTENT_TYPE, body: err.message, cache: 'no-cache' };
      return writeResponse(req, res, bad, cors);
    }
    const { path } = target;
    if (path === '/' || path === '') return writeResponse(req, res, welcome(target.baseUrl), cors);
    const service = routes.get(firstSegment(path));
    if (!service) return writeResponse(req, res, NOT_FOUND, cors);
    const answer = await service.handle({
      method,
      path,
      query: target.query,
      headers: req.headers,
      baseUrl: target.baseUrl,
    });
    writeResponse(req, res, answer ?? NOT_FOUND, cors);
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, method: req.method, url: req.url }, `fatal error for ${req.url ?? ''}`);
      if (!res.headersSent) writeResponse(req, res, INTERNAL_ERROR, cors);
      else res.destroy();
    });
  };
}
