/**
 * Log format on stdout (issue 3: "pino, JSON by default, pretty in serve-develop"): serve-develop
 * writes human-readable lines on a terminal and JSON lines otherwise; `--log-format pretty|json`
 * forces either, for serve-develop and for `serve` (master and workers). Real child processes; the
 * terminal is a pseudo-terminal from util-linux `script` where it is installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempConfig, get } from '../helpers/server.js';
import { startServe } from '../helpers/serve.js';
import { HELP } from '../../src/cli/main.js';
import { SERVE_HELP, serveCommand } from '../../src/cli/serve.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'test/helpers/cli.ts');
const HAS_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

// A pretty line: `hh:mm:ss.mmm LEVEL name: message  key=value …`.
const CLOCK = String.raw`\d\d:\d\d:\d\d\.\d{3}`;

let cfg: Awaited<ReturnType<typeof tempConfig>>;
before(async () => {
  cfg = await tempConfig(`
services: {tms: {}}
layers: [{name: dbg, title: Debug, sources: [dbg_cache]}]
caches: {dbg_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [dbg], disable_storage: true}}
sources: {dbg: {type: debug}}
`);
});
after(() => cfg?.cleanup());

/** A child's output until it says where it serves; `stop` sends SIGTERM and resolves its exit code. */
async function untilServing(child: ChildProcess): Promise<{ port: number; out: () => string; err: () => string; stop(): Promise<number | null> }> {
  let out = '';
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}\n${err}`)));
  });
  return {
    port,
    out: () => out,
    err: () => err,
    async stop() {
      child.kill('SIGTERM');
      // 'close', not 'exit': the last line ('stopping') may still be in the pipe at 'exit'.
      const [code] = (await once(child, 'close')) as [number | null];
      return code;
    },
  };
}

function develop(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, 'serve-develop', cfg.file, '-b', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    env: { ...process.env, MAPPROXY_LOG_FORMAT: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

test('serve-develop names the configuration by its absolute path, also when given a relative one', async () => {
  // tsx by its resolved URL: the child runs in the configuration's directory, outside the repository.
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, 'serve-develop', basename(cfg.file), '-b', '127.0.0.1:0'], {
    cwd: dirname(cfg.file),
    env: { ...process.env, MAPPROXY_LOG_FORMAT: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s = await untilServing(child);
  assert.equal(await s.stop(), 0);
  const line = s.out().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => /^serving on /.test(String(l.msg)));
  assert.equal(line?.config, cfg.file);
});

test('serve-develop --log-format pretty: level, logger and message per line, no JSON', async () => {
  const s = await untilServing(develop(['--log-format', 'pretty']));
  assert.equal((await get(`http://127.0.0.1:${s.port}/tms/1.0.0/dbg/EPSG3857/0/0/0.png`)).status, 200);
  assert.equal(await s.stop(), 0);
  const lines = s.out().trimEnd().split('\n');
  // Not a terminal here: no colours either.
  assert.match(lines[0], new RegExp(`^${CLOCK} INFO  mapproxy\\.system: serving on http://127\\.0\\.0\\.1:${s.port}/  config=${cfg.file} host=127\\.0\\.0\\.1 port=${s.port}$`));
  assert.match(lines.at(-1)!, new RegExp(`^${CLOCK} INFO  mapproxy\\.system: stopping  signal=SIGTERM$`));
  for (const l of lines) assert.match(l, new RegExp(`^${CLOCK} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) [\\w.]+: `), l);
  assert.equal(s.err(), '');
});

test('serve-develop without a terminal: JSON lines (what the tests and log shippers read); MAPPROXY_LOG_FORMAT also forces', async () => {
  const plain = await untilServing(develop([]));
  assert.equal(await plain.stop(), 0);
  const first = JSON.parse(plain.out().split('\n')[0]) as Record<string, unknown>;
  assert.deepEqual([first.level, first.name, first.msg, first.port], [30, 'mapproxy.system', `serving on http://127.0.0.1:${plain.port}/`, plain.port]);

  const byEnv = await untilServing(develop([], { MAPPROXY_LOG_FORMAT: 'pretty' }));
  assert.equal(await byEnv.stop(), 0);
  assert.match(byEnv.out().split('\n')[0], new RegExp(`^${CLOCK} INFO  mapproxy\\.system: serving on `));
});

