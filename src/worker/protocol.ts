/**
 * The contract between the master and its workers: the options a worker is started with (passed
 * in its environment, so a worker needs no command line of its own) and the IPC messages both
 * send over node:cluster's channel. Types only from elsewhere, so the master can use it without
 * loading any request-serving code.
 */
import type { LogConfig } from '../log/config.js';
import type { OperationalPaths } from '../app/operational-paths.js';

/** Environment variable holding a worker's `WorkerOptions` as JSON. */
export const WORKER_OPTIONS_ENV = 'MAPPROXY_TS_WORKER_OPTIONS';

/** Exit code of a worker that could not start (config, listen). gunicorn uses 3 the same way. */
export const WORKER_BOOT_ERROR = 3;

/** What a worker needs to know; the master fills it in for each fork. */
export interface WorkerOptions {
  /** Absolute path of the mapproxy.yaml to serve (with `multiapp`: the directory of configs). */
  readonly config: string;
  /** MultiMapProxy: serve every `<config>/<name>.yaml` under `/<name>/`. */
  readonly multiapp?: { readonly allowListing: boolean };
  /** With `multiapp`: log the project files a route hides when the app is built (one worker of a generation does). */
  readonly reportHidden?: boolean;
  readonly host: string;
  readonly port: number;
  /** After a drain starts, connections still open this long are closed (ms). */
  readonly gracefulTimeoutMs: number;
  /** Ask to be replaced after this many requests (jitter already applied); 0 = never. */
  readonly maxRequests: number;
  /** `--log-config` as the master validated it (the worker never reads the file). */
  readonly logSettings?: LogConfig;
  /** False: node:http reads every request (no fast lane for hot tiles); default true. */
  readonly fastLane?: boolean;
  /** Image operations at once on the thread pool (`--image-jobs`); default one fewer than the pool. */
  readonly imageJobs?: number;
  /**
   * Start as a spare: build the app, report `mpx:standby`, and listen only when the master sends
   * `mpx:listen` (to replace a crashed or recycled worker at once, without a cold start).
   */
  readonly standby?: boolean;
  /**
   * The worker asks for the configuration the master validated (`mpx:config-request`) and builds exactly that instead of reading and validating the files again. So every
   * worker of a generation serves the same configuration even if a file changes meanwhile, and
   * a worker never loads the schema validator (ajv compiles MapProxy's schema into ~25 MiB).
   */
  readonly configFromMaster?: boolean;
  /**
   * Send `mpx:alive` this often (ms), from the first moment of the process: the master's
   * `--timeout` kills a worker that stays silent (its event loop blocked) for too long. Absent: never.
   */
  readonly heartbeatMs?: number;
  /** `--health-path`, `--ready-path`, `--metrics-path` (false: off); absent: the defaults. */
  readonly observability?: OperationalPaths;
}

/**
 * How often a worker sends `mpx:alive` for the master's `--timeout` of `timeoutMs`: four times
 * within it (one late or lost beat is no silence), at most every 5 s, at least every 100 ms.
 */
export function heartbeatInterval(timeoutMs: number): number {
  return Math.min(5000, Math.max(100, Math.floor(timeoutMs / 4)));
}

/** A configuration as the master validated it (`validateConfig`'s result), sent to workers. */
export interface ConfigSnapshot {
  /** The main file, absolute. */
  readonly file: string;
  /** Its directory (relative paths in the configuration are relative to it). */
  readonly dir: string;
  /** The main file and every `base:` file. */
  readonly files: readonly string[];
  /** The validated configuration, in its normal shape. */
  readonly config: Record<string, unknown>;
  readonly warnings: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

/**
 * How a worker drains:
 * - `reload`: it is being replaced; requests that still arrive on its open connections are
 *   served normally, with `Connection: close`, so clients move to the new workers and none fails;
 * - `stop`: the server shuts down; late requests get 503 with `Connection: close`.
 * In both, in-flight requests finish and new connections go to other workers (or are refused).
 */
export type DrainMode = 'reload' | 'stop';

/** Master → worker. */
export interface DrainMessage {
  readonly type: 'mpx:drain';
  readonly mode: DrainMode;
}

/** Master → spare worker: start listening, you replace a worker now. */
export interface ListenMessage {
  readonly type: 'mpx:listen';
}

/** Master → worker, when it asks (`mpx:config-request`): the configuration to serve. */
export interface ConfigMessage {
  readonly type: 'mpx:config';
  readonly snapshot: ConfigSnapshot;
}

/** Master → worker, answering `mpx:unlistened`: no connection is on its way to the worker any more. */
export interface UnlistenedAckMessage {
  readonly type: 'mpx:unlistened-ack';
}

/** Any message the master sends. */
export type MasterMessage = DrainMessage | ListenMessage | ConfigMessage | UnlistenedAckMessage;

/** Worker → master: a spare has built its app and waits for `mpx:listen`. */
export interface StandbyMessage {
  readonly type: 'mpx:standby';
}

/** Worker → master: it cannot serve (bad config, cannot listen); it exits right after. */
export interface StartFailedMessage {
  readonly type: 'mpx:start-failed';
  readonly message: string;
  /** Node's error code (`EADDRINUSE`) or ours (`MPX_ERR_CONFIG`), when there is one. */
  readonly code?: string;
}

/** Worker → master: it reached `maxRequests` and asks to be replaced (rolling, like a reload). */
export interface RetireMessage {
  readonly type: 'mpx:retire';
  readonly served: number;
}

/** Worker → master: send me my configuration (`mpx:config`), I am listening now. */
export interface ConfigRequestMessage {
  readonly type: 'mpx:config-request';
}

/**
 * Worker → master, after its drain, before it exits: it stopped listening long ago; once the
 * master answers (`mpx:unlistened-ack`), every connection node:cluster's master handed it before
 * taking it out of the round robin has arrived (one IPC channel keeps the order) and has been
 * handed back to another worker. Exiting earlier loses such a connection: the master keeps it
 * open and nobody answers it.
 */
export interface UnlistenedMessage {
  readonly type: 'mpx:unlistened';
}

/** Worker → master, every `WorkerOptions.heartbeatMs`: its event loop runs. */
export interface AliveMessage {
  readonly type: 'mpx:alive';
}

/** Any message a worker sends. */
export type WorkerMessage = StartFailedMessage | RetireMessage | StandbyMessage | ConfigRequestMessage | UnlistenedMessage | AliveMessage;

/** Parse `WorkerOptions` from the environment; throws with a clear message when missing. */
export function workerOptionsFromEnv(env: NodeJS.ProcessEnv): WorkerOptions {
  const raw = env[WORKER_OPTIONS_ENV];
  if (!raw) throw new Error(`${WORKER_OPTIONS_ENV} is not set: workers are started by \`mapproxy-ts serve\``);
  return JSON.parse(raw) as WorkerOptions;
}

/** True for a message of this protocol (cluster's channel also carries node's own messages). */
export function isProtocolMessage(msg: unknown): msg is { type: string } {
  return typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string' &&
    (msg as { type: string }).type.startsWith('mpx:');
}
