/**
 * `mapproxy-ts serve-develop`: one process serving one configuration, for local testing
 * (MapProxy's `mapproxy-util serve-develop`). The configuration is loaded and checked before any
 * port is bound; SIGINT / SIGTERM stop it cleanly (exit 0), also while it is still starting.
 */
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { answerClientErrors, answerHalfClosed, hostPort, listenFailure, listenOn } from '../app/listen.js';
import type { OperationalPaths } from '../app/operational-paths.js';
import { ConfigError } from '../errors.js';
import { getLogger } from '../log/index.js';

/** Serve `configPath` on `bind` until a signal arrives; resolves to the exit code. */
export async function serveDevelop(
  configPath: string,
  bind: { host: string; port: number },
  opts: { readonly debug?: boolean; readonly observability?: OperationalPaths } = {},
): Promise<number> {
  let stopped: string | undefined;
  let onSignal: (name: string) => void = () => {};
  const signal = new Promise<string>((resolve) => {
    onSignal = (name) => {
      stopped ??= name;
      resolve(name);
    };
  });
  // `on`, not `once`, and kept until the end: signal-exit (used by proper-lockfile) re-raises
  // the signal and kills the process when it finds itself the only listener.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(configPath, bind, signal, () => stopped, opts);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function run(
  configPath: string,
  bind: { host: string; port: number },
  signal: Promise<string>,
  stopped: () => string | undefined,
  opts: { readonly debug?: boolean; readonly observability?: OperationalPaths },
): Promise<number> {
  const log = getLogger('mapproxy.system');
  const { createApp } = await import('../app/create-app.js');
  let app;
  try {
    // Development: pick up edits of the configuration (and its base: files) without a restart.
    app = await createApp(configPath, { reloader: true, debug: opts.debug === true, observability: opts.observability });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mapproxy-ts: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (stopped()) {
    await app.close();
    return 0;
  }
  const server = createServer(app);
  answerHalfClosed(server);
  answerClientErrors(server);
  server.keepAliveTimeout = 65_000;
  try {
    await listenOn(server, bind);
  } catch (err) {
    process.stderr.write(`mapproxy-ts: ${listenFailure(bind, err as NodeJS.ErrnoException)}\n`);
    await app.close();
    return 1;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : bind.port;
  const host = bind.host || (typeof addr === 'object' && addr ? addr.address : '');
  // The file as an absolute path, as serve logs it: the line must say which file, whatever the cwd.
  log.info({ config: resolve(configPath), host, port }, `serving on http://${hostPort(host, port)}/`);
  const name = await signal;
  log.info({ signal: name }, 'stopping');
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await app.close();
  return 0;
}
