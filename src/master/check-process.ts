/**
 * The master's configuration check, run in a short-lived child process (`check-main`). Loading,
 * validating and building a configuration pulls in the schema validator (ajv compiles MapProxy's
 * schema into some 25 MiB of heap), the image library and every service; none of it is ever freed
 * back to the system. Checked in a child, the master keeps only logging, metrics and node:cluster:
 * about 55 MiB of RSS instead of about 130 with the rig's configuration. The child also reports
 * the versions `mapproxy.system` logs, so the master does not load libvips for them either.
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

/** The check process's entry next to this module, in src/ (tsx) or dist/. */
function checkEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./check-main${extname(self)}`, import.meta.url));
}

/**
 * `checkServeConfig(file, multiapp)` in a child process. Rejects with the same `ConfigError` (every
 * problem, with YAML paths) when the configuration is invalid, and with an Error naming the child's
 * exit when it dies without an answer (out of memory, killed).
 */
export function checkConfigInChild(file: string, multiapp: boolean): Promise<ChildCheck> {
  return new Promise((resolve, reject) => {
    // The master's own Node options (tsx's loader in development); stdout ignored: warnings are
    // logged by the workers when they build the app, once per worker as before. stderr is kept,
    // so a crash of the check shows in the master's journal.
    const child = fork(checkEntry(), [file, multiapp ? 'multiapp' : 'single'], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // 'advanced': the configuration is cloned, not JSON-encoded (YAML's .inf and .nan).
      serialization: 'advanced',
    });
    let reply: CheckReply | undefined;
    child.once('message', (m) => {
      reply = m as CheckReply;
    });
    child.once('error', (err) => reject(new Error(`could not start the configuration check: ${err.message}`)));
    child.once('exit', (code, signal) => {
      const r = reply;
      if (r === undefined) {
        reject(new Error(`the configuration check (pid ${child.pid}) ended without an answer (${signal ?? `exit code ${code}`})`));
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
