/**
 * The `serve` master: validates the configuration (in a child process, `check-process.ts`), forks
 * a fixed pool of pre-forked workers with node:cluster (round-robin accept on one shared port),
 * keeps the pool at N (restarting crashed workers with backoff, giving up on a crash loop), and
 * turns signals into a graceful stop (SIGTERM, SIGINT) or a rolling reload (SIGHUP). It does no
 * request work and never loads the request-serving code: workers are separate processes running
 * `src/worker/main`.
 *
 * Rolling replacement — reload, and recycling a worker after `--max-requests` — always starts the
 * new worker first and drains an old one only once the new one listens, so capacity never drops
 * below N and no request fails.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { randomInt } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { hostPort, listenFailure, probeBind } from '../app/listen.js';
import type { OperationalPaths } from '../app/operational-paths.js';
import { ConfigError, EXIT_INVALID_CONFIG } from '../errors.js';
import { applyLogConfig, closeLogging, getLogger, loadLogConfig, logSystemInfo, type LogConfig, type LogFormat } from '../log/index.js';
import {
  WORKER_OPTIONS_ENV,
  heartbeatInterval,
  isProtocolMessage,
  type ConfigSnapshot,
  type DrainMode,
  type MasterMessage,
  type WorkerMessage,
  type WorkerOptions,
} from '../worker/protocol.js';
import { LostConnectionPolicy, RestartPolicy } from './backoff.js';
import { descriptorLimit } from '../cache/storage/open-files.js';
import { monotonicUsec, notifyParentReady, notifySystemd } from './notify.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { CHECK_TIMEOUT_MS, checkConfigInChild, type ChildCheck } from './check-process.js';
import { countWorkerRestart, createMetricsAggregator } from '../metrics/index.js';
import { closeMetricsServer } from '../metrics/server.js';
import { startMetricsServer } from './metrics-port.js';

/** Options of `runMaster` (the `serve` command line, parsed). */
export interface MasterOptions {
  /** Absolute path of the mapproxy.yaml (with `multiapp`: the directory of configs). */
  readonly config: string;
  /** MultiMapProxy (`serve --multiapp <dir>`): one project per `<dir>/<name>.yaml`. */
  readonly multiapp?: { readonly allowListing: boolean };
  readonly host: string;
  /** 0 picks a free port (logged in the `ready` line). */
  readonly port: number;
  /** Pool size, at least 1. */
  readonly workers: number;
  /** Recycle a worker after this many requests plus a random 0…`maxRequestsJitter`; 0 = never. */
  readonly maxRequests: number;
  readonly maxRequestsJitter: number;
  /** How long a draining worker may take (ms); then its connections are closed by force. */
  readonly gracefulTimeoutMs: number;
  /** False: workers let node:http read every request (`--no-fast-lane`); default true. */
  readonly fastLane?: boolean;
  /**
   * `--threadpool-size`: libuv threads of each worker (`UV_THREADPOOL_SIZE`); by default the
   * master's UV_THREADPOOL_SIZE when set, else `DEFAULT_THREADPOOL_SIZE`.
   */
  readonly threadpoolSize?: number;
  /** `--image-jobs`: image operations at once per worker; by default one fewer than its pool (src/image/pool.ts). */
  readonly imageJobs?: number;
  readonly pidFile?: string;
  /**
   * `--log-config` file. The caller validates and applies it to the master and passes what it
   * read as `logSettings`; the workers apply those settings, never the file, so an edit takes
   * effect on SIGHUP, after the master has checked it, and a worker replaced meanwhile (crash,
   * `--max-requests`) logs as its generation does.
   */
  readonly logConfig?: string;
  /** The validated contents of `logConfig`. */
  readonly logSettings?: LogConfig;
  /**
   * Spare workers kept booted (app built, not listening) to replace a crashed or recycled worker
   * at once instead of after a cold start; each costs the memory of an idle worker.
   */
  readonly spareWorkers: number;
  /**
   * `--metrics-bind`: the master also serves `/metrics` (the cluster sum) on this address, bound
   * before the first fork. Port 0 picks a free one (logged as `metricsPort`).
   */
  readonly metricsBind?: { readonly host: string; readonly port: number };
  /**
   * `--log-format`: stdout as JSON or pretty lines in the master and every worker. The caller
   * applies it to the master (`setLogFormat`), which hands it to the workers in their environment.
   */
  readonly logFormat?: LogFormat;
  /**
   * `--timeout`: a worker that sends no heartbeat for this long (ms), its event loop blocked, is
   * killed and replaced, as gunicorn's arbiter does with silent workers. 0 or absent: never.
   */
  readonly timeoutMs?: number;
  /** `--health-path`, `--ready-path`, `--metrics-path` for the workers (false: off). */
  readonly observability?: OperationalPaths;
}

