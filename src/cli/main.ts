/**
 * The `mapproxy-ts` command line: subcommand dispatch, usage errors and exit codes.
 * Exit codes: 0 ok, 1 failure (invalid config, cannot bind), 2 usage error.
 */
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { serveDevelop } from './serve-develop.js';
import { checkConfigCommand } from './check-config.js';

const require = createRequire(import.meta.url);
/** The package version, from package.json. */
export const VERSION: string = (require('../../package.json') as { version: string }).version;

const USAGE = `Usage: mapproxy-ts <command> [options]

Commands:
  serve-develop <mapproxy.yaml>   serve a configuration in one process (development)
  check-config <mapproxy.yaml>    validate a configuration, print every problem

Options:
  -h, --help       show help (also: mapproxy-ts <command> --help)
  -v, --version    print the version
`;

const HELP: Record<string, string> = {
  'serve-develop': `Usage: mapproxy-ts serve-develop <mapproxy.yaml> [-b host:port]

Serve a MapProxy configuration in one process, for local testing.

Options:
  -b, --bind host:port   address to listen on (default localhost:8080; a bare port means localhost)
  -h, --help             show this help
`,
  'check-config': `Usage: mapproxy-ts check-config <mapproxy.yaml>

Load and validate a configuration (including base: files) and print every problem with its
YAML path. Exit 0 when it is valid (warnings allowed), 1 when it is not.
`,
};

/** A usage error: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** Parse `host:port`, `:port` or `port` (MapProxy's -b). */
export function parseBind(value: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(value.trim());
  if (!m) throw new UsageError(`invalid --bind "${value}": expected host:port or port`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`invalid --bind "${value}": port must be 0-65535`);
  let host = m[1] || 'localhost';
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port };
}

/** Run the command line; resolves to the exit code (serve commands resolve when the server stops). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === '-v' || command === '--version') {
      process.stdout.write(`mapproxy-ts ${VERSION}\n`);
      return 0;
    }
    if (rest.includes('-h') || rest.includes('--help')) {
      const help = HELP[command];
      if (!help) throw new UsageError(`unknown command "${command}"`);
      process.stdout.write(help);
      return 0;
    }
    switch (command) {
      case 'serve-develop': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { bind: { type: 'string', short: 'b', default: 'localhost:8080' } },
          allowPositionals: true,
        });
        if (positionals.length !== 1) throw new UsageError('serve-develop needs exactly one configuration file');
        return await serveDevelop(positionals[0], parseBind(values.bind ?? 'localhost:8080'));
      }
      case 'check-config': {
        const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true });
        if (positionals.length !== 1) throw new UsageError('check-config needs exactly one configuration file');
        return await checkConfigCommand(positionals[0]);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`mapproxy-ts: ${(err as Error).message}\n\n${(command && HELP[command]) || USAGE}`);
      return 2;
    }
    throw err;
  }
}
