/**
 * The log-config file (`serve --log-config log.yaml`, written by `create -t log-config`): a small
 * YAML format, validated eagerly; every problem is reported with its YAML path in one ConfigError.
 *
 * ```yaml
 * level: info                     # default level of every logger
 * loggers:                        # per logger name (and everything below it)
 *   mapproxy.source.request: debug
 * file:                           # omit to log JSON lines to stdout
 *   path: logs/mapproxy.log       # relative to this file; one series per process (see file.ts)
 *   size: 10m                     # roll at 500k / 10m / 1g
 *   frequency: daily              # daily, hourly, or milliseconds
 *   limit: {count: 7}             # rolled files kept per process
 * access_log: true                # or {exclude: [/healthz, /readyz]}
 * pretty: false                   # human-readable lines on stdout (not with file)
 * ```
 */
import { access, constants, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, fileError, type ConfigProblem } from '../errors.js';
import { openLogFile, type LogFile, type LogFileOptions } from './file.js';
import { LEVELS, adoptDestination, closeLogging, configureLogging, ownedDestination, type LevelName } from './logger.js';

/** A validated log configuration. */
export interface LogConfig {
  readonly level: LevelName;
  readonly loggers: Readonly<Record<string, LevelName>>;
  /** Absolute `path`. Undefined: stdout. */
  readonly file: LogFileOptions | undefined;
  /** `false`, or on with extra paths never logged. */
  readonly accessLog: false | { readonly exclude: readonly string[] };
  readonly pretty: boolean;
}

/** How its errors name the file: `invalid log configuration <file>: …`. */
const LOG_CONFIGURATION = 'log configuration';

const TOP_KEYS = ['level', 'loggers', 'file', 'access_log', 'pretty'];
const FILE_KEYS = ['path', 'size', 'frequency', 'limit'];
// Python logging's names, for users coming from MapProxy's log.ini.
const ALIASES: Readonly<Record<string, LevelName>> = { warning: 'warn', critical: 'fatal', off: 'silent' };

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : isDict(v) ? 'a mapping' : JSON.stringify(v));

function unknownKeys(obj: Dict, allowed: readonly string[], prefix: string, problems: ConfigProblem[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push({ path: prefix + key, message: `unknown key (allowed: ${allowed.join(', ')})` });
  }
}

function level(v: unknown, at: string, problems: ConfigProblem[]): LevelName | undefined {
  // `off` (the alias of silent) is the boolean false in YAML 1.1, as the file is read.
  if (v === false) return 'silent';
  if (typeof v === 'string') {
    const name = v.toLowerCase();
    if ((LEVELS as readonly string[]).includes(name)) return name as LevelName;
    if (ALIASES[name]) return ALIASES[name];
  }
  problems.push({ path: at, message: `unknown level ${show(v)}; expected one of ${LEVELS.join(', ')}` });
  return undefined;
}

