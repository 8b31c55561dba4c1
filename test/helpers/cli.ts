/**
 * Entry point for tests that need the real command line in a child process:
 * `node --import tsx test/helpers/cli.ts serve-develop <config> -b 127.0.0.1:0`.
 */
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
