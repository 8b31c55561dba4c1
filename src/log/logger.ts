/**
 * The process-wide pino root and its named loggers (`mapproxy.system`, `mapproxy.source.request`,
 * …). A named logger is created once and kept for the life of the process, so a module may hold
 * it in a module-level constant: `configureLogging` re-targets every existing logger (its level
 * and the stream it writes to) instead of replacing it. Hot paths check `isLevelEnabled` before
 * building log objects; pino itself serialises nothing below a logger's level.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import { prettyStream } from './pretty.js';

/** The level names pino knows, most verbose first. */
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** One of pino's level names. */
export type LevelName = (typeof LEVELS)[number];

/** How lines on stdout look: JSON (the default) or human-readable (`formatPretty`). */
export type LogFormat = 'json' | 'pretty';

/**
 * The environment variable that fixes the format of stdout for a process and the processes it
 * starts (`serve --log-format` sets it for its workers); `json` or `pretty`.
 */
export const LOG_FORMAT_ENV = 'MAPPROXY_LOG_FORMAT';

/** `json` or `pretty` (any case), else undefined. */
export function parseLogFormat(value: string | undefined): LogFormat | undefined {
  const v = value?.trim().toLowerCase();
  return v === 'json' || v === 'pretty' ? v : undefined;
}

/** The logger that writes the access log (see `createAccessLog`). */
export const ACCESS_LOGGER = 'mapproxy.access';

/** Options for the process-wide logger. */
export interface LoggingOptions {
  /** Default level (`info`). */
  readonly level?: string;
  /**
   * Per-logger levels, by name prefix: `{ 'mapproxy.source': 'warn' }` also sets
   * `mapproxy.source.wms`; the longest matching prefix wins.
   */
  readonly levels?: Readonly<Record<string, string>>;
  /** Where to write; default stdout (JSON lines). */
  readonly destination?: DestinationStream;
  /**
   * Human-readable lines instead of JSON (serve-develop). Written to `destination` when given,
   * else to stdout (where a format set by `setLogFormat` or `MAPPROXY_LOG_FORMAT` wins).
   */
  readonly pretty?: boolean;
  /**
   * The access log on `mapproxy.access`: off by default. `true` turns it on; an object turns it on
   * and adds request paths never logged (besides the ones the server passes to `createAccessLog`).
   * A level set for `mapproxy.access` in `levels` still applies; otherwise it logs at `info`.
   */
  readonly accessLog?: boolean | { readonly exclude?: readonly string[] };
  /**
   * Extra pino options. They need a new root: loggers returned by `getLogger` after this call use
   * them; loggers obtained before keep their formatting but still follow levels and destination.
   */
  readonly pinoOptions?: LoggerOptions;
}

/** A destination this module opened and must close when it is replaced (a rotated log file). */
export interface OwnedDestination extends DestinationStream {
  close(): Promise<void>;
}

let stdoutStream: DestinationStream | undefined;
// Synchronous, as pino's default: a line is out before the next statement (and before an exit).
const stdout = (): DestinationStream => (stdoutStream ??= pino.destination({ fd: 1, sync: true }));

// The format stdout is held to (command line or environment), whatever configureLogging asks.
let forcedFormat: LogFormat | undefined = parseLogFormat(process.env[LOG_FORMAT_ENV]);
// What the last configureLogging asked for: its destination (undefined: stdout) and pretty.
let destination: DestinationStream | undefined;
let prettyWanted = false;

function target(): DestinationStream {
  const out = destination ?? stdout();
  // A forced format applies to stdout only: log files always hold JSON lines.
  const pretty = destination === undefined && forcedFormat !== undefined ? forcedFormat === 'pretty' : prettyWanted;
  return pretty ? prettyStream(out) : out;
}

let current: DestinationStream = target();
let owned: OwnedDestination | undefined;
// Every logger writes through this one stream, so re-targeting output is one assignment.
const sink: DestinationStream = { write: (line: string) => void current.write(line) };

