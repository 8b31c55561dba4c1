/**
 * MultiMapProxy (REFERENCE.md §1.6): one request listener for a directory of configurations,
 * `<dir>/<name>.yaml` served under `/<name>/…`. The name moves from the path into the script name
 * (as MapProxy's `pop_path` does), so every URL the project writes into capabilities carries
 * `/<name>` after any `X-Script-Name`. Projects are loaded on their first request, kept in an LRU
 * of `maxApps`, and rebuilt when one of their files changes (see reloader.ts). `/` is a welcome
 * page that lists the projects only with `allowListing`.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { ConfigError, RequestError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { PLAIN_CONTENT_TYPE } from '../service/exceptions.js';
import type { ServiceResponse } from '../service/types.js';
import { escapeXml } from '../service/xml.js';
import { mountRequest, resolveRequest, shiftPathSegment, type RequestTarget } from './proxy.js';
import { createApp } from './create-app.js';
import { createReloadingApp, type ReloadingApp } from './reloader.js';
import { SERVICE_SEGMENTS, type OperationalPaths } from './operational-paths.js';
import { writeResponse } from './respond.js';
import { createObservabilityRoutes, METHOD_NOT_ALLOWED, productVersion, type ObservabilityOptions } from './router.js';

/** Options of `createMultiApp`. */
export interface MultiAppOptions {
  /**
   * List the projects on the welcome page at `/` (default false). MapProxy's Python
   * `multiapp.make_wsgi_app` defaults to true, while its documentation and the paste
   * `app_factory` default to false; we follow the documented default, because a listing tells
   * anyone which projects a server hosts and should be switched on knowingly.
   */
  readonly allowListing?: boolean;
  /** Rebuild a project when one of its files changes (default true, as MapProxy does). */
  readonly reload?: boolean;
  /** How many projects stay loaded; the least recently used is closed beyond it (default 100, MapProxy's). */
  readonly maxApps?: number;
  /** Least time between two looks at a project's files, and between two attempts to load a broken project, ms (default 1000). */
  readonly checkIntervalMs?: number;
  /** Unexpected errors answered with their stack trace (`createApp`'s `debug`; development only). */
  readonly debug?: boolean;
  /**
   * The health, readiness and metrics routes at the top, before any project (default `/healthz`,
   * `/readyz`, `/metrics`; `false`: none). A project named like one of them is not served.
   */
  readonly observability?: ObservabilityOptions | false;
  /**
   * Log at once each project file a route hides (default true). Under `serve` only the first
   * worker of a generation does, so the line is written once, not once per worker; a request for
   * a hidden project is still logged by the worker that answers it.
   */
  readonly reportHidden?: boolean;
  /**
   * Throw a ConfigError at creation when `dir` is not a directory (default true). `serve`'s
   * workers pass false: the master checked it at start.
   */
  readonly requireDirectory?: boolean;
}

/** The MultiMapProxy request listener. */
export interface MultiApp {
  (req: IncomingMessage, res: ServerResponse): void;
  /** The absolute project directory. */
  readonly dir: string;
  /** Names of the loaded projects, least recently used first. */
  loaded(): string[];
  /** Close every loaded project (after its in-flight requests); later requests get 503. */
  close(): Promise<void>;
}

/** A project name: no dots, no slashes, so never a path outside the directory. */
const PROJECT_NAME = /^[A-Za-z0-9_-]+$/;
const SUFFIX = '.yaml';

const NOT_FOUND: ServiceResponse = { status: 404, contentType: PLAIN_CONTENT_TYPE, body: 'not found' };
const CLOSED: ServiceResponse = {
  status: 503,
  contentType: PLAIN_CONTENT_TYPE,
  body: 'Service Unavailable: the application is closed\n',
  headers: { Connection: 'close' },
  cache: 'no-cache',
};

type Entry =
  | { readonly kind: 'loading'; readonly promise: Promise<ReloadingApp | undefined> }
  | { readonly kind: 'ready'; readonly app: ReloadingApp }
  /** The last load failed at `at`; the next request after the check interval tries again. */
  | { readonly kind: 'failed'; readonly at: number; readonly message: string };

/** Whether `file` exists and is a regular file (symlinks followed). */
async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * A request listener serving every `<dir>/<name>.yaml` under `/<name>/`; throws a ConfigError when
 * `dir` is not a directory (it may be empty: projects appear as files do). Unknown or invalid names
 * answer 404 `not found`; a project whose configuration is invalid answers 500 naming the project,
 * with the details only in the log (`mapproxy.config`), never the server's paths.
 */
