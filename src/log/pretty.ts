/**
 * Human-readable log lines for serve-develop: a small formatter of pino's JSON lines, so pretty
 * output needs no run-time dependency (pino-pretty is a development tool here). Only lines that
 * pass their logger's level reach it, so it never formats what is not printed.
 *
 *   14:03:07.412 INFO  mapproxy.system: serving on http://localhost:8080/  port=8080
 *
 * Under `serve --log-format pretty` the master and its workers write to one stdout, so their
 * lines carry the process id, as gunicorn's do:
 *
 *   14:03:07.412 INFO  [4711] mapproxy.worker: listening  fastLane=true …
 */
import cluster from 'node:cluster';
import type { DestinationStream } from 'pino';

const LABELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Readonly<Record<number, string>> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
// Fields every line has, shown in the fixed part of the line or not at all.
const FIXED = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

const pad2 = (n: number): string => String(n).padStart(2, '0');

function clock(time: unknown): string {
  const d = typeof time === 'number' ? new Date(time) : new Date();
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** Whether this process's pretty lines show its pid: in a `serve` worker, or its master (`showPids`). */
let pids = cluster.isWorker;

/** Show the pid in this process's pretty lines (the `serve` master: its workers do by themselves). */
export function showPids(): void {
  pids = true;
}

/**
 * Format one pino JSON line as `time LEVEL name: message  key=value …` (with the stack of an
 * `err` field on the following lines), with `[pid] ` before the name when `withPid`. A line that
 * is not JSON is returned unchanged.
 */
export function formatPretty(line: string, color = false, withPid = false): string {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : line + '\n';
  }
  const level = typeof obj.level === 'number' ? obj.level : 30;
  let label = (LABELS[level] ?? String(level)).padEnd(5);
  if (color) label = `\x1b[${COLORS[level] ?? '0'}m${label}\x1b[0m`;
  const pid = withPid && typeof obj.pid === 'number' ? `[${obj.pid}] ` : '';
  let out = `${clock(obj.time)} ${label} ${pid}${typeof obj.name === 'string' ? obj.name + ': ' : ''}${typeof obj.msg === 'string' ? obj.msg : ''}`;
  let stack: string | undefined;
  const extras: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (FIXED.has(k) || v === undefined) continue;
    const err = v as { stack?: unknown; message?: unknown };
    if (k === 'err' && v && typeof v === 'object' && typeof err.stack === 'string') {
      stack = err.stack;
      extras.push(`err=${value(err.message)}`);
    } else {
      extras.push(`${k}=${value(v)}`);
    }
  }
  if (extras.length > 0) out += `  ${color ? `\x1b[2m${extras.join(' ')}\x1b[0m` : extras.join(' ')}`;
  if (stack) out += '\n    ' + stack.split('\n').join('\n    ');
  return out + '\n';
}

/**
 * A destination that writes `formatPretty` lines to `target`. Colours only when `target` is the
 * standard output, it is a terminal and `NO_COLOR` is not set (unless `color` says otherwise).
 */
export function prettyStream(target: DestinationStream, opts: { color?: boolean } = {}): DestinationStream {
  const color =
    opts.color ?? ((target as { fd?: unknown }).fd === 1 && process.stdout.isTTY === true && !process.env.NO_COLOR);
  return { write: (line: string) => void target.write(formatPretty(line, color, pids)) };
}
