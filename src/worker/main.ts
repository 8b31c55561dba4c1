/**
 * The entry module of a `serve` worker process (node:cluster forks it with this file as its
 * main module): reads its options from the environment, sets up logging, runs the worker, exits.
 */
import { WorkerControl } from './control.js';
import { WORKER_BOOT_ERROR, workerOptionsFromEnv } from './protocol.js';

// Before the app's modules load (seconds): messages and signals arriving meanwhile are kept.
const control = new WorkerControl().install();

async function main(): Promise<number> {
  const opts = workerOptionsFromEnv(process.env);
  // Before the modules load: the master times a worker's silence from its fork.
  if (opts.heartbeatMs) control.startHeartbeat(opts.heartbeatMs);
  const { closeLogging, configureLoggingFromFile } = await import('../log/index.js');
  // The master applied the same file before forking, so it is known to be valid.
  if (opts.logConfig) await configureLoggingFromFile(opts.logConfig);
  const { runWorker } = await import('./worker.js');
  const code = await runWorker(opts, control);
  // Flush and release this process's log file (its name goes to the next worker).
  await closeLogging();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`mapproxy-ts worker ${process.pid}: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(WORKER_BOOT_ERROR);
  },
);