let defaultLevel: string = process.env.MAPPROXY_LOG_LEVEL ?? 'info';
let root: Logger = pino({ level: defaultLevel }, sink);
const named = new Map<string, Logger>();
let levels: Record<string, string> = {};
let access: { enabled: boolean; exclude: ReadonlySet<string> } = { enabled: false, exclude: new Set() };

function levelFor(name: string): string {
  let best: string | undefined;
  let bestLen = -1;
  for (const [prefix, level] of Object.entries(levels)) {
    if ((name === prefix || name.startsWith(prefix + '.')) && prefix.length > bestLen) {
      best = level;
      bestLen = prefix.length;
    }
  }
  if (name === ACCESS_LOGGER) {
    if (!access.enabled) return 'silent';
    return best ?? 'info';
  }
  return best ?? defaultLevel;
}

/**
 * Configure the process-wide logger: default level, per-logger levels, destination, pretty output
 * and the access log. Every call starts from the defaults (a call with no options restores
 * JSON at `info` on stdout). A log file opened by `configureLoggingFromFile` is closed when it is
 * replaced.
 */
export function configureLogging(opts: LoggingOptions = {}): void {
  for (const [name, level] of Object.entries({ '': opts.level, ...opts.levels })) {
    if (level !== undefined && !(LEVELS as readonly string[]).includes(level)) {
      throw new TypeError(`unknown log level "${level}"${name ? ` for ${name}` : ''} (allowed: ${LEVELS.join(', ')})`);
    }
  }
  if (owned && owned !== opts.destination) {
    const old = owned;
    owned = undefined;
    void old.close();
  }
  destination = opts.destination;
  prettyWanted = opts.pretty === true;
  current = target();
  defaultLevel = opts.level ?? 'info';
  levels = { ...opts.levels };
  const acc = opts.accessLog;
  access = { enabled: acc !== undefined && acc !== false, exclude: new Set(typeof acc === 'object' ? (acc.exclude ?? []) : []) };
  if (opts.pinoOptions) {
    for (const [name, log] of named) log.level = levelFor(name);
    root = pino({ ...opts.pinoOptions, level: defaultLevel }, sink);
    named.clear();
  } else {
    root.level = defaultLevel;
    for (const [name, log] of named) log.level = levelFor(name);
  }
}

/** Hand over a destination this module closes when it is replaced or at `closeLogging`. */
export function adoptDestination(dest: OwnedDestination): void {
  owned = dest;
}

/** The destination this module owns now (the open log file), if any. */
export function ownedDestination(): OwnedDestination | undefined {
  return owned;
}

/**
 * Stop writing to a log file (flushing it and releasing its per-process name) and go back to
 * stdout, keeping levels. Call before a process exits on purpose.
 */
export async function closeLogging(): Promise<void> {
  const old = owned;
  owned = undefined;
  destination = undefined;
  current = target();
  if (old) await old.close();
}

/**
 * Hold stdout to `format` from now on (`--log-format`), over the `pretty` of `configureLogging`
 * and log-config files, and pass it on to child processes through `MAPPROXY_LOG_FORMAT`.
 * `undefined` lets `configureLogging` decide again.
 */
export function setLogFormat(format: LogFormat | undefined): void {
  forcedFormat = format;
  if (format === undefined) delete process.env[LOG_FORMAT_ENV];
  else process.env[LOG_FORMAT_ENV] = format;
  current = target();
}

/** A named logger (`mapproxy.source.request`); the name is written as the `name` field. */
export function getLogger(name: string): Logger {
  let log = named.get(name);
  if (!log) {
    log = root.child({ name }, { level: levelFor(name) });
    named.set(name, log);
  }
  return log;
}

/** Is the access log on, and the request paths it never logs (from the configuration). */
export function accessLogState(): { readonly enabled: boolean; readonly exclude: ReadonlySet<string> } {
  return access;
}