/** serve-develop on a pseudo-terminal: its output as the terminal shows it, then Ctrl-C. */
async function onTerminal(args: string[]): Promise<string> {
  // `exec`: script runs the command through $SHELL -c, and dash (Debian's /bin/sh) forks
  // instead of replacing itself; the shell would then take the Ctrl-C and die of it (exit 130).
  const command = ['exec', process.execPath, '--import', 'tsx', CLI, 'serve-develop', cfg.file, '-b', '127.0.0.1:0', ...args].join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, SHELL: '/bin/sh', MAPPROXY_LOG_FORMAT: undefined, NO_COLOR: undefined, TERM: 'xterm' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let interrupted = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (interrupted || !/serving on http[^\n]*\n/.test(out)) return;
    interrupted = true;
    // Ctrl-C typed on the terminal: SIGINT to serve-develop, which stops with exit 0.
    child.stdin.end('\x03');
  });
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, out);
  return out.replace(/\r/g, '');
}

test('serve-develop on a terminal: pretty (coloured) by default, JSON with --log-format json', { skip: !HAS_SCRIPT && 'util-linux script is not installed' }, async () => {
  const pretty = await onTerminal([]);
  assert.match(pretty, new RegExp(`^${CLOCK} \\x1b\\[32mINFO \\x1b\\[0m mapproxy\\.system: serving on http://127\\.0\\.0\\.1:\\d+/  \\x1b\\[2mconfig=`, 'm'));
  assert.match(pretty, new RegExp(`^(\\^C)?${CLOCK} \\x1b\\[32mINFO \\x1b\\[0m mapproxy\\.system: stopping  \\x1b\\[2msignal=SIGINT\\x1b\\[0m$`, 'm'));
  assert.ok(!pretty.includes('{"level"'), pretty);

  const json = await onTerminal(['--log-format', 'json']);
  const lines = json.split('\n').map((l) => l.replace(/^\^C/, '')).filter((l) => l.startsWith('{'));
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg.replace(/\d+\/$/, 'N/')), ['serving on http://127.0.0.1:N/', 'stopping']);
});

test('serve --log-format pretty: the master and its workers write pretty lines, each with its pid', async () => {
  const proc = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0', '--log-format', 'pretty'], { waitReady: false, env: { MAPPROXY_LOG_FORMAT: undefined } });
  try {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (/mapproxy\.master: ready {2}url=/.test(proc.output())) resolve();
        else if (proc.child.exitCode !== null) reject(new Error(proc.output()));
        else setTimeout(check, 25);
      };
      check();
    });
    process.kill(proc.pid, 'SIGTERM');
    assert.equal((await proc.exited()).code, 0);
  } finally {
    await proc.kill();
  }
  const out = proc.output();
  assert.deepEqual(proc.logs(), [], 'no JSON line');
  // Master and workers share one stdout: each line names its process, as gunicorn's do.
  const ready = new RegExp(`^${CLOCK} INFO  \\[${proc.pid}\\] mapproxy\\.master: ready  url=http://127\\.0\\.0\\.1:\\d+/ port=\\d+ workers=\\[(\\d+)\\]$`, 'm').exec(out);
  assert.ok(ready, out);
  // A worker's line: the format reached the forked processes.
  assert.match(out, new RegExp(`^${CLOCK} INFO  \\[${ready[1]}\\] mapproxy\\.worker: draining  mode=stop inFlight=0 served=0$`, 'm'));
});

test('--log-format: a bad value is a usage error (exit 2) for serve-develop and serve', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve-develop', cfg.file, '--log-format', 'xml'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const [code] = (await once(child, 'close')) as [number | null];
  assert.deepEqual({ code, stdout, stderr }, { code: 2, stdout: '', stderr: `mapproxy-ts: invalid --log-format "xml": expected json or pretty\n\n${HELP['serve-develop']}` });
  assert.ok(HELP['serve-develop'].includes('      --log-format F   pretty (human-readable) or json log lines (default: pretty on a\n'));

  let err = '';
  const io = { stdout: { write: (s: string) => { err += `[stdout]${s}`; } }, stderr: { write: (s: string) => { err += s; } } };
  assert.equal(await serveCommand([cfg.file, '--log-format', 'PRETTY!'], io), 2);
  assert.equal(err, `mapproxy-ts: invalid --log-format "PRETTY!": expected json or pretty\n\n${SERVE_HELP}`);
  assert.ok(SERVE_HELP.includes('      --log-format json|pretty    lines on stdout: JSON (default) or human-readable, for all processes\n'));
});
