/**
 * `mapproxy-ts serve`: the production cluster (a master and N pre-forked workers, see
 * src/master). Parses its own options and prints its own help; the exit code follows main.ts:
 * 0 stopped by a signal, 1 failure (crash loop, address in use), 2 usage error, and one of its
 * own: 78 (EXIT_INVALID_CONFIG) for an invalid configuration or log configuration.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseOperationalFlags } from '../app/operational-paths.js';
import { ConfigError, EXIT_INVALID_CONFIG } from '../errors.js';
import { configureLoggingFromFile, parseLogFormat, setLogFormat, showPids, type LogConfig, type LogFormat } from '../log/index.js';
import { MAX_THREADPOOL_SIZE, runMaster, type MasterOptions } from '../master/index.js';
import { DEFAULT_BIND, negativeValues, parseArgsMessage, parseBind, UsageError } from './main.js';

/** `serve --help`. */
export const SERVE_HELP = `Usage: mapproxy-ts serve <mapproxy.yaml> [options]
       mapproxy-ts serve --multiapp <dir> [--allow-listing] [options]

Serve a MapProxy configuration with a master process and a pool of pre-forked workers.
The configuration is checked before any worker starts.

Options:
  -b, --bind host:port            address to listen on (default 127.0.0.1:8080; a bare port means
                                  localhost, :port every interface, a bare host port 8080)
  -w, --workers N                 number of worker processes (default: available CPUs, here ${availableParallelism()})
      --spare-workers N           workers kept booted to replace a crashed or recycled one at once (default 1)
      --max-requests N            replace a worker after N requests, without dropping any (default 0: never)
      --max-requests-jitter J     add a random 0..J to N per worker, so they are not replaced together
      --graceful-timeout S        seconds a stopping worker may take to finish its requests (default 30)
      --timeout S                 kill and replace a worker whose event loop has been blocked for S
                                  seconds, as gunicorn's --timeout (default 30, at least 2; 0:
                                  never). Not a request timeout: slow upstreams block no worker
      --threadpool-size N         libuv threads per worker for file reads and image work (default 2,
                                  or UV_THREADPOOL_SIZE when set; more for caches on NFS, see
                                  docs/deployment.md, "Thread pool")
      --image-jobs N              image operations (decode, encode) a worker runs at once on that
                                  pool (default: one fewer than its threads, at least 1, so cache
                                  hits never queue behind image work; more: faster misses)
      --no-fast-lane              let node:http read every request; by default a worker answers hot
                                  tiles (open files, memory tier) without it (docs/caches.md, "The hit path")
      --pid-file FILE             write the master's pid to FILE (removed on exit)
      --log-config FILE           log configuration (levels, files, access log) for all processes
      --log-format json|pretty    lines on stdout: JSON (default) or human-readable, for all processes
      --metrics-bind host:port    also serve /metrics (summed over the workers) from the master on
                                  this address, e.g. an internal one; /metrics stays on --bind too
                                  unless --metrics-path off
      --health-path PATH|off      where liveness answers (default /healthz); off: nowhere
      --ready-path PATH|off       where readiness answers (default /readyz); off: nowhere
      --metrics-path PATH|off     where /metrics answers on --bind (default /metrics); off: nowhere
      --multiapp                  MultiMapProxy: serve every <dir>/<name>.yaml under /<name>/
      --allow-listing             with --multiapp: list the projects on the page at /
  -h, --help                      show this help

Signals to the master:
  SIGTERM, SIGINT   stop: finish requests in flight (late ones get 503), exit 0
  SIGHUP            reload: check the configuration; if valid, replace the workers one by one

Exit status:
  0    stopped by a signal
  1    failure: the workers crash-loop or keep running out of descriptors, the address is in
       use, the pid file is held or a log or pid file cannot be written, the check could not finish
  2    usage error
  78   the configuration or --log-config file is invalid: a restart fails the same way until
       the file is fixed (pm2: stop_exit_codes, systemd: RestartPreventExitStatus)
`;