/** Extra time a draining worker gets to exit on its own after its graceful timeout. */
const KILL_GRACE_MS = 2_000;

interface Slot {
  readonly worker: Worker;
  readonly pid: number;
  readonly generation: number;
  /** A spare: booted to wait in standby until it replaces a worker. */
  spare: boolean;
  /** starting: booting (or told to listen); standby: a booted spare; ready: listening. */
  state: 'starting' | 'standby' | 'ready' | 'draining';
  /** To be replaced although of the current generation: why (`--max-requests`, a lost hand-over). */
  retiring: boolean;
  retireReason?: 'max-requests' | 'descriptors';
  drainMode?: DrainMode;
  startError?: string;
  killTimer?: NodeJS.Timeout;
  /** The configuration this worker builds (of its generation). */
  readonly snapshot?: ConfigSnapshot;
  /** Its last heartbeat (`mpx:alive`), or its fork (`performance.now()`, ms: a clock that is never set back). */
  aliveAt: number;
  /** Killed for its silence (`--timeout`). */
  silent?: boolean;
}

/** The worker entry next to this module, in src/ (tsx) or dist/. */
function workerEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`../worker/main${extname(self)}`, import.meta.url));
}

/** This process's descriptor limit; null where unknown, unlimited as unknown. */
function descriptorLimitOrNull(): number | null {
  const limit = descriptorLimit();
  return limit !== null && Number.isFinite(limit) ? limit : null;
}

/** A stop signal within this long of the first is the same stop, not a demand to kill (ms). */
export const REPEATED_SIGNAL_MS = 1000;

/** The pool and its life cycle; one per process. */
class Supervisor {
  readonly #o: MasterOptions;
  readonly #log: Logger = getLogger('mapproxy.master');
  readonly #slots = new Map<number, Slot>();
  readonly #policy = new RestartPolicy();
  readonly #lost = new LostConnectionPolicy({ maxTotal: Math.floor((descriptorLimitOrNull() ?? 1024) / 8) });
  #generation = 0;
  /** The generation whose first worker was told to report hidden MultiMapProxy projects. */
  #reportedGeneration = -1;
  #restartNotBefore = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #port: number | null = null;
  #announced = false;
  #reloading = false;
  #reloadChain: Promise<void> = Promise.resolve();
  #stopping = false;
  #exitCode = 0;
  #finish: (code: number) => void = () => undefined;

  /** Kills the reload's check process when the master stops meanwhile. */
  #checking: AbortController | null = null;

  /** The configuration the workers build: the last one that passed the check. */
  #snapshot: ConfigSnapshot | undefined;

  /** The log settings the workers apply: `--log-config` as it was at start or at the last reload. */
  #logSettings: LogConfig | undefined;

  /** When the first stop signal came (`performance.now()`, ms; none yet: -Infinity). */
  #stopSignalAt = Number.NEGATIVE_INFINITY;

  /** Checks the workers' heartbeats (`--timeout`), and when it last did (ms). */
  #watchdog: NodeJS.Timeout | null = null;
  #watchedAt = 0;

  constructor(opts: MasterOptions, snapshot?: ConfigSnapshot) {
    this.#o = opts;
    this.#snapshot = snapshot;
    this.#logSettings = opts.logSettings;
  }

  readonly #onStopSignal = (signal: NodeJS.Signals): void => {
    if (!this.#stopping) {
      this.#log.info({ signal }, 'stopping: draining the workers');
      this.#stopSignalAt = performance.now();
      this.#stop(0);
      return;
    }
    // The same stop sent twice at once (`timeout` signals the process and then its group, as do
    // some supervisors) is one stop; a second one a moment later means "now".
    if (performance.now() - this.#stopSignalAt < REPEATED_SIGNAL_MS) {
      this.#log.info({ signal }, 'stop signal again at once: still draining');
      return;
    }
    this.#log.warn({ signal }, 'second stop signal: killing the workers');
    for (const slot of this.#slots.values()) slot.worker.process.kill('SIGKILL');
  };

