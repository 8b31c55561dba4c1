/**
 * `mapproxy-ts serve-multiapp-develop <dir>`: MultiMapProxy in one process, for local testing
 * (MapProxy's `mapproxy-util serve-multiapp-develop`). Every `<dir>/<name>.yaml` is served under
 * `/<name>/`, loaded on first request and reloaded when its files change. Parses its own options
 * and prints its own help; exit codes follow main.ts: 0 stopped by a signal, 1 failure (no such
 * directory, cannot listen), 2 usage error.
 */
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseOperationalFlags, type OperationalPaths } from '../app/operational-paths.js';
import { answerClientErrors, answerHalfClosed, hostPort, listenFailure, listenOn } from '../app/listen.js';
import { getLogger } from '../log/index.js';
import { DEFAULT_BIND, developLogFormat, negativeValues, parseArgsMessage, parseBind, UsageError } from './main.js';

/** `serve-multiapp-develop --help`. */
export const SERVE_MULTIAPP_DEVELOP_HELP = `Usage: mapproxy-ts serve-multiapp-develop <projects-dir> [options]

Serve every <projects-dir>/<name>.yaml under /<name>/ in one process, for local testing.
Projects are loaded on their first request and reloaded when one of their files changes.

Options:
  -b, --bind address   where to listen (default 127.0.0.1:8080): host:port, [ipv6]:port,
                       port (on localhost), :port (on all interfaces) or host (port 8080)
      --allow-listing  list the projects on the page at /
      --log-format F   pretty (human-readable) or json log lines (default: pretty on a
                       terminal, json otherwise)
      --debug          answer internal errors (500) with their stack trace instead of
                       "internal error" (development only: it shows the server's internals)
      --health-path P  where liveness answers (default /healthz); off: nowhere
      --ready-path P   where readiness answers (default /readyz); off: nowhere
      --metrics-path P
                       where the Prometheus metrics answer (default /metrics); off: nowhere
  -h, --help           show this help
`;

/** Where the command writes help and errors (the process's streams by default). */
export interface CommandIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/**
 * Run `mapproxy-ts serve-multiapp-develop <args>`; resolves to the exit code when a signal
 * (SIGINT, SIGTERM) stopped the server, or at once for `--help` and errors.
 */
export async function serveMultiappDevelopCommand(args: string[], io: CommandIo = process): Promise<number> {
  let dir: string;
  let bind: { host: string; port: number };
  let allowListing: boolean;
  let debug: boolean;
  let observability: OperationalPaths;
  try {
    const options = {
      bind: { type: 'string', short: 'b' },
      'allow-listing': { type: 'boolean' },
      'log-format': { type: 'string' },
      debug: { type: 'boolean' },
      'health-path': { type: 'string' },
      'ready-path': { type: 'string' },
      'metrics-path': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    } as const;
    const { values, positionals } = parseArgs({ args: negativeValues(args, options), options, allowPositionals: true });
    if (values.help) {
      io.stdout.write(SERVE_MULTIAPP_DEVELOP_HELP);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('serve-multiapp-develop needs exactly one projects directory');
    dir = resolve(positionals[0]);
    bind = values.bind === undefined ? DEFAULT_BIND : parseBind(values.bind);
    allowListing = values['allow-listing'] === true;
    debug = values.debug === true;
    observability = parseOperationalFlags(values, (m) => new UsageError(m));
    await developLogFormat(values['log-format']);
  } catch (err) {
    const why = err instanceof UsageError ? err.message : parseArgsMessage(err);
    if (why !== undefined) {
      io.stderr.write(`mapproxy-ts: ${why}\n\n${SERVE_MULTIAPP_DEVELOP_HELP}`);
      return 2;
    }
    throw err;
  }
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    io.stderr.write(`mapproxy-ts: not a directory of configurations: ${dir}\n`);
    return 1;
  }

  let onSignal: (name: string) => void = () => {};
  const signal = new Promise<string>((resolveSignal) => (onSignal = resolveSignal));
  // `on`, not `once`, kept until the end: signal-exit (used by proper-lockfile) re-raises the
  // signal and kills the process when it finds itself the only listener.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(dir, bind, { allowListing, debug, observability }, signal, io);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function run(
  dir: string,
  bind: { host: string; port: number },
  opts: { readonly allowListing: boolean; readonly debug: boolean; readonly observability: OperationalPaths },
  signal: Promise<string>,
  io: CommandIo,
): Promise<number> {
  const log = getLogger('mapproxy.system');
  const { createMultiApp } = await import('../app/multiapp.js');
  const app = createMultiApp(dir, { ...opts, reload: true });
  const server = createServer(app);
  answerHalfClosed(server);
  answerClientErrors(server);
  server.keepAliveTimeout = 65_000;
  try {
    await listenOn(server, bind);
  } catch (err) {
    io.stderr.write(`mapproxy-ts: ${listenFailure(bind, err as NodeJS.ErrnoException)}\n`);
    await app.close();
    return 1;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : bind.port;
  const host = bind.host || (typeof addr === 'object' && addr ? addr.address : '');
  log.info({ dir, host, port }, `serving the projects of ${dir} on http://${hostPort(host, port)}/`);
  const name = await signal;
  log.info({ signal: name }, 'stopping');
  await new Promise<void>((done) => {
    server.close(() => done());
    server.closeIdleConnections();
  });
  await app.close();
  return 0;
}