function fileOptions(v: unknown, dir: string, problems: ConfigProblem[]): LogFileOptions | undefined {
  if (!isDict(v)) {
    problems.push({ path: 'file', message: `expected a mapping with ${FILE_KEYS.join(', ')}, got ${show(v)}` });
    return undefined;
  }
  unknownKeys(v, FILE_KEYS, 'file.', problems);
  const before = problems.length;
  let file: string | undefined;
  if (v.path === undefined) problems.push({ path: 'file.path', message: 'missing: the log file to write' });
  else if (typeof v.path !== 'string' || v.path.trim() === '') problems.push({ path: 'file.path', message: `expected a file path, got ${show(v.path)}` });
  else file = path.resolve(dir, v.path);
  let size: string | undefined;
  if (v.size !== undefined) {
    if (typeof v.size === 'string' && /^\d+(\.\d+)?[kmg]$/i.test(v.size)) size = v.size.toLowerCase();
    else problems.push({ path: 'file.size', message: `expected a size like 500k, 10m or 1g, got ${show(v.size)}` });
  }
  let frequency: LogFileOptions['frequency'];
  if (v.frequency !== undefined) {
    if (v.frequency === 'daily' || v.frequency === 'hourly') frequency = v.frequency;
    else if (typeof v.frequency === 'number' && Number.isInteger(v.frequency) && v.frequency >= 1000) frequency = v.frequency;
    else problems.push({ path: 'file.frequency', message: `expected daily, hourly or a number of milliseconds (at least 1000), got ${show(v.frequency)}` });
  }
  let limit: LogFileOptions['limit'];
  if (v.limit !== undefined) {
    if (!isDict(v.limit)) problems.push({ path: 'file.limit', message: `expected a mapping with count, got ${show(v.limit)}` });
    else {
      unknownKeys(v.limit, ['count'], 'file.limit.', problems);
      const count = v.limit.count;
      if (typeof count === 'number' && Number.isInteger(count) && count > 0) limit = { count };
      else problems.push({ path: 'file.limit.count', message: `expected a positive whole number of files, got ${show(count)}` });
    }
  }
  if (problems.length > before || file === undefined) return undefined;
  return { path: file, size, frequency, limit };
}

function accessLog(v: unknown, problems: ConfigProblem[]): LogConfig['accessLog'] {
  if (v === undefined || v === false) return false;
  if (v === true) return { exclude: [] };
  if (!isDict(v)) {
    problems.push({ path: 'access_log', message: `expected true, false or a mapping with exclude, got ${show(v)}` });
    return false;
  }
  unknownKeys(v, ['exclude'], 'access_log.', problems);
  const exclude: string[] = [];
  if (v.exclude !== undefined && !Array.isArray(v.exclude)) {
    problems.push({ path: 'access_log.exclude', message: `expected a list of request paths, got ${show(v.exclude)}` });
  } else {
    ((v.exclude as unknown[] | undefined) ?? []).forEach((p, i) => {
      if (typeof p === 'string' && p.startsWith('/')) exclude.push(p);
      else problems.push({ path: `access_log.exclude[${i}]`, message: `expected a request path starting with /, got ${show(p)}` });
    });
  }
  return { exclude };
}

/**
 * Validate a parsed log-config document. Relative `file.path`s are relative to `dir` (the log
 * config's directory). Throws ConfigError naming every problem and `file`.
 */
export function parseLogConfig(doc: unknown, opts: { dir: string; file?: string }): LogConfig {
  const problems: ConfigProblem[] = [];
  const fail = (): never => {
    throw new ConfigError(problems, opts.file, LOG_CONFIGURATION);
  };
  if (doc === null || doc === undefined) doc = {};
  if (!isDict(doc)) {
    problems.push({ path: '', message: `expected a mapping of ${TOP_KEYS.join(', ')}, got ${show(doc)}` });
    return fail();
  }
  unknownKeys(doc, TOP_KEYS, '', problems);
  const lvl = doc.level === undefined ? 'info' : level(doc.level, 'level', problems);
  const loggers: Record<string, LevelName> = {};
  if (doc.loggers !== undefined && doc.loggers !== null) {
    if (!isDict(doc.loggers)) problems.push({ path: 'loggers', message: `expected a mapping of logger names to levels, got ${show(doc.loggers)}` });
    else {
      for (const [name, v] of Object.entries(doc.loggers)) {
        const l = level(v, `loggers.${name}`, problems);
        if (l) loggers[name] = l;
      }
    }
  }
  const file = doc.file === undefined || doc.file === null ? undefined : fileOptions(doc.file, opts.dir, problems);
  const access = accessLog(doc.access_log, problems);
  let pretty = false;
  if (doc.pretty !== undefined) {
    if (typeof doc.pretty === 'boolean') pretty = doc.pretty;
    else problems.push({ path: 'pretty', message: `expected true or false, got ${show(doc.pretty)}` });
  }
  if (pretty && doc.file !== undefined && doc.file !== null) {
    problems.push({ path: 'pretty', message: 'cannot be combined with file (log files hold JSON lines)' });
  }
  if (problems.length > 0 || lvl === undefined) return fail();
  return { level: lvl, loggers, file, accessLog: access, pretty };
}