  readonly #onHup = (): void => {
    this.#reloadChain = this.#reloadChain.then(() => this.#reload());
  };

  /** Start the pool; resolves to the exit code once every worker has exited. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.#finish = resolve; });
    process.on('SIGTERM', this.#onStopSignal);
    process.on('SIGINT', this.#onStopSignal);
    process.on('SIGHUP', this.#onHup);
    this.#log.info({ config: this.#o.config, workers: this.#o.workers, spares: this.#o.spareWorkers, node: process.version }, 'starting');
    // Before the first fork: workers learn from their environment to report their metrics here.
    createMetricsAggregator();
    const timeoutMs = this.#o.timeoutMs ?? 0;
    if (timeoutMs > 0) {
      const everyMs = heartbeatInterval(timeoutMs);
      this.#watchedAt = performance.now();
      this.#watchdog = setInterval(() => this.#watch(timeoutMs, everyMs), everyMs);
    }
    this.#reconcile();
    return done.finally(() => {
      if (this.#watchdog) clearInterval(this.#watchdog);
      process.off('SIGTERM', this.#onStopSignal);
      process.off('SIGINT', this.#onStopSignal);
      process.off('SIGHUP', this.#onHup);
      if (this.#restartTimer) clearTimeout(this.#restartTimer);
    });
  }

  #fork(spare: boolean): void {
    const o = this.#o;
    const reportHidden = o.multiapp !== undefined && this.#reportedGeneration !== this.#generation;
    if (reportHidden) this.#reportedGeneration = this.#generation;
    const options: WorkerOptions = {
      config: o.config,
      multiapp: o.multiapp,
      ...(reportHidden ? { reportHidden: true } : {}),
      host: o.host,
      port: o.port,
      gracefulTimeoutMs: o.gracefulTimeoutMs,
      maxRequests: o.maxRequests > 0 ? o.maxRequests + randomInt(0, o.maxRequestsJitter + 1) : 0,
      ...(this.#logSettings ? { logSettings: this.#logSettings } : {}),
      ...(o.fastLane === false ? { fastLane: false } : {}),
      ...(o.imageJobs !== undefined ? { imageJobs: o.imageJobs } : {}),
      standby: spare,
      configFromMaster: this.#snapshot !== undefined,
      ...((o.timeoutMs ?? 0) > 0 ? { heartbeatMs: heartbeatInterval(o.timeoutMs ?? 0) } : {}),
      ...(o.observability ? { observability: o.observability } : {}),
    };
    // NOTIFY_SOCKET: only the master speaks to systemd.
    const env: Record<string, string | undefined> = { [WORKER_OPTIONS_ENV]: JSON.stringify(options), NOTIFY_SOCKET: undefined };
    const pool = workerThreadpoolSize(o.threadpoolSize, process.env);
    if (pool !== undefined) env.UV_THREADPOOL_SIZE = String(pool);
    Object.assign(env, workerMallocEnv(process.env));
    const worker = cluster.fork(env);
    const slot: Slot = {
      worker,
      pid: worker.process.pid ?? 0,
      generation: this.#generation,
      spare,
      state: 'starting',
      retiring: false,
      snapshot: this.#snapshot,
      aliveAt: performance.now(),
    };
    this.#slots.set(worker.id, slot);
    // node:cluster's hand-over of connections (see `#onHandleLost`): only watched, never answered.
    worker.process.on('internalMessage', (m: { cmd?: unknown } | null) => {
      if (m?.cmd === 'NODE_HANDLE_NACK') this.#onHandleLost(slot);
    });
    worker.on('listening', (address: { port: number }) => this.#onListening(slot, address));
    worker.on('message', (msg: unknown) => this.#onMessage(slot, msg));
    worker.on('exit', (code: number | null, signal: string | null) => this.#onExit(slot, code, signal));
    // IPC to a worker that just died (EPIPE); its exit is handled on 'exit'.
    worker.on('error', (err: Error) => this.#log.debug({ worker: worker.id, err: err.message }, 'worker channel error'));
    this.#log.debug({ worker: worker.id, workerPid: slot.pid, generation: slot.generation, spare }, 'worker forked');
  }

  #send(slot: Slot, msg: MasterMessage): void {
    if (slot.worker.isConnected()) slot.worker.send(msg);
  }

  #onListening(slot: Slot, address: { port: number }): void {
    if (slot.state !== 'starting' || slot.spare) return;
    slot.state = 'ready';
    this.#policy.ready();
    this.#port ??= address.port;
    this.#log.info({ worker: slot.worker.id, workerPid: slot.pid, generation: slot.generation }, 'worker listening');
    this.#reconcile();
  }

  #onMessage(slot: Slot, msg: unknown): void {
    if (!isProtocolMessage(msg)) return;
    const m = msg as WorkerMessage;
    if (m.type === 'mpx:alive') {
      slot.aliveAt = performance.now();
    } else if (m.type === 'mpx:unlistened') {
      this.#send(slot, { type: 'mpx:unlistened-ack' });
    } else if (m.type === 'mpx:config-request') {
      // The configuration of the worker's generation, even if a reload has checked a newer one.
      if (slot.snapshot) this.#send(slot, { type: 'mpx:config', snapshot: slot.snapshot });
    } else if (m.type === 'mpx:start-failed') {
      slot.startError = m.message;
    } else if (m.type === 'mpx:standby' && slot.spare && slot.state === 'starting') {
      slot.state = 'standby';
      this.#policy.ready();
      this.#log.info({ worker: slot.worker.id, workerPid: slot.pid, generation: slot.generation }, 'spare worker standing by');
      this.#reconcile();
    } else if (m.type === 'mpx:retire' && slot.state === 'ready' && !slot.retiring && !this.#stopping) {
      slot.retiring = true;
      slot.retireReason = 'max-requests';
      countWorkerRestart('max-requests');
      this.#log.info({ worker: slot.worker.id, workerPid: slot.pid, served: m.served }, 'max requests reached: replacing the worker');
      this.#reconcile();
    }
  }

  /**
   * node:cluster hands each connection the master accepts to a worker over IPC, and hands that
   * worker the next one only once it has answered. A worker out of file descriptors (or on a
   * system out of them) cannot receive the connection: it answers NODE_HANDLE_NACK, and Node (20)
   * neither sends the connection again nor closes it, so the answer node:cluster waits for never
   * comes. From then on that worker gets no new connection, even once its descriptors are free
   * again: with one worker every new request would hang. So it is replaced as after
   * `--max-requests`: the new worker listens first, the old one finishes what its open
   * connections ask (they still work) and exits. A worker still starting can be handed a
   * connection before the master has seen it listen: it is drained as soon as it is replaced.
   * The connection of the failed hand-over stays open in the master, unanswered, until the master
   * exits (Node keeps it out of reach); `#lost` ends the master when that keeps happening.
   */
  #onHandleLost(slot: Slot): void {
    if (this.#stopping) return;
    const replace = slot.state !== 'draining' && !slot.retiring;
    if (replace) {
      slot.retiring = true;
      slot.retireReason = 'descriptors';
      countWorkerRestart('descriptors');
      this.#log.error(
        { worker: slot.worker.id, workerPid: slot.pid },
        'a connection could not be handed to the worker (out of file descriptors: raise LimitNOFILE / ulimit -n, or the system\'s fs.file-max); it gets no more connections: replacing it',
      );
    }
    // Every loss counts, also one of a worker already on its way out: each leaves a socket.
    const giveUp = this.#lost.lost(performance.now());
    if (giveUp !== undefined) {
      this.#log.fatal(`${giveUp} (each leaves this process a socket it cannot close); giving up`);
      this.#stop(1);
    } else if (replace) {
      this.#reconcile();
    }
  }

  #onExit(slot: Slot, code: number | null, signal: string | null): void {
    clearTimeout(slot.killTimer);
    this.#slots.delete(slot.worker.id);
    const fields = { worker: slot.worker.id, workerPid: slot.pid, code, signal };
    if (slot.state === 'draining' || this.#stopping) {
      this.#log.info(fields, 'worker stopped');
    } else {
      const beforeReady = slot.state === 'starting';
      this.#log.error({ ...fields, error: slot.startError }, beforeReady ? 'worker failed to start' : 'worker died');
      // The monotonic clock: a wall clock set back would hold restarts back by the step.
      const verdict = this.#policy.crashed(performance.now(), beforeReady);
      if ('giveUp' in verdict) {
        this.#log.fatal({ error: slot.startError }, `crash loop: ${verdict.giveUp}; giving up`);
        this.#stop(1);
      } else {
        countWorkerRestart(slot.silent === true ? 'timeout' : 'crash');
        this.#restartNotBefore = Math.max(this.#restartNotBefore, performance.now() + verdict.restartInMs);
        this.#log.info({ delayMs: verdict.restartInMs }, 'a new worker will be started');
      }
    }
    if (this.#stopping && this.#slots.size === 0) this.#finish(this.#exitCode);
    else this.#reconcile();
  }

  /**
   * Kill every worker silent for longer than `timeoutMs` (checked every `everyMs`); the exit is then
   * a crash like any other (replaced with backoff, counted in the crash loop). When this check
   * itself comes late, the master was held up (stopped, the machine suspended) and has not read
   * the beats sent meanwhile: every worker's silence counts from now instead.
   */
  #watch(timeoutMs: number, everyMs: number): void {
    const now = performance.now();
    const late = now - this.#watchedAt > 2 * everyMs;
    this.#watchedAt = now;
    for (const slot of this.#slots.values()) {
      if (late) slot.aliveAt = now;
      if (slot.silent === true || now - slot.aliveAt <= timeoutMs) continue;
      slot.silent = true;
      const silentMs = Math.round(now - slot.aliveAt);
      // Named in 'worker failed to start' and in the crash loop's line when it was still booting.
      slot.startError ??= `no heartbeat for ${silentMs} ms (--timeout ${timeoutMs / 1000} s)`;
      this.#log.error(
        { worker: slot.worker.id, workerPid: slot.pid, silentMs, timeoutMs },
        'worker silent for longer than --timeout (its event loop is blocked): killing it',
      );
      slot.worker.process.kill('SIGKILL');
    }
  }

  /** Live (not draining) workers, classified against the current generation. */
  #view() {
    const live = [...this.#slots.values()].filter((s) => s.state !== 'draining');
    const current = live.filter((s) => !s.spare && s.generation === this.#generation && !s.retiring);
    return {
      current,
      currentReady: current.filter((s) => s.state === 'ready'),
      staleReady: live.filter((s) => !s.spare && !current.includes(s) && s.state === 'ready'),
      staleStarting: live.filter((s) => !current.includes(s) && s.state !== 'ready' && (!s.spare || s.generation !== this.#generation)),
      spares: live.filter((s) => s.spare && s.generation === this.#generation),
    };
  }

  /** Forks are held back after a crash (backoff); schedules a retry and says whether to wait. */
  #mustWait(): boolean {
    const wait = this.#restartNotBefore - performance.now();
    if (wait <= 0) return false;
    this.#restartTimer ??= setTimeout(() => {
      this.#restartTimer = null;
      this.#reconcile();
    }, wait);
    return true;
  }

  /**
   * Bring the pool towards N ready workers of the current generation: promote a standing-by
   * spare or fork what is missing (all at once at start-up and after crashes, one at a time while
   * old workers still serve), drain an old or retiring worker each time a new one has taken its
   * place, and keep the spares booted once the pool is complete.
   */
  #reconcile(): void {
    if (this.#stopping) return;
    const n = this.#o.workers;
    let v = this.#view();
    // `reload`, not `stop`: a starting worker may listen already and hold connections the master
    // handed it; they are answered (with Connection: close), not refused with 503.
    for (const s of v.staleStarting) this.#drain(s, 'reload');

    const missing = n - v.current.length;
    const starting = v.current.length - v.currentReady.length;
    let wanted = v.staleReady.length > 0 ? (starting === 0 ? Math.min(1, missing) : 0) : missing;
    for (const spare of v.spares) {
      if (wanted <= 0) break;
      if (spare.state !== 'standby') continue;
      spare.spare = false;
      spare.state = 'starting';
      this.#send(spare, { type: 'mpx:listen' });
      this.#log.info({ worker: spare.worker.id, workerPid: spare.pid }, 'spare worker takes over');
      wanted--;
    }
    if (wanted > 0 && !this.#mustWait()) for (let i = 0; i < wanted; i++) this.#fork(false);

    v = this.#view();
    let excess = v.currentReady.length + v.staleReady.length - n;
    for (const s of v.staleReady) {
      if (excess-- <= 0) break;
      this.#drain(s, 'reload');
    }

    v = this.#view();
    if (v.currentReady.length !== n || v.staleReady.length > 0) return;
    const workers = v.currentReady.map((s) => s.pid);
    const status = { STATUS: `serving with ${n} worker${n === 1 ? '' : 's'}` };
    if (!this.#announced) {
      this.#announced = true;
      this.#log.info({ url: `http://${hostPort(this.#o.host, this.#port ?? this.#o.port)}/`, port: this.#port, workers }, 'ready');
      notifyParentReady();
      void notifySystemd({ READY: '1', ...status }, this.#log);
    } else if (this.#reloading) {
      this.#reloading = false;
      this.#log.info({ generation: this.#generation, workers }, 'reload complete');
      void notifySystemd({ READY: '1', ...status }, this.#log);
    }
    const spares = this.#o.spareWorkers - v.spares.length;
    if (spares > 0 && !this.#mustWait()) for (let i = 0; i < spares; i++) this.#fork(true);
  }

  #drain(slot: Slot, mode: DrainMode): void {
    if (slot.state === 'draining' && (slot.drainMode === 'stop' || slot.drainMode === mode)) return;
    slot.state = 'draining';
    slot.drainMode = mode;
    if (slot.worker.isConnected()) this.#send(slot, { type: 'mpx:drain', mode });
    else slot.worker.process.kill('SIGTERM');
    slot.killTimer ??= setTimeout(() => {
      this.#log.warn({ worker: slot.worker.id, workerPid: slot.pid }, 'worker did not stop within the graceful timeout: killing it');
      slot.worker.process.kill('SIGKILL');
    }, this.#o.gracefulTimeoutMs + KILL_GRACE_MS);
    // `mode` is what the worker is told (`reload`: answer with Connection: close, `stop`: 503 for
    // late requests); `reason` is why it goes.
    const reason = mode === 'stop' ? 'stop' : (slot.retireReason ?? (slot.generation !== this.#generation ? 'reload' : 'replaced'));
    this.#log.info({ worker: slot.worker.id, workerPid: slot.pid, mode, reason }, 'draining a worker');
  }

  #stop(code: number): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#exitCode = code;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    void notifySystemd({ STOPPING: '1' }, this.#log);
    // A reload's check still running (perhaps stuck on a hung file system) must not keep the
    // master alive; the reload is dropped.
    this.#checking?.abort();
    for (const slot of this.#slots.values()) this.#drain(slot, 'stop');
    if (this.#slots.size === 0) this.#finish(code);
  }

  async #reload(): Promise<void> {
    if (this.#stopping) return;
    this.#log.info({ config: this.#o.config }, 'reload requested: checking the configuration');
    // systemd hears of a reload only once it has heard READY (a SIGHUP while the pool first starts
    // ends in that first READY).
    if (this.#announced) await notifySystemd({ RELOADING: '1', MONOTONIC_USEC: monotonicUsec() }, this.#log);
    const aborted = async (why: string, err: unknown): Promise<void> => {
      if (this.#stopping) return;
      this.#log.error({ err: (err as Error).message }, `reload aborted: ${why}; the old workers keep serving`);
      if (this.#announced) await notifySystemd({ READY: '1' }, this.#log);
    };
    let logSettings = this.#logSettings;
    if (this.#o.logConfig) {
      try {
        logSettings = await loadLogConfig(this.#o.logConfig, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
      } catch (err) {
        return aborted(err instanceof ConfigError ? 'the log configuration is invalid' : 'the log configuration could not be read', err);
      }
      if (this.#stopping) return;
    }
    const checking = new AbortController();
    this.#checking = checking;
    let snapshot: ConfigSnapshot | undefined;
    try {
      snapshot = (await checkConfigInChild(this.#o.config, this.#o.multiapp !== undefined, { signal: checking.signal })).check.snapshot;
    } catch (err) {
      return aborted(err instanceof ConfigError ? 'the configuration is invalid' : 'the configuration check failed', err);
    } finally {
      this.#checking = null;
    }
    if (this.#stopping) return;
    if (logSettings && logSettings !== this.#logSettings) {
      try {
        // The master's own lines (levels, file) follow the new settings too.
        await applyLogConfig(logSettings);
      } catch (err) {
        return aborted('the log file cannot be opened', err);
      }
      if (this.#stopping) return;
    }
    // Together and with no await in between: a worker forked before this (a crash replacement, a
    // recycle) still builds the old generation, every one after it the new one.
    this.#snapshot = snapshot;
    this.#logSettings = logSettings;
    this.#generation++;
    this.#reloading = true;
    for (let i = 0; i < this.#o.workers; i++) countWorkerRestart('reload');
    this.#log.info({ generation: this.#generation }, 'configuration ok: replacing the workers one by one');
    this.#reconcile();
  }
}

/** libuv's own bound on UV_THREADPOOL_SIZE. */
export const MAX_THREADPOOL_SIZE = 1024;

/**
 * Threads of a worker's libuv pool unless told otherwise. A cache hit read through an open file is
 * one pread, a few microseconds from the page cache; handing it to a pool thread and back costs
 * more than the read, and more so the more idle threads there are to wake. Measured on the rig's
 * tiles (serve -w 2, 2 cores, alternating runs): 0.041-0.045 ms of CPU per hit with 1 thread,
 * 0.044-0.046 with 2, 0.054-0.055 with Node's 4. Two, not one: the pool also runs sharp's image
 * work and DNS lookups, and with one thread a hit waits for whatever runs (hit p99 108 ms against
 * 65-72 with 2 and 45-70 with 4 while 4 clients made uncached meta tiles; a lookup against a DNS
 * server that does not answer held a lone thread for seconds). libuv lets slow work (DNS) take at
 * most half the pool, and image work takes at most all threads but one (src/image/pool.ts), so with
 * two a hit never queues behind a queue of encodes, and behind one only while a lookup hangs.
 * Caches on network file systems want more (docs/deployment.md).
 */
export const DEFAULT_THREADPOOL_SIZE = 2;

/**
 * The UV_THREADPOOL_SIZE a worker is started with: `given` (`--threadpool-size`); else undefined
 * when the master's environment sets one (the workers inherit it as it is); else the default.
 */
export function workerThreadpoolSize(given: number | undefined, env: NodeJS.ProcessEnv): number | undefined {
  if (given !== undefined) return given;
  return env.UV_THREADPOOL_SIZE !== undefined && env.UV_THREADPOOL_SIZE !== '' ? undefined : DEFAULT_THREADPOOL_SIZE;
}

/** glibc's initial mmap threshold (bytes), which the workers keep (see `workerMallocEnv`). */
export const WORKER_MMAP_THRESHOLD = 128 * 1024;

/**
 * Environment for glibc's malloc in the workers: a fixed mmap threshold of 128 KiB
 * (`MALLOC_MMAP_THRESHOLD_`), unless the master's environment tunes it already. By default glibc
 * raises the threshold each time a large mmapped block is freed, up to 32 MiB, and the heap's
 * trim threshold with it; after start-up a worker's larger allocations then stay in a heap that is
 * rarely given back. Fixed, they are mapped and unmapped, and the heap's trim threshold stays at its
 * default (128 KiB free at the top). mallopt(3).
 * On the rig's tiles (serve -w 2, 4 alternating rounds): worker peak RSS 74.7-80.1 MiB instead of
 * 80.1-83.4, at the same CPU per hit (0.046-0.049 ms against 0.046-0.050); misses, whose large
 * image buffers are then mapped afresh, median 20.6 against 19.7 ms of CPU per tile (5 pairs, within
 * the box's noise). Ignored by other C libraries (musl).
 */
export function workerMallocEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  // An empty value (systemd's `Environment=MALLOC_MMAP_THRESHOLD_=`) counts as unset: glibc would
  // read it as 0 and map every allocation on its own.
  const own = env.MALLOC_MMAP_THRESHOLD_ !== undefined && env.MALLOC_MMAP_THRESHOLD_ !== '';
  if (own || (env.GLIBC_TUNABLES ?? '').includes('mmap_threshold')) return {};
  return { MALLOC_MMAP_THRESHOLD_: String(WORKER_MMAP_THRESHOLD) };
}

/**
 * Node options of the workers: the master's own, plus two V8 settings for memory unless the
 * master's options (or NODE_OPTIONS) set them already, either way:
 * - young-generation semi-spaces of 1 MiB (`--max-semi-space-size=1`): a hit makes only
 *   short-lived garbage, so small semi-spaces cost no throughput (measured: 27.8k vs 28.3k req/s
 *   with the rig's tiles) and keep about 25 MiB of RSS per worker that V8 would otherwise grow
 *   them to (16 MiB each) under load;
 * - `--optimize-for-size`: V8 grows the old generation in smaller steps. On the rig's tiles
 *   (serve -w 2, 3 alternating rounds) worker peak RSS 82-85 MiB instead of 93-97, with the same
 *   CPU per hit (0.038-0.042 ms both) and the same colour quantisation speed.
 * `node --no-optimize-for-size $(which mapproxy-ts) serve ...` turns the second off.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  // V8 takes `_` for `-` in flag names (`--no-optimize_for_size`).
  const given = (flag: string): boolean => [...execArgv, nodeOptions].some((a) => a.replaceAll('_', '-').includes(flag));
  const args = [...execArgv];
  if (!given('--max-semi-space-size')) args.push('--max-semi-space-size=1');
  if (!given('optimize-for-size')) args.push('--optimize-for-size');
  return args;
}

/**
 * Run the `serve` master until it is stopped; resolves to the exit code: 0 after SIGTERM/SIGINT,
 * 78 (EXIT_INVALID_CONFIG) when the configuration is invalid (message on stderr, before any port
 * is bound or worker is forked), 1 when its check cannot finish, the `--bind` or `metricsBind`
 * address cannot be bound (the same, before any fork), the pid file is held by a live process, or
 * the workers crash-loop.
 */
export async function runMaster(opts: MasterOptions): Promise<number> {
  if (!cluster.isPrimary) {
    process.stderr.write('mapproxy-ts: serve cannot run inside a node:cluster worker (under pm2, use fork mode)\n');
    return 1;
  }
  // Until the pool runs and takes them itself, a stop signal ends the start: exit 0 as a stop
  // at any other time (not 143), the configuration check killed, nothing forked.
  const stop = new AbortController();
  const onStop = (): void => stop.abort();
  // SIGHUP's default would end the process; a reload before there is a pool has nothing to do.
  const onEarlyHup = (): void => {
    getLogger('mapproxy.master').warn('SIGHUP before the workers started: ignored (the configuration is being read now; send it again once ready)');
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onEarlyHup);
  const stopped = (): number => {
    getLogger('mapproxy.master').info('stopped before the workers started');
    return 0;
  };
  let pidFileWritten = false;
  let metricsServer: Server | undefined;
  try {
    let checked: ChildCheck;
    try {
      checked = await checkConfigInChild(opts.config, opts.multiapp !== undefined, { signal: stop.signal });
    } catch (err) {
      if (stop.signal.aborted) return stopped();
      // Invalid, or the check could not finish (its time limit, a crash): no port bound, no fork.
      process.stderr.write(`mapproxy-ts: ${(err as Error).message}\n`);
      return err instanceof ConfigError ? EXIT_INVALID_CONFIG : 1;
    }
    if (stop.signal.aborted) return stopped();
    if (opts.pidFile) {
      try {
        await writePidFile(opts.pidFile);
        pidFileWritten = true;
      } catch (err) {
        process.stderr.write(`mapproxy-ts: ${(err as Error).message}\n`);
        return 1;
      }
    }
    if (opts.metricsBind) {
      try {
        metricsServer = await startMetricsServer(opts.metricsBind);
      } catch (err) {
        process.stderr.write(`mapproxy-ts: ${(err as Error).message}\n`);
        return 1;
      }
    }
    let port: number;
    try {
      // The workers listen, through this process (node:cluster); a port in use (also by
      // --metrics-bind, bound just now) would only show as workers failing one after another
      // until the crash-loop limit.
      port = await probeBind({ host: opts.host, port: opts.port });
    } catch (err) {
      process.stderr.write(`mapproxy-ts: ${listenFailure({ host: opts.host, port: opts.port }, err as NodeJS.ErrnoException)}\n`);
      return 1;
    }
    await logSystemInfo(checked.system);
    if (stop.signal.aborted) return stopped();
    // Round-robin in the master spreads connections evenly (the OS's accept balancing does not).
    cluster.schedulingPolicy = cluster.SCHED_RR;
    // 'advanced': the configuration snapshot is cloned, not JSON-encoded (YAML's .inf and .nan).
    cluster.setupPrimary({ exec: workerEntry(), args: [], execArgv: workerExecArgv(), silent: false, serialization: 'advanced' });
    // The pool's own handlers take over from here (installed as run() starts, synchronously).
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onEarlyHup);
    return await new Supervisor({ ...opts, port }, checked.check.snapshot).run();
  } finally {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onEarlyHup);
    if (metricsServer) await closeMetricsServer(metricsServer);
    if (pidFileWritten && opts.pidFile) await removePidFile(opts.pidFile);
    await closeLogging();
    // A parent's IPC channel (pm2) must not keep the finished master alive.
    process.channel?.unref();
  }
}
