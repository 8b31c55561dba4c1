/**
 * The worker folder's public face: one `serve` worker (`runWorker`), its drainable HTTP server,
 * and the master/worker protocol. The process entry is `main.ts`, forked by the master.
 */
export { runWorker } from './worker.js';
export { DrainingServer, type DrainingServerOptions, type DrainResult, type Handler } from './server.js';
export {
  WORKER_BOOT_ERROR,
  WORKER_OPTIONS_ENV,
  type DrainMode,
  type DrainMessage,
  type RetireMessage,
  type StartFailedMessage,
  type WorkerMessage,
  type WorkerOptions,
} from './protocol.js';
export { WorkerControl } from './control.js';
