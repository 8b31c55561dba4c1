/**
 * Entry point for tests that run the `serve` cluster in a child process:
 * `node --import tsx test/helpers/serve-cli.ts serve <config> [options]`.
 */
import { serveCommand } from '../../src/cli/serve.js';

// startServe puts this master in a process group of its own (so that kill() reaches its
// workers); the terminal's Ctrl-C or a stopped test runner then no longer reaches it. When the
// test process goes, whatever ends it, the IPC channel to it closes: take the group down too.
process.on('disconnect', () => process.kill(-process.pid, 'SIGKILL'));

serveCommand(process.argv.slice(3)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