/** `p`, or a rejection with the signal's reason once it aborts (`p` itself runs on). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  p.catch(() => undefined);
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * Read and validate a log-config file. Throws ConfigError (unreadable, YAML syntax, bad values);
 * with `signal`, a plain Error when the read did not finish before it aborted (a file system that
 * does not answer).
 */
export async function loadLogConfig(file: string, opts: { signal?: AbortSignal } = {}): Promise<LogConfig> {
  let text: string;
  try {
    // Raced, not passed to readFile: its signal is not looked at while open(2) blocks.
    text = await (opts.signal ? raceAbort(readFile(file, 'utf8'), opts.signal) : readFile(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.name === 'AbortError' || e.name === 'TimeoutError') {
      throw new Error(`cannot read the log configuration ${file}: no answer in time (is it on a file system that does not answer?)`);
    }
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new ConfigError([{ path: '', message: `cannot read it: ${why}` }], file, LOG_CONFIGURATION);
  }
  // Loaded here, not at import: a worker without --log-config never parses the YAML library.
  // The dialect of mapproxy.yaml (YAML 1.1, as PyYAML reads it): `access_log: yes` means true in
  // both files of one deployment.
  const { parseYaml } = await import('../config/yaml.js');
  let doc: unknown;
  try {
    doc = parseYaml(text, file);
  } catch (err) {
    const e = err as { reason?: string; mark?: { line: number; column: number }; message: string };
    const where = e.mark ? ` (line ${e.mark.line + 1}, column ${e.mark.column + 1})` : '';
    throw new ConfigError([{ path: '', message: `YAML syntax error: ${e.reason ?? e.message}${where}` }], file, LOG_CONFIGURATION);
  }
  return parseLogConfig(doc, { dir: path.dirname(path.resolve(file)), file });
}

const sameFile = (a: LogFileOptions, b: LogFileOptions): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Apply a validated log configuration to this process. With `file`, opens (or keeps, when the
 * file options did not change) this process's rotating log file; each process calls it itself.
 */
export async function applyLogConfig(config: LogConfig): Promise<void> {
  const base = { level: config.level, levels: config.loggers, accessLog: config.accessLog, pretty: config.pretty };
  const open = currentLogFile();
  if (!config.file) {
    configureLogging(base);
    // Awaited, so that the slot is free again when this resolves.
    await open?.close();
    return;
  }
  if (open && sameFile(open.options, config.file)) {
    configureLogging({ ...base, destination: open });
    adoptDestination(open);
    return;
  }
  // Same path, other rotation options: release the slot before claiming one for the new file
  // (meanwhile lines go to stdout). Another path: open the new file first, then close the old.
  if (open && open.options.path === config.file.path) {
    // What can be known before letting go of the open file: its directory takes a file.
    await writableLogDir(config.file.path);
    await closeLogging();
  }
  const dest = await openLogFile(config.file);
  configureLogging({ ...base, destination: dest });
  adoptDestination(dest);
}

/** Throws `cannot open the log file …` unless the directory of `file` exists (or can be made) and is writable. */
async function writableLogDir(file: string): Promise<void> {
  const dir = path.dirname(file);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw fileError('open the log file', file, err);
  }
}

/** This process's open log file (its slot and current file name), when logging to a file. */
export function currentLogFile(): LogFile | undefined {
  return ownedDestination() as LogFile | undefined;
}

/**
 * Read, validate and apply a log-config file (see the module comment for the format). Rejects
 * with ConfigError before changing anything when the file is invalid. Resolves to the config.
 */
export async function configureLoggingFromFile(file: string): Promise<LogConfig> {
  const config = await loadLogConfig(file);
  await applyLogConfig(config);
  return config;
}
