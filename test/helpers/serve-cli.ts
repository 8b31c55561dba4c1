/**
 * Entry point for tests that run the `serve` cluster in a child process:
 * `node --import tsx test/helpers/serve-cli.ts serve <config> [options]`.
 */
import { serveCommand } from '../../src/cli/serve.js';

serveCommand(process.argv.slice(3)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
