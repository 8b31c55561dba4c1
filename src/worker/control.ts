/**
 * What the master asks of this worker, captured from the first moment of the process: node drops
 * IPC messages nobody listens to, and a worker spends seconds loading the app's modules, so the
 * listeners are installed before that (by `main.ts`) and the requests are kept until `runWorker`
 * acts on them. Imports nothing heavy.
 */
import cluster from 'node:cluster';
import { isProtocolMessage, type ConfigSnapshot, type DrainMode, type MasterMessage, type WorkerMessage } from './protocol.js';

const ignore = (): void => undefined;

/** Drain and listen requests of the master (and of SIGTERM, and of the master going away). */
export class WorkerControl {
  #mode: DrainMode | null = null;
  #onDrain: ((mode: DrainMode) => void) | null = null;
  #wakeDrain: () => void = () => undefined;
  #wakeListen: () => void = () => undefined;
  #gotConfig: (snapshot: ConfigSnapshot) => void = () => undefined;
  #unlistenedAck: () => void = () => undefined;
  #masterGone = false;
  #serving = false;
  /** Resolves with the configuration the master sent (`mpx:config`). */
  readonly config: Promise<ConfigSnapshot> = new Promise((resolve) => { this.#gotConfig = resolve; });
  /** Resolves at the first drain request. */
  readonly drainRequested: Promise<void> = new Promise((resolve) => { this.#wakeDrain = resolve; });
  /** Resolves when the master tells a standing-by spare to listen. */
  readonly listenRequested: Promise<void> = new Promise((resolve) => { this.#wakeListen = resolve; });

  /** Install the process listeners (once per process). */
  install(): this {
    process.on('message', (msg: unknown) => {
      if (!isProtocolMessage(msg)) return;
      const m = msg as MasterMessage;
      if (m.type === 'mpx:drain') this.requestDrain(m.mode);
      else if (m.type === 'mpx:listen') this.#wakeListen();
      else if (m.type === 'mpx:config') this.#gotConfig(m.snapshot);
      else if (m.type === 'mpx:unlistened-ack') this.#unlistenedAck();
    });
    // Without the master nobody would stop or replace this worker, and no new connection reaches
    // it (the master held the listening socket). node:cluster's own handler then exits at once
    // unless the disconnect was asked for, checking that after it emitted the worker's
    // 'disconnect'. Before this worker serves that is right: nothing is in flight, and what it
    // waits for (its configuration, the master's answer to its listen) will never come. Once it
    // serves, it says the disconnect was expected and drains instead, finishing its requests.
    const worker = cluster.worker;
    if (worker !== undefined) {
      worker.on('disconnect', () => {
        if (this.#serving) worker.exitedAfterDisconnect = true;
      });
    }
    process.on('disconnect', () => {
      this.#masterGone = true;
      this.requestDrain('stop');
    });
    process.on('SIGTERM', () => this.requestDrain('stop'));
    // A terminal's Ctrl-C or hang-up reaches the whole process group; the master decides for all.
    process.on('SIGINT', () => undefined);
    process.on('SIGHUP', () => undefined);
    return this;
  }

  /**
   * Tell the master every `intervalMs` that this process's event loop runs (`mpx:alive`), from
   * now until it exits; the timer does not keep the process alive.
   */
  startHeartbeat(intervalMs: number): void {
    const beat = (): void => {
      // With a callback a send to a master that just died is dropped, not an uncaught EPIPE.
      if (process.connected) process.send?.({ type: 'mpx:alive' } satisfies WorkerMessage, ignore);
    };
    beat();
    setInterval(beat, intervalMs).unref();
  }

  /**
   * This worker listens and may have requests in flight: from now on, losing the master drains it
   * instead of ending it at once.
   */
  serving(): void {
    this.#serving = true;
  }

  /** True once the IPC channel to the master has closed (the master died or exited). */
  get masterGone(): boolean {
    return this.#masterGone;
  }

  /** The drain asked for, if any; `stop` wins over `reload`. */
  get mode(): DrainMode | null {
    return this.#mode;
  }

  /** Ask for a drain (as a master message would). */
  requestDrain(mode: DrainMode): void {
    if (this.#mode === 'stop' || this.#mode === mode) return;
    this.#mode = mode;
    this.#onDrain?.(mode);
    this.#wakeDrain();
  }

  /**
   * Before exiting after a drain: ask the master (`mpx:unlistened`) and wait for its answer, so
   * every connection node:cluster was handing this worker has arrived and been passed on (see
   * `UnlistenedMessage`). At most `timeoutMs`; at once without a master.
   */
  async confirmUnlistened(timeoutMs: number): Promise<void> {
    if (!process.connected || !process.send) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#unlistenedAck = resolve;
      timer = setTimeout(resolve, timeoutMs);
      process.once('disconnect', resolve);
      process.send?.({ type: 'mpx:unlistened' } satisfies WorkerMessage);
    });
    clearTimeout(timer);
  }

  /** Be told of later changes of the drain mode (a reload drain turning into a stop). */
  onDrain(fn: (mode: DrainMode) => void): void {
    this.#onDrain = fn;
  }
}
