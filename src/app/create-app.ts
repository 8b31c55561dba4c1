/**
 * `createApp`: the embeddable request handler (MapProxy's `make_wsgi_app` analogue). Loads,
 * validates and builds a configuration and returns a Node request listener for node:http,
 * Express or Fastify, with `close()` to release upstream connections.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadConfigFile, validateConfig } from '../config/index.js';
import { buildConfig, type BuiltConfig } from '../config/build.js';
import { ConfigError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { handlerFromConfig } from './from-config.js';

/** A request listener with the built configuration behind it. */
export interface App {
  (req: IncomingMessage, res: ServerResponse): void;
  /** The configuration this app serves. */
  readonly config: BuiltConfig;
  /** Files the configuration was read from (the main file and every `base:`). */
  readonly files: readonly string[];
  /** Release upstream connections and timers. */
  close(): Promise<void>;
}

/** Options of `createApp`. */
export interface CreateAppOptions {
  /**
   * Rebuild the app when a file of the configuration (base: files included) changes, as
   * MapProxy's `make_wsgi_app(reloader=True)`; checked in the background at most once a second.
   */
  readonly reloader?: boolean;
}

/**
 * Build an app from a `mapproxy.yaml` path. Rejects with `ConfigError` (every problem, with YAML
 * paths) when the configuration is invalid or uses something not supported yet.
 */
export async function createApp(configFile: string, opts: CreateAppOptions = {}): Promise<App> {
  if (opts.reloader) {
    // Imported when asked for: reloader.ts builds its apps with this function.
    const { createReloadingApp } = await import('./reloader.js');
    return createReloadingApp(configFile, { build: (f) => createApp(f) });
  }
  const { config: raw, files, dir } = await loadConfigFile(configFile);
  const { config, warnings } = validateConfig(raw, { file: configFile, dir });
  const log = getLogger('mapproxy.config');
  for (const w of warnings) log.warn({ path: w.path }, w.message);
  const built = buildConfig(config, { dir, file: configFile });
  let handler;
  try {
    handler = handlerFromConfig(built);
  } catch (err) {
    // An invalid service option: release what the build opened, and name the file like every
    // other configuration error does.
    await built.close();
    throw err instanceof ConfigError && err.file === undefined ? new ConfigError(err.problems, configFile) : err;
  }
  return Object.assign((req: IncomingMessage, res: ServerResponse) => handler(req, res), {
    config: built,
    files,
    close: () => built.close(),
  });
}
