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
  const { applyLogConfig, closeLogging } = await import('../log/index.js');
  // Validated by the master (at start or at the SIGHUP that made this generation).
  if (opts.logSettings) await applyLogConfig(opts.logSettings);
  const { runWorker } = await import('./worker.js');
  const code = await runWorker(opts, control);
  // Flush and release this process's log file (its name goes to the next worker).
  await closeLogging();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A failure with a code (its log file cannot be opened, say) in one line; a bug with its stack.
    const code = (err as NodeJS.ErrnoException | null)?.code ?? '';
    const known = err instanceof Error && (/^E[A-Z0-9]+$/.test(code) || code.startsWith('MPX_'));
    process.stderr.write(`mapproxy-ts worker ${process.pid}: ${known ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(WORKER_BOOT_ERROR);
  },
);