/** serve's default `--timeout` (ms): gunicorn's default worker timeout, 30 s. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The shortest `--timeout` (s): a worker's silence counts from its fork, and starting Node before
 * the first heartbeat takes a few hundred ms on a busy machine; shorter would kill healthy workers
 * as they boot, until the crash loop stops the master.
 */
export const MIN_TIMEOUT_S = 2;

/** A wrong `serve` command line: printed with the help, exit code 2. */
export class ServeUsageError extends Error {}

/**
 * Parse a `--bind` or `--metrics-bind` address as serve-develop does (`parseBind`: MapProxy's and
 * gunicorn's forms): `port` → localhost, `host:port`, `:port` → every interface, `host` →
 * host:8080, `[ipv6]:port`. `option` names the option in the usage error.
 */
export function parseServeBind(value: string, option = 'bind'): { host: string; port: number } {
  try {
    return parseBind(value, option);
  } catch (err) {
    if (err instanceof UsageError) throw new ServeUsageError(err.message);
    throw err;
  }
}

function logFormatOption(value: string): LogFormat {
  const format = parseLogFormat(value);
  if (!format) throw new ServeUsageError(`invalid --log-format "${value}": expected json or pretty`);
  return format;
}

function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) {
    throw new ServeUsageError(`invalid --${name} "${value}": expected a whole number of at least ${min}`);
  }
  return Number(value);
}

