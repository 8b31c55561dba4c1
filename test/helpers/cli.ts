/**
 * Entry point for tests that need the real command line in a child process:
 * `node --import tsx test/helpers/cli.ts serve-develop <config> -b 127.0.0.1:0`. Ends the way
 * bin/mapproxy-ts.js does (`runCommandLine`).
 */
import { runCommandLine } from '../../src/cli/main.js';

runCommandLine(process.argv.slice(2));
