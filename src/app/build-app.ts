/**
 * The part of `createApp` after validation: build the runtime objects of a validated
 * configuration and put the request handler in front of them. Kept apart from create-app.ts so a
 * `serve` worker, which gets its configuration already validated from the master, never loads the
 * loader's schema validator.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildConfig, type BuiltConfig } from '../config/build.js';
import type { MapProxyConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { handlerFromConfig, type AppBuildOptions } from './from-config.js';
import type { RequestHandler } from './router.js';

/** A request listener with the built configuration behind it. */
export interface App extends RequestHandler {
  /** The configuration this app serves. */
  readonly config: BuiltConfig;
  /** Files the configuration was read from (the main file and every `base:`). */
  readonly files: readonly string[];
  /** Release upstream connections, open tile files and timers. */
  close(): Promise<void>;
}

/** A configuration that passed `validateConfig`, with where it came from. */
export interface ValidatedConfig {
  readonly config: Record<string, unknown>;
  /** The main file (named in errors). */
  readonly file: string;
  /** Its directory (relative paths in the configuration are relative to it). */
  readonly dir: string;
  readonly files: readonly string[];
  /** Logged on `mapproxy.config`, as every build does. */
  readonly warnings: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

/** Build the app of a validated configuration. Rejects with `ConfigError` for semantic problems. */
export async function buildApp(v: ValidatedConfig, opts: AppBuildOptions = {}): Promise<App> {
  const log = getLogger('mapproxy.config');
  for (const w of v.warnings) log.warn({ path: w.path }, w.message);
  const built = buildConfig(v.config as unknown as MapProxyConfig, { dir: v.dir, file: v.file });
  let handler;
  try {
    handler = handlerFromConfig(built, opts);
  } catch (err) {
    // An invalid service option: release what the build opened, and name the file like every
    // other configuration error does.
    await built.close();
    throw err instanceof ConfigError && err.file === undefined ? new ConfigError(err.problems, v.file) : err;
  }
  return Object.assign((req: IncomingMessage, res: ServerResponse) => handler(req, res), {
    fastAnswer: handler.fastAnswer,
    config: built,
    files: v.files,
    close: () => built.close(),
  });
}
