/**
 * The `mapproxy-ts` command line: subcommand dispatch, usage errors and exit codes.
 * Exit codes: 0 ok, 1 failure (invalid config, cannot bind), 2 usage error; `serve` exits 78 for an
 * invalid configuration (EXIT_INVALID_CONFIG, see src/cli/serve.ts).
 * Subcommands are imported only when run, so `--help` and `--version` answer without loading
 * sharp, undici and the whole service tree.
 */
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { bindHost } from '../app/listen.js';
import { endParentWait } from '../master/notify.js';

const require = createRequire(import.meta.url);
/** The package version, from package.json. */
export const VERSION: string = (require('../../package.json') as { version: string }).version;

const USAGE = `Usage: mapproxy-ts <command> [options]

Commands:
  serve <mapproxy.yaml>           the production server: a master and pre-forked workers
  serve-develop <mapproxy.yaml>   serve a configuration in one process (development)
  serve-multiapp-develop <dir>    serve every <dir>/<name>.yaml under /<name>/ (development)
  check-config <mapproxy.yaml>    validate a configuration, print every problem
  create -t <template> <dest>     write a starting file (base-config, seed-config, log-config,
                                  app, pm2, systemd)

Options:
  -h, --help       show help (also: mapproxy-ts <command> --help)
  -v, --version    print the version
`;

/** The help of the commands main.ts parses itself, by command. */
export const HELP: Readonly<Record<string, string>> = {
  'serve-develop': `Usage: mapproxy-ts serve-develop <mapproxy.yaml> [options]

Serve a MapProxy configuration in one process, for local testing. The configuration (and
every base: file) is reloaded when it changes; an invalid edit keeps the old one serving.

Options:
  -b, --bind address   where to listen (default 127.0.0.1:8080): host:port, [ipv6]:port,
                       port (on localhost), :port (on all interfaces) or host (port 8080)
      --log-format F   pretty (human-readable) or json log lines (default: pretty on a
                       terminal, json otherwise)
      --debug          answer internal errors (500) with their stack trace instead of
                       "internal error" (development only: it shows the server's internals)
      --health-path P  where liveness answers (default /healthz); off: nowhere
      --ready-path P   where readiness answers (default /readyz); off: nowhere
      --metrics-path P
                       where the Prometheus metrics answer (default /metrics); off: nowhere
  -h, --help           show this help
`,
  'check-config': `Usage: mapproxy-ts check-config <mapproxy.yaml>

Load and validate a configuration (including base: files) and print every problem with its
YAML path. Exit 0 when it is valid (warnings allowed), 1 when it is not.
`,
};

/** A usage error: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/**
 * Node's parseArgs errors in our words (its own texts are long, vary by Node version and quote
 * unevenly): `unknown option --bogus`, `option -b, --bind needs a value`, `option --debug takes
 * no value`. Undefined for any other error.
 */
export function parseArgsMessage(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code !== 'string' || !e.code.startsWith('ERR_PARSE_ARGS')) return undefined;
  const text = typeof e.message === 'string' ? e.message : '';
  const quoted = /'([^']*)'/.exec(text)?.[1]?.replace(/ <value>$/, '');
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return quoted ? `unknown option ${quoted}` : 'unknown option';
  if (quoted && / argument missing/.test(text)) return `option ${quoted} needs a value`;
  if (quoted && / argument is ambiguous/.test(text)) {
    // `-b -x`: Node will not take an option-like word as the value unless written --bind=-x.
    const long = /'(--[^'=]+)=-XYZ'/.exec(text)?.[1];
    return `option ${quoted} needs a value${long ? ` (write ${long}=-x for a value that starts with "-")` : ''}`;
  }
  if (quoted && / does not take an argument/.test(text)) return `option ${quoted} takes no value`;
  return `invalid arguments: ${text.split('\n')[0]}`;
}

