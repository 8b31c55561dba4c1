/**
 * The repository's ecosystem.config.js under the real pm2 (a devDependency), as docs/deployment.md
 * describes it (issue 3, "Deployment files"): `pm2 start` waits for the master's 'ready', a reload
 * with `pm2 sendSignal SIGHUP` under load fails no request, `pm2 reload` of a fork-mode app is a
 * restart (the master's pid changes and requests fail meanwhile, which is why the docs say
 * SIGHUP), and `pm2 stop` lets the request in flight finish.
 *
 * Everything runs in a sandbox laid out like an installed package: package.json, bin/, a dist/
 * compiled from this checkout's src/ by tsc (always, ~10-15 s: the repository's dist/ may be stale
 * and other tests must not see it rebuilt under them), node_modules linked, ecosystem.config.js and
 * examples/mapproxy.yaml copied, so caches and pm2's log files land in the sandbox. pm2 keeps its
 * state in PM2_HOME inside the sandbox (never ~/.pm2) and its daemon is killed at the end.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { isAlive, waitFor } from '../helpers/serve.js';
import { startLoad } from '../helpers/load.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PM2 = path.join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let sandbox: string;
let pkg: string;
let upstream: Upstream;
let port: number;
let env: NodeJS.ProcessEnv;

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port: p } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return p;
}

/** Run the pm2 command line in the sandbox; rejects (with its output) on a non-zero exit. */
async function pm2(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [PM2, ...args], { cwd: pkg, env, timeout: 90_000 });
  return stdout;
}

interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { status: string; exec_mode: string; restart_time: number; unstable_restarts: number; args?: string[]; exit_code?: number };
}

async function jlist(): Promise<Pm2Process[]> {
  const out = await pm2('jlist');
  return JSON.parse(out.slice(out.indexOf('['))) as Pm2Process[];
}

async function master(): Promise<Pm2Process> {
  const p = (await jlist()).find((a) => a.name === 'mapproxy-ts');
  assert.ok(p, 'pm2 lists mapproxy-ts');
  return p;
}

type LogLine = Record<string, unknown> & { msg?: string };

