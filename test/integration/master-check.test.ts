/**
 * The `serve` master checks the configuration in a short-lived child process
 * (src/master/check-process.ts), so the master itself never loads the config code, the schema
 * validator or libvips: its memory stays that of a supervisor. The answers are those of the check
 * in-process: the same ConfigError, the same snapshot; a check that dies, times out or is stopped
 * is an error saying so, and a check stuck on a file that never answers (a FIFO here, a hung
 * network file system in production) neither outlives the master nor keeps it from stopping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ConfigError } from '../../src/errors.js';
import { checkConfigInChild, checkExecArgv } from '../../src/master/check-process.js';
import { checkServeConfig } from '../../src/master/validate.js';
import { tempConfig, get } from '../helpers/server.js';
import { clusterFixture, clusterYaml, isAlive, startServe, waitFor, wmtsTile } from '../helpers/serve.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const fx = clusterFixture();

/** The shared objects mapped into process `pid` whose path contains `part`. */
async function mapped(pid: number, part: string): Promise<string[]> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  return [...new Set(maps.split('\n').filter((l) => l.includes(part)).map((l) => l.slice(l.lastIndexOf(' ') + 1)))];
}

test('the master maps no libvips, before and after a reload, and logs the versions the check saw', async () => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0']);
  try {
    const worker = serve.listeningWorkers()[0];
    assert.ok(worker !== undefined);
    const res = await get(serve.url + wmtsTile(1, 1, 2));
    assert.equal(res.status, 200);
    // The worker made the tile with libvips; the master never loaded it.
    assert.notDeepEqual(await mapped(worker, 'libvips'), []);
    assert.deepEqual(await mapped(serve.pid, 'libvips'), []);
    const system = serve.logs().find((l) => l.name === 'mapproxy.system');
    assert.equal(system?.sharp, sharp.versions.sharp);
    assert.equal(system?.libvips, sharp.versions.vips);

    const from = serve.logs().length;
    serve.child.kill('SIGHUP');
    await serve.waitForLog((l) => l.msg === 'reload complete', { from });
    assert.deepEqual(await mapped(serve.pid, 'libvips'), []);
    // No check process is left behind (under tsx, esbuild's service may be a child too).
    await waitFor(async () => (await checkChildOf(serve.pid)) === undefined, 'no check process left');
  } finally {
    await serve.kill();
  }
});

/** Pids of the children of `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

test('the check in the child answers as the check in-process: snapshot and warnings', async () => {
  const inChild = await checkConfigInChild(fx.cfg.file, false);
  const here = await checkServeConfig(fx.cfg.file, false);
  assert.deepEqual(inChild.check, here);
  assert.equal(inChild.system.libvips, sharp.versions.vips);
});

test('an invalid configuration: the same ConfigError as in-process', async () => {
  const bad = await tempConfig(clusterYaml(fx.upstream.url).replace('sources: [up]', 'sources: [missing]'));
  try {
    const inChild = await checkConfigInChild(bad.file, false).then(
      () => assert.fail('the check passed'),
      (err: unknown) => err,
    );
    assert.ok(inChild instanceof ConfigError);
    assert.equal(inChild.message, `invalid configuration ${bad.file}:\n  caches.proof_cache.sources[0]: unknown source "missing"`);
    assert.equal(inChild.code, 'MPX_ERR_CONFIG');
    await assert.rejects(checkServeConfig(bad.file, false), (err: unknown) => err instanceof ConfigError && err.message === inChild.message);
  } finally {
    await bad.cleanup();
  }
});

test('a MultiMapProxy path that is not a directory is refused by the child', async () => {
  await assert.rejects(checkConfigInChild(fx.cfg.file, true), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `invalid configuration:\n  not a directory of configurations: ${fx.cfg.file}`);
    return true;
  });
});

/** The check process among the children of `parent`, if one runs. */
async function checkChildOf(parent: number): Promise<number | undefined> {
  for (const pid of childrenOf(parent)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('check-main')) return pid;
  }
  return undefined;
}

/** True once a thread of `pid` waits in the kernel for the other end of a FIFO. */
async function waitsOnFifo(pid: number): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const t of tasks) {
    if ((await readFile(`/proc/${pid}/task/${t}/wchan`, 'utf8').catch(() => '')).includes('wait_for_partner')) return true;
  }
  return false;
}

/** The check process of `parent`, once it is stuck opening a FIFO. */
async function stuckCheckOf(parent: number): Promise<number> {
  let pid: number | undefined;
  await waitFor(async () => {
    pid = await checkChildOf(parent);
    return pid !== undefined && (await waitsOnFifo(pid));
  }, 'a check process stuck on the FIFO');
  return pid as number;
}

/** A configuration file that is a FIFO nobody writes to: reading it never ends. */
function fifoIn(dir: string, name = 'stuck.yaml'): string {
  const fifo = join(dir, name);
  execFileSync('mkfifo', [fifo]);
  return fifo;
}