/** What `negativeValues` needs of parseArgs' option table. */
type OptionTable = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>>;

/**
 * `args` with a negative number after an option that takes a value joined to it (`--workers -1`
 * becomes `--workers=-1`, `-w -1` becomes `-w-1`), so the option's own check rejects the number
 * in its words (`invalid --workers "-1": expected a whole number of at least 1`). Node's parseArgs
 * takes no value that starts with "-" and would say the value is missing. Python's argparse,
 * MapProxy's, takes a negative number as a value the same way.
 */
export function negativeValues(args: readonly string[], options: OptionTable): string[] {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (o.short !== undefined) takesValue.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (takesValue.has(args[i]) && next !== undefined && /^-\d+(\.\d+)?$/.test(next)) {
      // `--workers=-1`, `-w-1`: parseArgs reads both as the option with that value.
      out.push(args[i].startsWith('--') ? `${args[i]}=${next}` : `${args[i]}${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
    if (args[i] === '--') {
      out.push(...args.slice(i + 1));
      break;
    }
  }
  return out;
}

/**
 * Where serve-develop, serve-multiapp-develop and serve listen without -b: MapProxy's
 * `mapproxy-util serve-develop` and `serve-multiapp-develop` default to 127.0.0.1:8080. (Not
 * `localhost`: Node listens on the first address the name resolves to, and with the usual hosts
 * file, which lists both, glibc puts ::1 first: nothing would answer on 127.0.0.1:8080.)
 */
export const DEFAULT_BIND: { readonly host: string; readonly port: number } = Object.freeze({ host: '127.0.0.1', port: 8080 });
/** The host of a bare `-b <port>` (MapProxy's parse_bind_address). */
const DEFAULT_HOST = 'localhost';
const DEFAULT_PORT = 8080;

/** A host name (RFC 1123 labels) or an IPv4 address. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parse a `-b` address the way MapProxy's serve-develop does: `port` → localhost:port,
 * `host:port`, `:port` → every interface (host `''`), `host` → host:8080; IPv6 hosts in brackets
 * (`[::1]:8080`). `localhost` is listened on as 127.0.0.1 (see `bindHost`). gunicorn reads its
 * `-b` the same way. Throws UsageError naming `--<option>` for anything else.
 */
export function parseBind(value: string, option = 'bind'): { host: string; port: number } {
  const bad = (why: string): UsageError => new UsageError(`invalid --${option} "${value}": ${why}`);
  const v = value.trim();
  if (/^\d+$/.test(v)) return { host: bindHost(DEFAULT_HOST), port: portNumber(v, bad) };
  if (!v.startsWith('[') && (v.match(/:/g) ?? []).length > 1) throw bad('an IPv6 address needs brackets, as in [::1]:8080');
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(.*))?$/.exec(v);
  if (!m) throw bad('expected host:port, [ipv6]:port, :port, port or host');
  let host = m[1];
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) throw bad(`"${host}" is not an IPv6 address`);
  } else if (host !== '' && !HOST_NAME.test(host)) {
    throw bad(`"${host}" is not a host name or address`);
  }
  if (m[2] === undefined) {
    if (host === '') throw bad('expected host:port, [ipv6]:port, :port, port or host');
    return { host: bindHost(host), port: DEFAULT_PORT };
  }
  return { host: bindHost(host), port: portNumber(m[2], bad) };
}

function portNumber(s: string, bad: (why: string) => UsageError): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw bad(`port must be a number 0-65535 (got "${s}")`);
  return Number(s);
}

/**
 * serve-develop's log lines: `--log-format` when given, else `MAPPROXY_LOG_FORMAT`, else pretty
 * on a terminal and JSON otherwise (a pipe, a file, a test reading the lines).
 */
export async function developLogFormat(flag: string | undefined): Promise<void> {
  const { LOG_FORMAT_ENV, parseLogFormat, setLogFormat } = await import('../log/index.js');
  if (flag !== undefined) {
    const format = parseLogFormat(flag);
    if (!format) throw new UsageError(`invalid --log-format "${flag}": expected json or pretty`);
    setLogFormat(format);
  } else if (parseLogFormat(process.env[LOG_FORMAT_ENV]) === undefined) {
    setLogFormat(process.stdout.isTTY === true ? 'pretty' : 'json');
  }
}

/** Run the command line; resolves to the exit code (serve commands resolve when the server stops). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) throw new UsageError('no command given');
    if (command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (command === '-v' || command === '--version') {
      process.stdout.write(`mapproxy-ts ${VERSION}\n`);
      return 0;
    }
    // These parse their own options and print their own --help.
    if (command === 'serve') {
      const { serveCommand } = await import('./serve.js');
      return await serveCommand(rest);
    }
    if (command === 'serve-multiapp-develop') {
      const { serveMultiappDevelopCommand } = await import('./serve-multiapp-develop.js');
      return await serveMultiappDevelopCommand(rest);
    }
    if (command === 'create') {
      const { createCommand } = await import('./create.js');
      return await createCommand(rest);
    }
    const help = HELP[command];
    if (!help) throw new UsageError(`unknown command "${command}"`);
    if (rest.includes('-h') || rest.includes('--help')) {
      process.stdout.write(help);
      return 0;
    }
    switch (command) {
      case 'serve-develop': {
        const options = {
          bind: { type: 'string', short: 'b' },
          'log-format': { type: 'string' },
          debug: { type: 'boolean' },
          'health-path': { type: 'string' },
          'ready-path': { type: 'string' },
          'metrics-path': { type: 'string' },
        } as const;
        const { values, positionals } = parseArgs({ args: negativeValues(rest, options), options, allowPositionals: true });
        if (positionals.length !== 1) throw new UsageError('serve-develop needs exactly one configuration file');
        const bind = values.bind === undefined ? DEFAULT_BIND : parseBind(values.bind);
        const { parseOperationalFlags } = await import('../app/operational-paths.js');
        const observability = parseOperationalFlags(values, (m) => new UsageError(m));
        await developLogFormat(values['log-format']);
        const { serveDevelop } = await import('./serve-develop.js');
        return await serveDevelop(positionals[0], bind, { debug: values.debug === true, observability });
      }
      case 'check-config': {
        const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true });
        if (positionals.length !== 1) throw new UsageError('check-config needs exactly one configuration file');
        const { checkConfigCommand } = await import('./check-config.js');
        return await checkConfigCommand(positionals[0]);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    const why = err instanceof UsageError ? err.message : parseArgsMessage(err);
    if (why !== undefined) {
      process.stderr.write(`mapproxy-ts: ${why}\n\n${(command && HELP[command]) || USAGE}`);
      return 2;
    }
    throw err;
  }
}

/**
 * Run the command line as the `mapproxy-ts` executable does: the process ends with `main`'s exit
 * code, and a failure nobody foresaw is one line on stderr. It ends even when its host keeps
 * handles open: pm2's cluster mode runs the program inside a node:cluster worker of its own, whose
 * IPC channel and timers would hold a finished (or refused) `serve` alive for good, shown online.
 */
export function runCommandLine(argv: string[]): void {
  const end = (code: number): void => {
    process.exitCode = code;
    // Unreferenced: with nothing else open the process ends at once, without waiting for it.
    const exit = (): void => void setTimeout(() => process.exit(code), 1000).unref();
    // Any failure (a usage error, an invalid --log-config or configuration, a crash loop): pm2,
    // when it waits for 'ready' (wait_ready), learns that the start is over.
    if (code === 0) exit();
    else void endParentWait().then(exit, exit);
  };
  main(argv).then(end, (err: unknown) => {
    process.stderr.write(`mapproxy-ts: ${err instanceof Error ? err.message : String(err)}\n`);
    end(1);
  });
}
