/**
 * Run the `serve` cluster in a child process for tests (`node --import tsx
 * test/helpers/serve-cli.ts serve <config> -b 127.0.0.1:0 …`), learn its port from the master's
 * `ready` log line, and follow its JSON log: which workers listen, which exited, what was logged.
 * The child has an IPC channel, as under pm2, so the `'ready'` message is observed too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempConfig } from './server.js';
import { startUpstream, type Upstream } from './upstream.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown> & { msg?: string; name?: string; pid?: number };

/** A running (or finished) `serve` master. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** The master's pid. */
  readonly pid: number;
  /** Set once the master logged `ready` (`startServe` waits for it unless told not to). */
  port: number;
  url: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** JSON lines of stdout so far, in order. */
  logs(): LogLine[];
  /** How many `'ready'` IPC messages the master sent to this (its parent) process. */
  readyMessages(): number;
  /**
   * The first log line at index `from` or later that `match` accepts; rejects after `timeoutMs`
   * with the output so far (and at once if the master exits first and its output has been read).
   */
  waitForLog(match: (line: LogLine) => boolean, opts?: { from?: number; timeoutMs?: number }): Promise<LogLine>;
  /** Resolves with the exit code and signal of the master, once all its output has been read. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Pids of workers that logged `worker listening` and since then neither drain nor exited. */
  listeningWorkers(): number[];
  /** SIGKILL the master's process group: the master and its workers, also once the master is gone. */
  kill(): Promise<void>;
}

/** Options of `startServe`. */
export interface StartServeOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Wait for the `ready` log line (default true). */
  readonly waitReady?: boolean;
  readonly timeoutMs?: number;
  /** A command that execs the rest, put before node (e.g. `['prlimit', '--nofile=160:160', '--']`). */
  readonly wrap?: readonly string[];
}

/**
 * SIGKILL the process group led by `pid` (a `serve` master started by `startServe`): the master,
 * its workers and its configuration check, also workers left draining after the master died
 * (they stay in its group). Never with an unknown pid: `kill(-0)` would be this process's group.
 */
function killGroup(pid: number | undefined): void {
  if (pid === undefined || pid <= 0) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // nobody left in the group
  }
}

/** Whether the process group led by `pid` still has a member. */
function groupAlive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Groups of masters started here and not killed yet: gone with this process, whatever ends it. */
const groups = new Set<number>();
process.on('exit', () => {
  for (const pid of groups) killGroup(pid);
});

/**
 * Start `serve <configFile> -b 127.0.0.1:0 <args>` (pass `-b` in args to override). Resolves once
 * the master logged `ready`, or at once with `waitReady: false`.
 */
