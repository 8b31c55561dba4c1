/**
 * The master's configuration check, run in a short-lived child process (`check-main`). Loading,
 * validating and building a configuration pulls in the config code, the image library and every
 * service; none of it is ever freed back to the system. Checked in a child, the master keeps only
 * logging, metrics and node:cluster: about 57 MiB of RSS instead of about 130 with the rig's
 * configuration. The child also reports the versions `mapproxy.system` logs, so the master does not
 * load libvips for them either.
 */
import { fork } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { SystemInfo } from '../log/index.js';
import type { ServeConfigCheck } from './validate.js';

/** What the check process sends back (one message, then it exits). */
export type CheckReply =
  | { readonly ok: true; readonly check: ServeConfigCheck; readonly system: SystemInfo }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly file?: string }
  | { readonly ok: false; readonly error: string };

/** What a successful check in the child read, and the versions of the libraries it loaded. */
export interface ChildCheck {
  readonly check: ServeConfigCheck;
  readonly system: SystemInfo;
}

/** Options of `checkConfigInChild`. */
export interface ChildCheckOptions {
  /** Kill the check after this long (default `CHECK_TIMEOUT_MS`). */
  readonly timeoutMs?: number;
  /** Kill the check when this aborts (the master is stopping). */
  readonly signal?: AbortSignal;
}

/**
 * How long a check may take. A valid check takes about half a second; one that takes a minute
 * waits on something that does not answer (a configuration file on a hung network file system, a
 * FIFO), and would otherwise hold every later reload behind it.
 */
export const CHECK_TIMEOUT_MS = 60_000;

/** The check process's entry next to this module, in src/ (tsx) or dist/. */
function checkEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./check-main${extname(self)}`, import.meta.url));
}

/**
 * The master's Node options for the check process, without the inspector's: the master's port is
 * taken (and `--inspect-brk` would wait for a debugger at every check).
 */
export function checkExecArgv(execArgv: readonly string[]): string[] {
  return execArgv.filter((a) => !/^--(inspect|inspect-brk|inspect-wait|inspect-port|debug-port)(=|$)/.test(a));
}

/**
 * `checkServeConfig(file, multiapp)` in a child process. Rejects with the same `ConfigError` (every
 * problem, with YAML paths) when the configuration is invalid; with an Error saying so when the
 * check is killed for its time limit or by `signal`, or dies without an answer (out of memory).
 */
export function checkConfigInChild(file: string, multiapp: boolean, opts: ChildCheckOptions = {}): Promise<ChildCheck> {
  const timeoutMs = opts.timeoutMs ?? CHECK_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new Error('the configuration check was stopped'));
      return;
    }
    const env = { ...process.env };
    // Only the master speaks to systemd.
    delete env.NOTIFY_SOCKET;
    // stdout ignored: warnings are logged by the workers when they build the app, once per worker
    // as before. stderr is kept, so a crash of the check shows in the master's journal.
    const child = fork(checkEntry(), [file, multiapp ? 'multiapp' : 'single'], {
      execArgv: checkExecArgv(process.execArgv),
      env,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // 'advanced': the configuration is cloned, not JSON-encoded (YAML's .inf and .nan).
      serialization: 'advanced',
    });
    let reply: CheckReply | undefined;
    let killedFor: 'timeout' | 'stop' | undefined;
    const kill = (why: 'timeout' | 'stop'): void => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    const onAbort = (): void => kill('stop');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('message', (m) => {
      reply = m as CheckReply;
    });
    child.once('error', (err) => {
      if (child.pid === undefined) reject(new Error(`could not start the configuration check: ${err.message}`));
    });
    // 'close', not 'exit': by then the IPC channel has closed too, its messages read.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      const r = reply;
      if (r === undefined) {
        if (killedFor === 'timeout') {
          reject(new Error(`the configuration check did not finish within ${timeoutMs / 1000} s (is a file of the configuration on a file system that does not answer?)`));
        } else if (killedFor === 'stop') {
          reject(new Error('the configuration check was stopped'));
        } else {
          reject(new Error(`the configuration check (pid ${child.pid}) ended without an answer (${signal ?? `exit code ${code}`})`));
        }
      } else if (r.ok) {
        resolve({ check: r.check, system: r.system });
      } else if ('problems' in r) {
        reject(new ConfigError(r.problems, r.file));
      } else {
        reject(new Error(`the configuration check failed: ${r.error}`));
      }
    });
  });
}