test('a check process that dies without an answer is an error naming its end', async () => {
  const pending = checkConfigInChild(fifoIn(fx.cfg.dir, 'killed.yaml'), false);
  const pid = await stuckCheckOf(process.pid);
  process.kill(pid, 'SIGKILL');
  await assert.rejects(pending, (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof ConfigError));
    assert.equal(err.message, `the configuration check (pid ${pid}) ended without an answer (SIGKILL)`);
    return true;
  });
});

test('a check that does not finish in time is killed, with an error saying what to look at', async () => {
  const outcome = checkConfigInChild(fifoIn(fx.cfg.dir, 'slow.yaml'), false, { timeoutMs: 4000 }).then(
    () => assert.fail('the check passed'),
    (err: unknown) => err,
  );
  // The limit counts from the fork, wherever the check is by then: on a loaded machine it may not
  // have reached the FIFO yet, so wait only for the process to exist (a check child lives 4 s).
  let pid: number | undefined;
  await waitFor(async () => (pid = await checkChildOf(process.pid)) !== undefined, 'the check process');
  const err = await outcome;
  assert.ok(err instanceof Error);
  assert.equal(err.message, 'the configuration check did not finish within 4 s (is a file of the configuration on a file system that does not answer?)');
  assert.equal(isAlive(pid as number), false);
});

test('a check stopped by its signal is killed', async () => {
  const stop = new AbortController();
  const pending = checkConfigInChild(fifoIn(fx.cfg.dir, 'stopped.yaml'), false, { signal: stop.signal });
  const pid = await stuckCheckOf(process.pid);
  stop.abort();
  await assert.rejects(pending, { message: 'the configuration check was stopped' });
  assert.equal(isAlive(pid), false);
  await assert.rejects(checkConfigInChild(fx.cfg.file, false, { signal: stop.signal }), { message: 'the configuration check was stopped' });
});

/** Serve a copy of the cluster config, then put a FIFO in its place and ask for a reload. */
async function serveThenStuckReload(): Promise<{ serve: Awaited<ReturnType<typeof startServe>>; check: number; own: Awaited<ReturnType<typeof tempConfig>> }> {
  const own = await tempConfig(clusterYaml(fx.upstream.url));
  const serve = await startServe(own.file, ['-w', '1', '--spare-workers', '0', '--graceful-timeout', '5']);
  await rename(fifoIn(own.dir), own.file);
  serve.child.kill('SIGHUP');
  const check = await stuckCheckOf(serve.pid);
  return { serve, check, own };
}

test('SIGTERM while a reload\'s check is stuck: the master kills the check and exits 0', async () => {
  const { serve, check, own } = await serveThenStuckReload();
  try {
    assert.equal((await get(serve.url + wmtsTile(0, 0, 1))).status, 200, 'the old worker still serves');
    serve.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      serve.exited(),
      new Promise((_, reject) => {
        // The graceful timeout is 5 s; a master still alive at 20 s is waiting on the check.
        timer = setTimeout(() => reject(new Error(`the master did not exit:\n${serve.output()}`)), 20_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(isAlive(check), false);
    assert.deepEqual(serve.logs().filter((l) => (l.level as number) >= 50), [], 'no reload reported as failed');
  } finally {
    await serve.kill();
    await own.cleanup();
  }
});

test('a master killed while its check is stuck does not leave the check behind', async () => {
  const { serve, check, own } = await serveThenStuckReload();
  try {
    await serve.kill();
    await waitFor(() => !isAlive(check), 'the orphaned check process to exit');
  } finally {
    await own.cleanup();
  }
});

test('serve whose check dies at start exits 1 with the reason on stderr, before any worker', async () => {
  const own = await tempConfig('');
  try {
    const fifo = fifoIn(own.dir, 'start.yaml');
    const s = await startServe(fifo, ['-w', '1'], { waitReady: false });
    const check = await stuckCheckOf(s.pid);
    process.kill(check, 'SIGKILL');
    assert.deepEqual(await s.exited(), { code: 1, signal: null });
    assert.equal(s.output(), `mapproxy-ts: the configuration check (pid ${check}) ended without an answer (SIGKILL)\n`);
    assert.deepEqual(s.logs(), [], 'no worker was started');
  } finally {
    await own.cleanup();
  }
});

test('check-main refuses to run without the master\'s IPC channel', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/master/check-main.ts'), fx.cfg.file, 'single'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.equal(run.stderr, 'check-main: run by the serve master only\n');
});

test('the check process gets the master\'s Node options without the inspector\'s', () => {
  assert.deepEqual(
    checkExecArgv(['--import', 'tsx', '--inspect', '--inspect-brk=127.0.0.1:9229', '--inspect-port=0', '--debug-port=1', '--inspect-wait', '--max-old-space-size=200', '--inspector-x']),
    ['--import', 'tsx', '--max-old-space-size=200', '--inspector-x'],
  );
});