/** The JSON lines pm2 collected from the master and its workers (ecosystem's out_file). */
async function logs(): Promise<LogLine[]> {
  const text = await readFile(path.join(pkg, 'logs', 'mapproxy-ts.out.log'), 'utf8').catch(() => '');
  return text.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

async function waitForLog(match: (l: LogLine) => boolean, from: number, what: string, timeoutMs = 30_000): Promise<LogLine> {
  let found: LogLine | undefined;
  await waitFor(async () => (found = (await logs()).slice(from).find(match)) !== undefined, what, timeoutMs);
  return found!;
}

const url = (p: string) => `http://127.0.0.1:${port}${p}`;
const wmts = (z: number, x: number, y: number) => `/wmts/world/GLOBAL_WEBMERCATOR/${String(z).padStart(2, '0')}/${x}/${y}.png`;

async function getTile(p: string): Promise<Buffer> {
  const res = await fetch(url(p));
  assert.equal(res.status, 200, p);
  assert.equal(res.headers.get('content-type'), 'image/png');
  return Buffer.from(await res.arrayBuffer());
}

before(async () => {
  sandbox = await mkdtemp(path.join(tmpdir(), 'mpx-'));
  pkg = path.join(sandbox, 'pkg');
  await mkdir(path.join(pkg, 'bin'), { recursive: true });
  await mkdir(path.join(pkg, 'examples'));
  await mkdir(path.join(sandbox, 'pm2'));
  for (const f of ['package.json', 'ecosystem.config.js', 'bin/mapproxy-ts.js', 'examples/mapproxy.yaml', 'examples/world-wms.mjs']) {
    await copyFile(path.join(ROOT, f), path.join(pkg, f));
  }
  await copyFile(path.join(ROOT, 'test', 'fixtures', 'deploy', 'pm2-test.config.js'), path.join(pkg, 'pm2-test.config.js'));
  // `create -t pm2` of the installed package reads its templates/.
  await cp(path.join(ROOT, 'templates'), path.join(pkg, 'templates'), { recursive: true });
  await symlink(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  await symlink(path.join(ROOT, 'examples', 'data'), path.join(pkg, 'examples', 'data'));
  // `npm run build` into the sandbox. Type errors are the typecheck's business; emitted files count.
  await run(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--outDir', path.join(pkg, 'dist'), '--declaration', 'false', '--sourceMap', 'false'], { cwd: ROOT })
    .catch((err: { stdout?: string }) => process.stderr.write(`tsc reported errors (dist still emitted):\n${err.stdout ?? ''}\n`));
  for (const f of ['dist/cli/main.js', 'dist/worker/main.js']) assert.ok(existsSync(path.join(pkg, f)), `${f} was built`);

  upstream = await startUpstream();
  port = await freePort();
  const { NODE_TEST_CONTEXT: _ctx, NODE_OPTIONS: _opts, ...rest } = process.env;
  env = { ...rest, PM2_HOME: path.join(sandbox, 'pm2'), MAPPROXY_BIND: `127.0.0.1:${port}`, EXAMPLE_WMS_PORT: String(upstream.port) };
});

after(async () => {
  if (env) {
    await pm2('kill').catch(() => undefined);
    // If `pm2 kill` failed, stop the daemon of this sandbox by its pid.
    const pid = Number(await readFile(path.join(sandbox, 'pm2', 'pm2.pid'), 'utf8').catch(() => '0'));
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await upstream?.close();
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

test('pm2 start: the master in fork mode, online only once its workers listen', async () => {
  await pm2('start', 'pm2-test.config.js');
  // pm2 start returned, so pm2 saw the master's 'ready' (wait_ready): the port answers at once.
  const tile = await getTile(wmts(3, 4, 2));
  assert.ok(tile.length > 100);
  assert.equal(upstream.count(), 1);
  const p = await master();
  assert.equal(p.pm2_env.status, 'online');
  assert.equal(p.pm2_env.exec_mode, 'fork_mode');
  // pm2's daemon copies the master's stdout into its out_file on its own time: the line may land
  // there after `pm2 start` returned.
  const ready = await waitForLog((l) => l.msg === 'ready', 0, 'the master\'s ready line in pm2\'s out_file');
  assert.equal(ready.pid, p.pid, 'pm2 runs the master itself');
  assert.equal((ready.workers as number[]).length, 2);
});

test('pm2 sendSignal SIGHUP: rolling reload under load, no request fails', async () => {
  const before = await master();
  const oldWorkers = (await waitForLog((l) => l.msg === 'ready', 0, 'the ready line')).workers as number[];
  const cached = [wmts(3, 4, 2), wmts(3, 5, 2), wmts(3, 4, 3), wmts(3, 5, 3)];
  for (const p of cached) await getTile(p);
  const uncached = Array.from({ length: 400 }, (_, i) => wmts(10, 4 * (i % 20), 400 + 4 * Math.floor(i / 20)));
  const load = startLoad({ origin: url(''), paths: uncached.flatMap((u, i) => [u, cached[i % 4]]), connections: 4, durationMs: 180_000 });
  // Half the requests make a meta tile each: slow on a loaded machine, hence the longer bounds.
  await waitFor(() => load.records.length >= 20, 'load running', 60_000);
  const from = (await logs()).length;
  await pm2('sendSignal', 'SIGHUP', 'mapproxy-ts');
  const done = await waitForLog((l) => l.msg === 'reload complete', from, 'reload complete');
  for (const pid of oldWorkers) await waitForLog((l) => l.msg === 'worker stopped' && l.workerPid === pid, from, `old worker ${pid} stopped`);
  const sent = load.records.length;
  await waitFor(() => load.records.length >= sent + 20, 'requests served by the new workers', 60_000);
  const result = await load.stop();

  assert.deepEqual(result.errors, {}, 'no failed or reset request');
  assert.deepEqual(Object.keys(result.statuses), ['200']);
  const newWorkers = done.workers as number[];
  assert.equal(newWorkers.length, 2);
  assert.deepEqual(newWorkers.filter((w) => oldWorkers.includes(w)), [], 'every worker replaced');
  const afterReload = await master();
  assert.equal(afterReload.pid, before.pid, 'the master stays');
  assert.equal(afterReload.pm2_env.restart_time, 0, 'pm2 restarted nothing');
});

test('pm2 reload of a fork-mode app is a stop and a start: a new master, requests fail meanwhile', async (t) => {
  const before = await master();
  const load = startLoad({ origin: url(''), paths: [wmts(3, 4, 2), wmts(3, 5, 2)], connections: 4, durationMs: 60_000, timeoutMs: 10_000 });
  await waitFor(() => load.records.length >= 20, 'load running');
  await pm2('reload', 'mapproxy-ts');
  // With wait_ready, pm2 returns once the new master is ready.
  await getTile(wmts(3, 4, 2));
  const result = await load.stop();
  const p = await master();
  assert.notEqual(p.pid, before.pid, 'a new master process');
  assert.equal(isAlive(before.pid), false, 'the old master is gone');
  assert.equal(p.pm2_env.restart_time, 1);
  assert.equal(p.pm2_env.status, 'online');
  const failed = result.records.filter((r) => r.status !== 200).length;
  t.diagnostic(`pm2 reload under load: ${failed} of ${result.records.length} requests failed ${JSON.stringify({ statuses: result.statuses, errors: result.errors })}`);
  assert.ok(failed > 0, `pm2 reload leaves a gap (${failed} of ${result.records.length} requests failed: ${JSON.stringify({ ...result.statuses, ...result.errors })})`);
});

test('pm2 stop: SIGINT drains, the request in flight completes, every process exits', async () => {
  const p = await master();
  // The new master's ready line reaches the out_file through pm2's daemon, perhaps only now.
  await waitForLog((l) => l.msg === 'ready' && l.pid === p.pid, 0, 'the new master\'s ready line');
  const workers = (await logs()).filter((l) => l.msg === 'ready' && l.pid === p.pid).flatMap((l) => l.workers as number[]);
  assert.equal(workers.length, 2);
  const from = (await logs()).length;
  upstream.setDelay(1500);
  const seen = upstream.count();
  const inFlight = fetch(url(wmts(12, 2000, 1500))).then(async (res) => ({ status: res.status, body: Buffer.from(await res.arrayBuffer()) }));
  await waitFor(() => upstream.count() > seen, 'the tile request reached the upstream');
  await pm2('stop', 'mapproxy-ts');
  const answer = await inFlight;
  upstream.setDelay(0);
  assert.equal(answer.status, 200, 'the request in flight was answered');

  const stopped = await master();
  assert.equal(stopped.pm2_env.status, 'stopped');
  for (const pid of [p.pid, ...workers]) assert.equal(isAlive(pid), false, `process ${pid} exited`);
  const stopping = await waitForLog((l) => l.msg === 'stopping: draining the workers', from, 'the master draining');
  assert.equal(stopping.signal, 'SIGINT', 'pm2 stops with SIGINT');
  const daemonLog = await readFile(path.join(sandbox, 'pm2', 'pm2.log'), 'utf8');
  assert.doesNotMatch(daemonLog, /SIGKILL/, 'pm2 never had to kill (kill_timeout above the graceful timeout)');
  await assert.rejects(fetch(url(wmts(3, 4, 2))), 'nothing listens any more');

  await pm2('delete', 'mapproxy-ts');
  assert.deepEqual(await jlist(), []);
});

test('pm2 start ecosystem.config.js: the example WMS app listens', async () => {
  const wmsPort = await freePort();
  const wmsEnv = { ...env, EXAMPLE_WMS_PORT: String(wmsPort) };
  await run(process.execPath, [PM2, 'start', 'ecosystem.config.js', '--only', 'mapproxy-ts-example-wms'], { cwd: pkg, env: wmsEnv });
  try {
    const listening = () => new Promise<boolean>((resolve) => {
      const s = net.connect(wmsPort, '127.0.0.1').once('connect', () => { s.destroy(); resolve(true); }).once('error', () => resolve(false));
    });
    // A fork and a module load: seconds on a loaded 2-core machine.
    await waitFor(listening, `the example WMS on port ${wmsPort}`, 30_000);
  } finally {
    await pm2('delete', 'mapproxy-ts-example-wms').catch(() => undefined);
  }
});

test('pm2 start of a created ecosystem file for a directory of projects: serve --multiapp serves each under /<name>/', async () => {
  // Two projects, copies of the example (each with its cache beside it, in projects/cache_data).
  const projects = path.join(sandbox, 'projects');
  await mkdir(projects);
  for (const name of ['world', 'atlas']) await copyFile(path.join(pkg, 'examples', 'mapproxy.yaml'), path.join(projects, `${name}.yaml`));
  const eco = path.join(sandbox, 'projects.config.js');
  const created = await run(process.execPath, [path.join(pkg, 'bin', 'mapproxy-ts.js'), 'create', '-t', 'pm2', '-f', projects, '-b', `127.0.0.1:${port}`, eco], { cwd: sandbox, env });
  assert.equal(created.stdout, `writing ${eco}\n`);
  // The created app as it is, with one worker and no spare to stay small on any machine.
  const wrapper = path.join(sandbox, 'projects-test.config.js');
  await writeFile(
    wrapper,
    "const { apps } = require('./projects.config.js');\n" +
      "module.exports = { apps: apps.map((a) => ({ ...a, args: [...a.args, '--workers', '1', '--spare-workers', '0'] })) };\n",
  );
  await run(process.execPath, [PM2, 'start', wrapper], { cwd: sandbox, env, timeout: 90_000 });
  try {
    const p = await master();
    assert.equal(p.pm2_env.status, 'online');
    assert.deepEqual(p.pm2_env.args?.slice(0, 3), ['serve', '--multiapp', projects]);
    // pm2 start returned once the master was ready: each project answers under its name.
    for (const name of ['world', 'atlas']) {
      const res = await fetch(url(`/${name}/wmts/1.0.0/WMTSCapabilities.xml`));
      assert.equal(res.status, 200, name);
      assert.match(await res.text(), new RegExp(`ResourceURL [^>]*template="http://127\\.0\\.0\\.1:${port}/${name}/wmts/`));
      await getTile(`/${name}${wmts(3, 4, 2)}`);
    }
    assert.equal((await fetch(url('/none/wmts/1.0.0/WMTSCapabilities.xml'))).status, 404);
  } finally {
    await pm2('delete', 'mapproxy-ts').catch(() => undefined);
  }
});

test('pm2 start with an invalid configuration: the start ends at once, the master exits 78, pm2 does not restart it', async () => {
  const broken = path.join(pkg, 'broken.yaml');
  const example = await readFile(path.join(pkg, 'examples', 'mapproxy.yaml'), 'utf8');
  await writeFile(broken, example.replace('grids: [GLOBAL_WEBMERCATOR]', 'grids: [NO_SUCH_GRID]'));
  // The repository's app as the other tests run it, on the broken copy.
  await writeFile(
    path.join(pkg, 'pm2-broken.config.js'),
    "import { apps as testApps } from './pm2-test.config.js';\n" +
      "export const apps = testApps.map((a) => ({ ...a, args: a.args.map((x) => (x === 'examples/mapproxy.yaml' ? 'broken.yaml' : x)) }));\n",
  );
  const errorLog = path.join(pkg, 'logs', 'mapproxy-ts.error.log');
  const message = `mapproxy-ts: invalid configuration ${broken}:\n  caches.world_cache.grids[0]: unknown grid "NO_SUCH_GRID"\n`;
  const seen = (await readFile(errorLog, 'utf8').catch(() => '')).split(message).length - 1;
  await pm2('start', 'pm2-broken.config.js');
  try {
    // Had the master not ended pm2's wait_ready wait, pm2 start would have returned only after
    // listen_timeout (60 s), with the dead master marked online.
    await waitFor(async () => (await master()).pm2_env.exit_code === 78, 'pm2 saw the exit');
    assert.notEqual((await master()).pm2_env.status, 'online');
    // Well past exp_backoff_restart_delay (500 ms): stop_exit_codes kept pm2 from trying again.
    await new Promise((r) => setTimeout(r, 3000));
    const later = await master();
    assert.equal(later.pm2_env.restart_time, 0, 'pm2 restarted nothing');
    assert.equal(later.pid, 0, 'no process runs');
    assert.notEqual(later.pm2_env.status, 'online');
    await waitFor(async () => (await readFile(errorLog, 'utf8')).split(message).length - 1 > seen, 'the reason in error_file');
    assert.equal((await readFile(errorLog, 'utf8')).split(message).length - 1, seen + 1, 'one start, one message');
    await assert.rejects(fetch(url(wmts(3, 4, 2))), 'nothing listens');
  } finally {
    await pm2('delete', 'mapproxy-ts').catch(() => undefined);
  }
});

test('pm2 start with an invalid --log-config or a wrong command line: the start ends at once, no restart (exit 78, 2)', async () => {
  const badLog = path.join(pkg, 'bad-log.yaml');
  await writeFile(badLog, 'level: verbose\n');
  const cases: Array<[string[], number, string]> = [
    [['--log-config', 'bad-log.yaml'], 78, `mapproxy-ts: invalid log configuration ${badLog}:\n  level: unknown level "verbose"; expected one of trace, debug, info, warn, error, fatal, silent\n`],
    [['--workers', 'many'], 2, 'mapproxy-ts: invalid --workers "many": expected a whole number of at least 1\n'],
  ];
  const errorLog = path.join(pkg, 'logs', 'mapproxy-ts.error.log');
  for (const [extra, code, said] of cases) {
    await writeFile(
      path.join(pkg, 'pm2-extra.config.js'),
      "import { apps as testApps } from './pm2-test.config.js';\n" +
        `export const apps = testApps.map((a) => ({ ...a, args: [...a.args, ...${JSON.stringify(extra)}] }));\n`,
    );
    const seen = (await readFile(errorLog, 'utf8').catch(() => '')).split(said).length - 1;
    await pm2('start', 'pm2-extra.config.js');
    try {
      // Without 'ready' first, pm2 start returned after listen_timeout (60 s) with the app online.
      await waitFor(async () => (await master()).pm2_env.exit_code === code, `${extra.join(' ')}: pm2 saw the exit`);
      assert.notEqual((await master()).pm2_env.status, 'online');
      await new Promise((r) => setTimeout(r, 2000));
      const later = await master();
      assert.equal(later.pm2_env.restart_time, 0, `${extra.join(' ')}: pm2 restarted nothing`);
      await waitFor(async () => (await readFile(errorLog, 'utf8')).split(said).length - 1 > seen, 'the reason in error_file');
    } finally {
      await pm2('delete', 'mapproxy-ts').catch(() => undefined);
    }
  }
});
