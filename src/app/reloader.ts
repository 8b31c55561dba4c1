/**
 * Automatic configuration reload (MapProxy's `make_wsgi_app(reloader=True)`, REFERENCE.md §1.6):
 * an `App` that rebuilds itself when the mtime of any file its configuration was read from (the
 * main file and every `base:` file) grows. The check runs in the background, at most once per
 * interval and only when requests arrive; requests never wait for it. A new app replaces the old
 * one in one assignment, and the old one is closed once its in-flight requests have finished. An
 * invalid new configuration is logged on `mapproxy.config` and the old app keeps serving.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadConfigInto } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { createApp, type App } from './create-app.js';

/** Options of `createReloadingApp`. */
export interface ReloaderOptions {
  /**
   * Least time between two looks at the files, ms (default 1000). `Infinity` never looks: the app
   * then only adds the in-flight tracking that lets `close` wait for running requests.
   */
  readonly checkIntervalMs?: number;
  /** Builds one app from the file (default `createApp`); the reloader calls it for every rebuild. */
  readonly build?: (configFile: string) => Promise<App>;
}

/** An `App` that follows its configuration files. */
export interface ReloadingApp extends App {
  /**
   * Look at the files now (or join the look already running) and rebuild if one changed.
   * Resolves `true` when a new app went into service. Never rejects.
   */
  checkNow(): Promise<boolean>;
  /** The main configuration file was gone at the last look (MultiMapProxy unloads such a project). */
  readonly fileMissing: boolean;
  /** Close the serving app once its in-flight requests are done; later requests are not served. */
  close(): Promise<void>;
}

/** When a file was last written, and how long it was then. */
export interface FileStamp {
  readonly mtimeMs: number;
  readonly size: number;
}

/** The stamp of each file; `undefined` for a file that cannot be stat'ed (deleted, moved away). */
export async function readStamps(files: Iterable<string>): Promise<Map<string, FileStamp | undefined>> {
  const list = [...files];
  const stamps = await Promise.all(
    list.map((f) =>
      stat(f).then(
        (s): FileStamp => ({ mtimeMs: s.mtimeMs, size: s.size }),
        () => undefined,
      ),
    ),
  );
  return new Map(list.map((f, i) => [f, stamps[i]]));
}

/**
 * Whether a file changed since `before`: its mtime grew (MapProxy's test), or, with the same
 * mtime, its size differs (a write that truncated and refilled the file within one tick of a
 * coarse file system clock, after the previous look).
 */
export function stampChanged(before: FileStamp | undefined, now: FileStamp | undefined): boolean {
  if (before === undefined || now === undefined) return false;
  return now.mtimeMs > before.mtimeMs || (now.mtimeMs === before.mtimeMs && now.size !== before.size);
}

/** One built app and the requests it is still answering. */
interface Generation {
  readonly app: App;
  inFlight: number;
  retired: boolean;
  closing: boolean;
  /** Resolves once the app was closed (after its last in-flight request). */
  readonly closed: Promise<void>;
  readonly markClosed: () => void;
}

function generation(app: App): Generation {
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  return { app, inFlight: 0, retired: false, closing: false, closed, markClosed };
}

const SHUT_DOWN_BODY = 'Service Unavailable: the application is closed\n';

/**
 * Build `configFile` and return an app that rebuilds itself when one of its files changes.
 * Rejects with `ConfigError` when the first build fails (a server should not start on a broken
 * configuration); later failures are only logged.
 */