/** Parse the `serve` command line (everything after `serve`) into master options. */
export function parseServeArgs(args: string[]): MasterOptions | 'help' {
  const options = {
    bind: { type: 'string', short: 'b' },
    workers: { type: 'string', short: 'w' },
    'spare-workers': { type: 'string' },
    'max-requests': { type: 'string' },
    'max-requests-jitter': { type: 'string' },
    'graceful-timeout': { type: 'string' },
    timeout: { type: 'string' },
    'threadpool-size': { type: 'string' },
    'image-jobs': { type: 'string' },
    'pid-file': { type: 'string' },
    'log-config': { type: 'string' },
    'log-format': { type: 'string' },
    'metrics-bind': { type: 'string' },
    'health-path': { type: 'string' },
    'ready-path': { type: 'string' },
    'metrics-path': { type: 'string' },
    multiapp: { type: 'boolean' },
    'allow-listing': { type: 'boolean' },
    'no-fast-lane': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  const { values, positionals } = parseArgs({ args: negativeValues(args, options), options, allowPositionals: true });
  if (values.help) return 'help';
  if (positionals.length !== 1) {
    throw new ServeUsageError(values.multiapp ? 'serve --multiapp needs exactly one directory' : 'serve needs exactly one configuration file');
  }
  if (values['allow-listing'] && !values.multiapp) throw new ServeUsageError('--allow-listing goes with --multiapp');
  const { host, port } = values.bind === undefined ? DEFAULT_BIND : parseServeBind(values.bind);
  const timeout = values['graceful-timeout'];
  let gracefulTimeoutMs = 30_000;
  if (timeout !== undefined) {
    const s = Number(timeout);
    if (timeout.trim() === '' || !Number.isFinite(s) || s <= 0) {
      throw new ServeUsageError(`invalid --graceful-timeout "${timeout}": expected seconds greater than 0`);
    }
    gracefulTimeoutMs = Math.round(s * 1000);
  }
  const silence = values.timeout;
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (silence !== undefined) {
    const s = Number(silence);
    if (silence.trim() === '' || !Number.isFinite(s) || (s !== 0 && s < MIN_TIMEOUT_S)) {
      throw new ServeUsageError(`invalid --timeout "${silence}": expected 0 (never) or at least ${MIN_TIMEOUT_S} seconds`);
    }
    timeoutMs = Math.round(s * 1000);
  }
  const pool = values['threadpool-size'];
  const threadpoolSize = pool === undefined ? undefined : integer('threadpool-size', pool, 1, 1);
  if (threadpoolSize !== undefined && threadpoolSize > MAX_THREADPOOL_SIZE) {
    throw new ServeUsageError(`invalid --threadpool-size "${pool}": libuv allows at most ${MAX_THREADPOOL_SIZE}`);
  }
  const jobs = values['image-jobs'];
  const imageJobs = jobs === undefined ? undefined : integer('image-jobs', jobs, 1, 1);
  if (imageJobs !== undefined && imageJobs > MAX_THREADPOOL_SIZE) {
    throw new ServeUsageError(`invalid --image-jobs "${jobs}": a pool has at most ${MAX_THREADPOOL_SIZE} threads`);
  }
  const metricsBind = values['metrics-bind'] === undefined ? undefined : parseServeBind(values['metrics-bind'], 'metrics-bind');
  const logFormat = values['log-format'] === undefined ? undefined : logFormatOption(values['log-format']);
  const observability = parseOperationalFlags(values, (m) => new ServeUsageError(m));
  return {
    config: resolve(positionals[0]),
    ...(values.multiapp ? { multiapp: { allowListing: values['allow-listing'] === true } } : {}),
    host,
    port,
    workers: integer('workers', values.workers, availableParallelism(), 1),
    spareWorkers: integer('spare-workers', values['spare-workers'], 1, 0),
    maxRequests: integer('max-requests', values['max-requests'], 0, 0),
    maxRequestsJitter: integer('max-requests-jitter', values['max-requests-jitter'], 0, 0),
    gracefulTimeoutMs,
    timeoutMs,
    ...(values['no-fast-lane'] ? { fastLane: false } : {}),
    ...(threadpoolSize !== undefined ? { threadpoolSize } : {}),
    ...(imageJobs !== undefined ? { imageJobs } : {}),
    pidFile: values['pid-file'] === undefined ? undefined : resolve(values['pid-file']),
    logConfig: values['log-config'] === undefined ? undefined : resolve(values['log-config']),
    // Only when given, so the defaults read as before.
    ...(metricsBind ? { metricsBind } : {}),
    ...(logFormat ? { logFormat } : {}),
    ...(Object.keys(observability).length > 0 ? { observability } : {}),
  };
}

/** Where `serveCommand` writes help and errors (the process's streams by default). */
export interface ServeIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/**
 * Run `mapproxy-ts serve <args>`; resolves to the exit code when the master has stopped (or at
 * once for `--help`, usage errors and an invalid configuration).
 */
export async function serveCommand(args: string[], io: ServeIo = process): Promise<number> {
  let opts: MasterOptions | 'help';
  try {
    opts = parseServeArgs(args);
  } catch (err) {
    const why = err instanceof ServeUsageError ? err.message : parseArgsMessage(err);
    if (why !== undefined) {
      io.stderr.write(`mapproxy-ts: ${why}\n\n${SERVE_HELP}`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    io.stdout.write(SERVE_HELP);
    return 0;
  }
  // Before the log configuration: it decides JSON or pretty for stdout, whatever the file says.
  if (opts.logFormat) setLogFormat(opts.logFormat);
  // The master's pretty lines name its pid, as its workers' do: they share one stdout.
  showPids();
  let logSettings: LogConfig | undefined;
  if (opts.logConfig) {
    try {
      logSettings = await configureLoggingFromFile(opts.logConfig);
    } catch (err) {
      // Invalid, or its log file cannot be opened (`cannot open the log file …: permission denied`).
      if (!(err instanceof ConfigError) && !/^E[A-Z0-9]+$/.test((err as NodeJS.ErrnoException).code ?? '')) throw err;
      io.stderr.write(`mapproxy-ts: ${(err as Error).message}\n`);
      return err instanceof ConfigError ? EXIT_INVALID_CONFIG : 1;
    }
  }
  return runMaster({ ...opts, logSettings });
}
