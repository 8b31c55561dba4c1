/**
 * Logging: one pino root logger and named child loggers as MapProxy names them
 * (`mapproxy.system`, `mapproxy.config`, `mapproxy.source.request`, …). The root is configured
 * once per process with `configureLogging`; until then loggers write JSON at `info` to stdout.
 * Hot paths check `logger.isLevelEnabled` before building log objects.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

let root: Logger = pino({ level: process.env.MAPPROXY_LOG_LEVEL ?? 'info' });
const named = new Map<string, Logger>();
let levels: Record<string, string> = {};

/** Options for the process-wide logger. */
export interface LoggingOptions {
  /** Default level (`info`). */
  readonly level?: string;
  /** Per-logger levels, by name prefix: `{ 'mapproxy.source.request': 'warn' }`. */
  readonly levels?: Readonly<Record<string, string>>;
  /** Where to write; default stdout. */
  readonly destination?: DestinationStream;
  readonly pinoOptions?: LoggerOptions;
}

/** Replace the root logger. Existing named loggers are re-created on next `getLogger` call. */
export function configureLogging(opts: LoggingOptions = {}): void {
  const options: LoggerOptions = { level: opts.level ?? 'info', ...opts.pinoOptions };
  root = opts.destination ? pino(options, opts.destination) : pino(options);
  levels = { ...opts.levels };
  named.clear();
}

function levelFor(name: string): string | undefined {
  let best: string | undefined;
  let bestLen = -1;
  for (const [prefix, level] of Object.entries(levels)) {
    if ((name === prefix || name.startsWith(prefix + '.')) && prefix.length > bestLen) {
      best = level;
      bestLen = prefix.length;
    }
  }
  return best;
}

/** A named logger (`mapproxy.source.request`); the name is written as the `name` field. */
export function getLogger(name: string): Logger {
  let log = named.get(name);
  if (!log) {
    const level = levelFor(name);
    log = root.child({ name }, level ? { level } : undefined);
    named.set(name, log);
  }
  return log;
}
