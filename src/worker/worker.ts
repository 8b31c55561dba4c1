/**
 * One worker of the `serve` cluster: builds the whole app from the configuration, listens on the
 * master's shared port (node:cluster, round-robin), serves until the master tells it to drain
 * (or the master goes away), then finishes what is in flight, releases the app and exits.
 * Workers share nothing in memory; they coordinate only through the cache and its lock files.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildApp, type App } from '../app/build-app.js';
import { listenFailure } from '../app/listen.js';
import { connectionsWithin, descriptorLimit, openDescriptors } from '../cache/storage/open-files.js';
import { imageJobState, libuvPoolSize, setImageJobLimit } from '../image/index.js';
import { accessLogOn, getLogger } from '../log/index.js';
import { installMetrics, sendFinalMetrics, setReady } from '../metrics/index.js';
import { DrainingServer } from './server.js';
import type { WorkerControl } from './control.js';
import { WORKER_BOOT_ERROR, type WorkerMessage, type WorkerOptions } from './protocol.js';

// Looked up at use: logging is configured after this module is loaded.
const log = () => getLogger('mapproxy.worker');

/** At most one log line per this long about connections closed at the limit (ms). */
const DROP_LOG_EVERY_MS = 60_000;

/**
 * What a worker does with a connection past its bound (`connectionsWithin`: what the descriptor
 * limit leaves; without one, a worker out of descriptors could not take a connection node:cluster
 * hands it, and would get no other until replaced): it is closed, and a warning logged at most
 * once a minute with the count so far.
 */
function dropLogger(max: number): () => void {
  let dropped = 0;
  let loggedAt = 0;
  return () => {
    dropped++;
    const now = Date.now();
    if (now - loggedAt < DROP_LOG_EVERY_MS) return;
    loggedAt = now;
    log().warn({ maxConnections: max, dropped }, 'connection limit reached: closing new connections (raise LimitNOFILE / ulimit -n, or add workers)');
  };
}

/** How long a drained worker waits for the master's `mpx:unlistened-ack` before exiting anyway. */
const UNLISTEN_WAIT_MS = 5000;

/** The master sends the configuration right after the fork; this long means it never will. */
const CONFIG_WAIT_MS = 60_000;

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function send(msg: WorkerMessage): void {
  // The callback: a send to a master that just died is dropped, not an uncaught EPIPE.
  if (process.connected) process.send?.(msg, () => undefined);
}

/**
 * Run a worker until it has drained; resolves to its exit code (0 after a drain,
 * `WORKER_BOOT_ERROR` when it could not start). Only meaningful in a cluster worker; `control`
 * must have been installed before the app's modules were loaded (see control.ts).
 */
export async function runWorker(opts: WorkerOptions, control: WorkerControl): Promise<number> {
  let app: Pick<App, 'close'> & ((req: IncomingMessage, res: ServerResponse) => void);
  // /readyz answers 503 until this worker listens, and again once it drains.
  setReady(false);
  installMetrics();
  if (opts.imageJobs !== undefined) setImageJobLimit(opts.imageJobs);
  try {
    if (opts.multiapp) {
      app = (await import('../app/multiapp.js')).createMultiApp(opts.config, {
        allowListing: opts.multiapp.allowListing,
        reload: true,
        observability: opts.observability,
        reportHidden: opts.reportHidden === true,
        requireDirectory: false,
      });
    } else if (opts.configFromMaster) {
      // Asked for now that the control listens: a message sent before would have been dropped.
      send({ type: 'mpx:config-request' });
      app = await buildApp(await withTimeout(control.config, CONFIG_WAIT_MS, 'no configuration from the master'), { observability: opts.observability });
    } else {
      app = await (await import('../app/create-app.js')).createApp(opts.config, { observability: opts.observability });
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    log().error({ err: e.message, code: e.code }, 'cannot build the app');
    send({ type: 'mpx:start-failed', message: e.message, code: e.code });
    return WORKER_BOOT_ERROR;
  }
  if (opts.standby && control.mode === null) {
    send({ type: 'mpx:standby' });
    await Promise.race([control.listenRequested, control.drainRequested]);
  }
  if (control.mode !== null) {
    await app.close();
    return 0;
  }
  const descriptorsAtStart = openDescriptors();
  const maxConnections = connectionsWithin(descriptorLimit(), descriptorsAtStart);
  const server = new DrainingServer(app, {
    fastLane: opts.fastLane !== false,
    maxRequests: opts.maxRequests,
    onMaxRequests: (served) => {
      log().info({ served }, 'max requests reached, asking to be replaced');
      send({ type: 'mpx:retire', served });
    },
    maxConnections,
    onDrop: dropLogger(maxConnections),
  });
  try {
    await server.listen(opts.port, opts.host);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const message = listenFailure({ host: opts.host, port: opts.port }, e);
    log().error({ code: e.code }, message);
    send({ type: 'mpx:start-failed', message, code: e.code });
    await app.close();
    return WORKER_BOOT_ERROR;
  }
  control.serving();
  setReady(true);
  // What this worker runs with, as the master passed it on (`serve --no-fast-lane`, --max-requests; 0: none).
  // The lane answers nothing while the access log is on (every request must reach node:http to be logged).
  // imageJobs: image operations at once on that pool (src/image/pool.ts; --image-jobs, else one fewer than its threads).
  const threadpool = libuvPoolSize(process.env.UV_THREADPOOL_SIZE);
  const laneOff = opts.fastLane === false ? 'no-fast-lane' : accessLogOn() ? 'access log' : undefined;
  log().info({ fastLane: laneOff === undefined, ...(laneOff ? { fastLaneOff: laneOff } : {}), maxRequests: opts.maxRequests ?? 0, threadpool, imageJobs: imageJobState().limit, maxConnections: Number.isFinite(maxConnections) ? maxConnections : null, descriptorsAtStart }, 'listening');
  await control.drainRequested;
  setReady(false);
  const mode = control.mode ?? 'stop';
  // A reload drain becomes a stop when the whole server stops meanwhile.
  control.onDrain((next) => void server.drain(next, opts.gracefulTimeoutMs));
  if (control.masterGone) log().warn({ inFlight: server.inFlight, served: server.served }, 'the master process is gone: finishing the requests in flight, then exiting');
  else log().info({ mode, inFlight: server.inFlight, served: server.served }, 'draining');
  const result = await server.drain(mode, opts.gracefulTimeoutMs);
  if (result.forced > 0) log().warn({ connections: result.forced }, 'graceful timeout: closed connections still open');
  // The master keeps this worker's last counts, so cluster totals never go down.
  await sendFinalMetrics();
  // Connections node:cluster was handing this worker when it stopped listening must reach it
  // (and be passed on) before it exits.
  await control.confirmUnlistened(UNLISTEN_WAIT_MS);
  await app.close();
  return 0;
}