export async function startServe(configFile: string, args: readonly string[] = [], opts: StartServeOptions = {}): Promise<ServeProcess> {
  const bind = args.includes('-b') || args.includes('--bind') ? [] : ['-b', '127.0.0.1:0'];
  const argv = [process.execPath, '--import', 'tsx', join(ROOT, 'test/helpers/serve-cli.ts'), 'serve', configFile, ...bind, ...args];
  const [command, ...rest] = [...(opts.wrap ?? []), ...argv];
  const child = spawn(command, rest, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // A process group of its own, so that `kill()` reaches every process of the cluster.
    detached: true,
  });
  if (child.pid !== undefined) groups.add(child.pid);
  // Once the master and everyone holding its output are gone, forget the group: its number may
  // lead another group later.
  child.once('close', () => {
    if (!groupAlive(child.pid)) groups.delete(child.pid ?? 0);
  });
  let out = '';
  let partial = '';
  const lines: LogLine[] = [];
  let ready = 0;
  const waiters = new Set<() => void>();
  const wake = () => { for (const w of [...waiters]) w(); };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        // not a log line
      }
    }
    wake();
  });
  child.stderr!.on('data', (d: string) => { out += d; });
  child.on('message', (m) => { if (m === 'ready') ready++; });
  // 'close', not 'exit': Node may emit 'exit' before the last output is read from the pipes, and a
  // test that reads output() or logs() once the master exited must see all of it. 'close' comes once
  // the master exited and every process holding its stdout and stderr (its workers) closed them.
  let closed = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      closed = true;
      resolve({ code, signal });
      wake();
    });
  });

  const proc: ServeProcess = {
    child,
    pid: child.pid ?? 0,
    port: 0,
    url: '',
    output: () => out,
    logs: () => lines,
    readyMessages: () => ready,
    exited: () => exit,
    waitForLog(match, { from = 0, timeoutMs = 30_000 } = {}) {
      return new Promise<LogLine>((resolve, reject) => {
        const check = (): void => {
          for (let i = from; i < lines.length; i++) {
            if (match(lines[i])) {
              done();
              resolve(lines[i]);
              return;
            }
          }
          if (closed) {
            done();
            reject(new Error(`serve exited (${child.exitCode ?? child.signalCode}) before the expected log line:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching log line within ${timeoutMs} ms:\n${out}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    listeningWorkers() {
      const live = new Set<number>();
      for (const l of lines) {
        if (l.name !== 'mapproxy.master' || typeof l.workerPid !== 'number') continue;
        if (l.msg === 'worker listening') live.add(l.workerPid);
        if (l.msg === 'worker stopped' || l.msg === 'worker died' || l.msg === 'draining a worker') live.delete(l.workerPid);
      }
      return [...live];
    },
    async kill() {
      const running = child.exitCode === null && child.signalCode === null;
      killGroup(child.pid);
      groups.delete(child.pid ?? 0);
      if (running) await once(child, 'exit');
    },
  };
  if (opts.waitReady === false) return proc;
  try {
    const line = await proc.waitForLog((l) => l.msg === 'ready', { timeoutMs: opts.timeoutMs ?? 60_000 });
    proc.port = Number(line.port);
    proc.url = `http://127.0.0.1:${proc.port}`;
  } catch (err) {
    await proc.kill();
    throw err;
  }
  return proc;
}

/**
 * Whether a process with this pid exists and has not exited: a zombie (exited, not yet reaped, as
 * an orphaned worker can stay where PID 1 does not reap) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // The state follows the command name in parentheses, which may itself contain ') '.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The pid of a child of `masterPid` other than `known` (a worker it forks to replace one), as soon
 * as it exists: polled in /proc, so a test can act on it long before it listens. Any new child:
 * during a reload (SIGHUP) that may be the configuration check process instead.
 */
export async function newChildOf(masterPid: number, known: readonly number[]): Promise<number> {
  let found = 0;
  await waitFor(() => {
    const children = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'latin1').trim().split(/\s+/).map(Number);
    found = children.find((pid) => pid > 0 && !known.includes(pid)) ?? 0;
    return found > 0;
  }, `a new child of ${masterPid}`);
  return found;
}

/** Poll `cond` every 25 ms until it is true; rejects with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A stand-in for systemd's notify socket: a Unix datagram socket (Python, as Node has none). */
export interface NotifyListener {
  /** The socket path, for `NOTIFY_SOCKET`. */
  readonly path: string;
  /** Messages received so far, one string per datagram, fields joined by spaces. */
  messages(): string[];
  close(): Promise<void>;
}

const NOTIFY_LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
while True:
    print(s.recv(4096).decode().strip().replace('\\n', ' '), flush=True)
`;

/** Listen on `<dir>/notify.sock` like systemd does for a Type=notify service. */
export async function startNotifyListener(dir: string): Promise<NotifyListener> {
  const path = join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', NOTIFY_LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`notify listener exited with ${code}`)));
    child.stdout.on('data', (d: string) => {
      partial += d;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) {
        if (p === 'listening') resolve();
        else lines.push(p);
      }
    });
  });
  return {
    path,
    messages: () => lines.filter((l) => l !== 'BARRIER=1'),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** What `clusterFixture` makes: set before the file's first test. */
export interface ClusterFixture {
  upstream: Upstream;
  cfg: Awaited<ReturnType<typeof tempConfig>>;
}

/**
 * For the tests of one file: an upstream WMS on 127.0.0.1 and a temporary `clusterYaml`
 * configuration pointing at it, made before the first test and removed after the last.
 */
export function clusterFixture(): ClusterFixture {
  const fixture = {} as ClusterFixture;
  before(async () => {
    fixture.upstream = await startUpstream();
    fixture.cfg = await tempConfig(clusterYaml(fixture.upstream.url));
  });
  after(async () => {
    await fixture.upstream?.close();
    await fixture.cfg?.cleanup();
  });
  return fixture;
}

/**
 * The configuration the cluster tests serve: one WMS upstream cached as layer `proof` in
 * GLOBAL_WEBMERCATOR (4×4 meta tiles, buffer 80, tc layout), cache and locks under the config dir.
 */
export function clusterYaml(upstreamUrl: string): string {
  return `
services:
  wmts:
layers:
  - name: proof
    title: cluster proof
    sources: [proof_cache]
caches:
  proof_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    format: image/png
    image:
      colors: 0
sources:
  up:
    type: wms
    req:
      url: ${upstreamUrl}/wms?
      layers: base
globals:
  http:
    client_timeout: 60
  cache:
    base_dir: ./cache
    lock_dir: ./locks
    tile_lock_dir: ./tile_locks
`;
}

/** The WMTS RESTful path of tile (x, y, z) of `clusterYaml`'s layer (rows from the north). */
export function wmtsTile(x: number, y: number, z: number): string {
  return `/wmts/proof/GLOBAL_WEBMERCATOR/${String(z).padStart(2, '0')}/${x}/${y}.png`;
}
