/**
 * `createApp`: the embeddable request handler (MapProxy's `make_wsgi_app` analogue). Loads,
 * validates and builds a configuration and returns a Node request listener for node:http,
 * Express or Fastify, with `close()` to release upstream connections.
 */
import { loadConfigFile, validateConfig } from '../config/index.js';
import { buildApp, type App } from './build-app.js';
import { SERVICE_SEGMENTS, type OperationalPaths } from './operational-paths.js';
import { observabilityPaths } from './router.js';

export type { App } from './build-app.js';

/** Options of `createApp`. */
export interface CreateAppOptions {
  /**
   * Rebuild the app when a file of the configuration (base: files included) changes, as
   * MapProxy's `make_wsgi_app(reloader=True)`; checked in the background at most once a second.
   */
  readonly reloader?: boolean;
  /**
   * Answer unexpected errors (500) with their stack trace, for development (MapProxy's
   * `make_wsgi_app(debug=True)`). Never in production: it shows the server's internals.
   */
  readonly debug?: boolean;
  /**
   * Where the operational routes answer (beyond MapProxy): `{ healthPath, readyPath, metricsPath }`,
   * each a path or `false` for none (default `/healthz`, `/readyz`, `/metrics`); `false`: none
   * of them, for a host application that has its own.
   */
  readonly observability?: OperationalPaths | false;
}

/**
 * Build an app from a `mapproxy.yaml` path. Rejects with `ConfigError` (every problem, with YAML
 * paths) when the configuration is invalid or uses something not supported yet.
 */
export async function createApp(configFile: string, opts: CreateAppOptions = {}): Promise<App> {
  // Under no service segment, whatever this configuration serves: a later one (reloader) may add it.
  if (opts.observability !== undefined) observabilityPaths(opts.observability, SERVICE_SEGMENTS);
  if (opts.reloader) {
    // Imported when asked for: reloader.ts builds its apps with this function.
    const { createReloadingApp } = await import('./reloader.js');
    return createReloadingApp(configFile, { build: (f) => createApp(f, { debug: opts.debug, observability: opts.observability }) });
  }
  const { config: raw, files, dir, origins } = await loadConfigFile(configFile);
  const { config, warnings } = validateConfig(raw, { file: configFile, dir, origins });
  return buildApp({ config: config as unknown as Record<string, unknown>, file: configFile, dir, files, warnings }, { debug: opts.debug, observability: opts.observability });
}