export function createMultiApp(dir: string, opts: MultiAppOptions = {}): MultiApp {
  const root = resolve(dir);
  // A mistyped directory would otherwise answer 404 to everything with nothing in the log. Once,
  // at start-up (before the listener exists), so a blocking stat is fine. Not in a serve worker:
  // the master checked at start, and a worker replaced while the directory is briefly away (a
  // deploy's mv, a remount) must still start, to answer 404 until it is back.
  if ((opts.requireDirectory ?? true) && !statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConfigError([{ path: '', message: `not a directory of configurations: ${root}` }]);
  }
  const allowListing = opts.allowListing ?? false;
  const interval = opts.checkIntervalMs ?? 1000;
  const reloadInterval = (opts.reload ?? true) ? interval : Infinity;
  const maxApps = opts.maxApps ?? 100;
  if (!Number.isInteger(maxApps) || maxApps < 1) throw new TypeError(`maxApps must be a whole number >= 1 (got ${String(maxApps)})`);
  const log = getLogger('mapproxy.multiapp');
  const configLog = getLogger('mapproxy.config');
  const apps = new Map<string, Entry>();
  const closing = new Set<Promise<void>>();
  let closed = false;
  // Under no service segment, whatever the projects serve: every project's own routes follow
  // these, and one with a service of that name would not build.
  const operational = createObservabilityRoutes(opts.observability ?? {}, SERVICE_SEGMENTS);
  const top = opts.observability ?? {};
  const projectObservability: OperationalPaths | false =
    top === false ? false : { healthPath: top.healthPath, readyPath: top.readyPath, metricsPath: top.metricsPath };
  const reserved = operational.reservedNames;
  const warnedReserved = new Set<string>();
  const warnReserved = (name: string): void => {
    if (warnedReserved.has(name)) return;
    warnedReserved.add(name);
    configLog.warn({ project: name }, `project ${name} is not served: /${name} is an operational route (health, readiness, metrics); rename ${name}.yaml`);
  };
  // Said at once for the files there now (a few names: the check costs nothing), not only when
  // someone asks for the project.
  if (opts.reportHidden ?? true) for (const name of reserved) if (existsSync(join(root, `${name}${SUFFIX}`))) warnReserved(name);

  const dispose = (app: ReloadingApp): void => {
    const done = app.close().catch((err: unknown) => log.error({ err }, 'closing a project failed'));
    closing.add(done);
    void done.then(() => closing.delete(done));
  };

  /** Put `entry` first in line (most recently used), closing what falls off the end. */
  const remember = (name: string, entry: Entry): void => {
    apps.delete(name);
    apps.set(name, entry);
    for (const [old, e] of apps) {
      if (apps.size <= maxApps) break;
      apps.delete(old);
      // A project still loading is closed by its loader when it finds itself evicted.
      if (e.kind === 'ready') dispose(e.app);
    }
  };

  const load = async (name: string, file: string, previousFailure: string | undefined): Promise<ReloadingApp | undefined> => {
    log.info({ project: name, file }, `initializing project app ${name}`);
    try {
      // A project's own routes (/<name>/healthz...) follow the top ones: off there, off here.
      return await createReloadingApp(file, { checkIntervalMs: reloadInterval, build: (f) => createApp(f, { debug: opts.debug, observability: projectObservability }) });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // A project that stays broken is reported once, not at every retry.
      // A configuration error is the user's input: its problems say it all (as the reloader logs them).
      const fields = err instanceof ConfigError ? { project: name, file, problems: err.problems } : { project: name, file, err };
      if (message !== previousFailure) configLog.error(fields, `project ${name}: configuration error: ${message}`);
      remember(name, { kind: 'failed', at: Date.now(), message });
      return undefined;
    }
  };

  /**
   * The project's app, `'not-found'`, or `'error'` (invalid configuration). `once`: the app was
   * evicted (or everything closed) while it loaded; the caller serves its request, then closes it.
   */
  const project = async (name: string): Promise<{ app: ReloadingApp; once: boolean } | 'not-found' | 'error'> => {
    const entry = apps.get(name);
    if (entry?.kind === 'loading') {
      const app = await entry.promise;
      // Not ours to close: the request that started the load decides that.
      return app && !closed ? { app, once: false } : 'error';
    }
    if (entry?.kind === 'failed' && Date.now() - entry.at < interval) {
      remember(name, entry);
      return 'error';
    }
    if (entry?.kind === 'ready') {
      if (!entry.app.fileMissing) return { app: entry.app, once: false };
      // The file was removed: the project is gone (its reloader never sees it again).
      apps.delete(name);
      dispose(entry.app);
    }
    const file = join(root, name + SUFFIX);
    if (!(await isFile(file))) {
      if (apps.get(name)?.kind === 'failed') apps.delete(name);
      return 'not-found';
    }
    const again = apps.get(name);
    if (again?.kind === 'loading' || again?.kind === 'ready') return project(name);
    const promise = load(name, file, again?.kind === 'failed' ? again.message : undefined);
    const mine: Entry = { kind: 'loading', promise };
    remember(name, mine);
    const app = await promise;
    if (!app) return 'error';
    if (apps.get(name) === mine && !closed) {
      remember(name, { kind: 'ready', app });
      return { app, once: false };
    }
    return { app, once: true };
  };

  const index = async (target: RequestTarget): Promise<ServiceResponse> => {
    // MapProxy's MultiMapProxy welcome page, with the list of instances when listing is allowed.
    let html = `<html><body><h1>Welcome to MapProxy-ts ${escapeXml(productVersion())}</h1>`;
    if (allowListing) {
      const names = (await listProjects(root)).filter((n) => !reserved.has(n));
      const url = escapeXml(target.baseUrl);
      html += '<h2>available instances:</h2><ul>';
      html += names.map((n) => `<li><a href="${url}/${n}/">${n}</a></li>`).join('\n');
      html += '</ul>';
    }
    html += '</body></html>';
    return { status: 200, contentType: 'text/html; charset=utf-8', body: html };
  };

  const serve = (req: IncomingMessage, res: ServerResponse, app: ReloadingApp, target: RequestTarget): void => {
    mountRequest(req, target);
    app(req, res);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (closed) return void writeResponse(req, res, CLOSED, '');
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return void writeResponse(req, res, METHOD_NOT_ALLOWED, '');
    let target: RequestTarget;
    try {
      target = resolveRequest(req);
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      return void writeResponse(req, res, { status: err.status, contentType: PLAIN_CONTENT_TYPE, body: err.message, cache: 'no-cache' }, '');
    }
    const op = operational.answer(target.path);
    if (op !== undefined) return void writeResponse(req, res, await op, '');
    const { segment, target: inner } = shiftPathSegment(target);
    if (segment === '') return void writeResponse(req, res, await index(target), '');
    if (!PROJECT_NAME.test(segment)) return void writeResponse(req, res, NOT_FOUND, '');
    if (reserved.has(segment)) {
      warnReserved(segment);
      return void writeResponse(req, res, NOT_FOUND, '');
    }
    const entry = apps.get(segment);
    // The hot path: a loaded project is served without awaiting anything.
    if (entry?.kind === 'ready' && !entry.app.fileMissing) {
      remember(segment, entry);
      return serve(req, res, entry.app, inner);
    }
    const found = await project(segment);
    if (found === 'not-found') return void writeResponse(req, res, NOT_FOUND, '');
    if (found === 'error') {
      const body = `project ${segment}: configuration error`;
      return void writeResponse(req, res, { status: 500, contentType: PLAIN_CONTENT_TYPE, body, cache: 'no-cache' }, '');
    }
    serve(req, res, found.app, inner);
    if (found.once) dispose(found.app);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, method: req.method, url: req.url }, `fatal error for ${req.url ?? ''}`);
      if (!res.headersSent) writeResponse(req, res, { status: 500, contentType: 'text/plain', body: 'internal error', cache: 'no-cache' }, '');
      else res.destroy();
    });
  };

  return Object.defineProperties(listener, {
    dir: { value: root, enumerable: true },
    loaded: { value: () => [...apps].filter(([, e]) => e.kind === 'ready').map(([n]) => n) },
    close: {
      value: async (): Promise<void> => {
        closed = true;
        const entries = [...apps.values()];
        apps.clear();
        for (const e of entries) if (e.kind === 'ready') dispose(e.app);
        // A project still loading is closed here too (closing twice is harmless): its request
        // may not have got to it yet.
        for (const app of await Promise.all(entries.map((e) => (e.kind === 'loading' ? e.promise : undefined)))) {
          if (app) dispose(app);
        }
        await Promise.all(closing);
      },
    },
  }) as MultiApp;
}

/** Project names in `dir` (files `<name>.yaml` with a valid name), sorted as MapProxy sorts them. */
export async function listProjects(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.name.endsWith(SUFFIX)) continue;
    const name = e.name.slice(0, -SUFFIX.length);
    if (!PROJECT_NAME.test(name)) continue;
    if (e.isFile() || (e.isSymbolicLink() && (await isFile(join(dir, e.name))))) names.push(name);
  }
  return names.sort();
}