export async function createReloadingApp(configFile: string, opts: ReloaderOptions = {}): Promise<ReloadingApp> {
  const interval = opts.checkIntervalMs ?? 1000;
  if (!(interval >= 0)) throw new TypeError(`checkIntervalMs must be a number >= 0 (got ${String(interval)})`);
  const build = opts.build ?? createApp;
  const log = getLogger('mapproxy.config');

  const mainFile = resolve(configFile);
  let current = generation(await build(configFile));
  // What the files looked like when the serving (or the last failed) configuration was read;
  // a file whose stamp changed from its entry (see stampChanged) triggers a rebuild.
  let baseline = new Map<string, FileStamp>();
  for (const [f, t] of await readStamps(current.app.files)) if (t !== undefined) baseline.set(f, t);
  let checkedAt = Date.now();
  let checking: Promise<boolean> | undefined;
  let missing = false;
  let closed = false;
  let lastFailure: string | undefined;
  const retired = new Set<Generation>();

  const closeGeneration = (gen: Generation): void => {
    gen.closing = true;
    gen.app
      .close()
      .catch((err: unknown) => log.error({ err, file: configFile }, 'closing the previous configuration failed'))
      .finally(() => {
        retired.delete(gen);
        gen.markClosed();
      });
  };

  const retire = (gen: Generation): void => {
    gen.retired = true;
    retired.add(gen);
    if (gen.inFlight === 0 && !gen.closing) closeGeneration(gen);
  };

  /** Files a failed configuration read before it failed, with their stamps. */
  const filesOfFailedLoad = async (): Promise<Map<string, FileStamp | undefined>> => {
    const files: string[] = [];
    try {
      await loadConfigInto(configFile, files);
    } catch {
      // expected: the files read up to the failure are what we want
    }
    return readStamps(files);
  };

  const check = async (): Promise<boolean> => {
    const now = await readStamps(baseline.keys());
    missing = baseline.has(mainFile) && now.get(mainFile) === undefined;
    let changed = false;
    for (const [f, t] of now) if (stampChanged(baseline.get(f), t)) changed = true;
    if (!changed || closed) return false;
    let app: App;
    try {
      app = await build(configFile);
    } catch (err) {
      // Look again only when a file changes after this attempt: the files as they are now, plus
      // the ones the failed configuration read (a new `base:` file it names, say).
      const next = new Map<string, FileStamp>();
      for (const [f, t] of [...now, ...(await filesOfFailedLoad())]) {
        // A file gone for now keeps its old stamp, so its return is noticed.
        const stamp = t ?? baseline.get(f);
        if (stamp !== undefined) next.set(f, stamp);
      }
      baseline = next;
      const message = err instanceof Error ? err.message : String(err);
      const fields = err instanceof ConfigError ? { file: configFile, problems: err.problems } : { file: configFile, err };
      // The same broken state is reported once, not at every edit of an unrelated file.
      if (message !== lastFailure) log.error(fields, `configuration reload failed, still serving the previous configuration: ${message}`);
      lastFailure = message;
      return false;
    }
    lastFailure = undefined;
    const next = new Map<string, FileStamp>();
    // Known files keep the stamp seen before the build, so an edit made while it ran counts.
    const fresh = await readStamps(app.files.filter((f) => !now.has(f)));
    for (const f of app.files) {
      const t = now.get(f) ?? fresh.get(f);
      if (t !== undefined) next.set(f, t);
    }
    if (closed) {
      await app.close();
      return false;
    }
    const old = current;
    current = generation(app);
    baseline = next;
    missing = false;
    retire(old);
    log.info({ file: configFile, files: app.files }, 'configuration reloaded');
    return true;
  };

  const checkNow = (): Promise<boolean> => {
    checking ??= check()
      .catch((err: unknown) => {
        log.error({ err, file: configFile }, 'checking the configuration files failed');
        return false;
      })
      .finally(() => {
        checking = undefined;
        checkedAt = Date.now();
      });
    return checking;
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (closed) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }).end(SHUT_DOWN_BODY);
      return;
    }
    if (checking === undefined && Date.now() - checkedAt >= interval) void checkNow();
    const gen = current;
    gen.inFlight++;
    res.once('close', () => {
      gen.inFlight--;
      if (gen.retired && gen.inFlight === 0 && !gen.closing) closeGeneration(gen);
    });
    gen.app(req, res);
  };

  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      if (checking) await checking;
      retire(current);
    }
    await Promise.all([...retired].map((g) => g.closed));
  };

  return Object.defineProperties(handler, {
    config: { get: () => current.app.config, enumerable: true },
    files: { get: () => current.app.files, enumerable: true },
    fileMissing: { get: () => missing, enumerable: true },
    checkNow: { value: checkNow },
    close: { value: close },
  }) as ReloadingApp;
}
