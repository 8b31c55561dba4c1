// concurrent_requests across real processes: children forked from this very file (run with
// `--semaphore-child`) fetch through a WMS source or hold slots while the parent watches the
// upstream's concurrency and the lock files.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LockTimeoutError } from '../../src/errors.js';
import { BUILTIN_SRS, buildGrids, getSrs } from '../../src/grid/index.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents } from '../../src/source/http-client.js';
import { FileSemaphore, semaphoreBase } from '../../src/source/semaphore.js';
import { createWmsSource } from '../../src/source/wms.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const SELF = fileURLToPath(import.meta.url);

interface ChildArgs {
  mode: 'fetch' | 'hold';
  url: string;
  lockDir: string;
  n: number;
  /** fetch: parallel requests; hold: slots to take. */
  count: number;
}

/** Child side: fetch `count` maps in parallel, or hold `count` slots until told to release. */
async function child(args: ChildArgs): Promise<void> {
  configureLogging({ level: 'silent' });
  const send = (m: unknown) => new Promise<void>((r) => process.send?.(m, () => r()));
  if (args.mode === 'fetch') {
    const src = createWmsSource(
      'w',
      { type: 'wms', concurrent_requests: args.n, req: { url: `${args.url}/service?`, layers: 'l' } },
      { globals: {}, lockDir: args.lockDir, grids: buildGrids({}), configDir: args.lockDir, srs: BUILTIN_SRS },
    );
    const results = await Promise.allSettled(
      Array.from({ length: args.count }, (_, i) => src.getMap({ bbox: [i * 1e5, 0, (i + 1) * 1e5, 1e5], size: [32, 32], srs: getSrs('EPSG:3857'), format: 'image/png' })),
    );
    await closeHttpAgents();
    await send({ ok: results.filter((r) => r.status === 'fulfilled').length });
  } else {
    const sem = new FileSemaphore(semaphoreBase(args.lockDir, args.url), args.n, { timeoutMs: 5000, staleMs: 2000 });
    const held = [];
    for (let i = 0; i < args.count; i++) held.push(await sem.acquire());
    await send('held');
    await new Promise<void>((r) => process.once('message', () => r()));
    for (const release of held) await release();
    await send('released');
  }
  process.disconnect?.();
}

function start(args: ChildArgs): ChildProcess {
  return fork(SELF, ['--semaphore-child', JSON.stringify(args)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function nextMessage(cp: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    cp.once('message', resolve);
    cp.once('exit', (code) => reject(new Error(`child exited with ${code} before answering`)));
  });
}

function exited(cp: ChildProcess): Promise<void> {
  return cp.exitCode !== null || cp.signalCode !== null ? Promise.resolve() : new Promise((r) => cp.once('exit', () => r()));
}

const childIndex = process.argv.indexOf('--semaphore-child');
if (childIndex >= 0) {
  await child(JSON.parse(process.argv[childIndex + 1]) as ChildArgs);
} else {
  let up: Upstream;
  let dir: string;

  before(async () => {
    up = await startUpstream();
    dir = await mkdtemp(path.join(os.tmpdir(), 'mpx-'));
  });
  after(async () => {
    await up.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('concurrent_requests: n limits upstream requests of several processes together', async () => {
    up.reset();
    up.setDelay(150);
    const lockDir = path.join(dir, 'locks-a');
    const children = [0, 1, 2].map(() => start({ mode: 'fetch', url: up.url, lockDir, n: 2, count: 4 }));
    const answers = await Promise.all(children.map(nextMessage));
    await Promise.all(children.map(exited));
    assert.deepEqual(answers, [{ ok: 4 }, { ok: 4 }, { ok: 4 }]);
    assert.equal(up.count(), 12);
    assert.ok(up.maxInFlight <= 2, `at most 2 upstream requests at once, saw ${up.maxInFlight}`);
    assert.ok(up.maxInFlight >= 1);
    // The slot names: <lock_dir>/<md5(host:port)>.lck<i> (proper-lockfile's .lock beside them, gone when released).
    const base = semaphoreBase(lockDir, up.url);
    assert.equal(path.basename(base), `${createHashHex(`127.0.0.1:${up.port}`)}.lck`);
    assert.equal(existsSync(`${base}0.lock`), false);
  });

  test('without concurrent_requests the same load is not limited (the test can see the limit)', async () => {
    up.reset();
    up.setDelay(300);
    const children = [0, 1, 2].map(() => start({ mode: 'fetch', url: up.url, lockDir: path.join(dir, 'locks-b'), n: 0, count: 4 }));
    await Promise.all(children.map(nextMessage));
    await Promise.all(children.map(exited));
    assert.equal(up.count(), 12);
    assert.ok(up.maxInFlight > 2, `saw ${up.maxInFlight}`);
  });

  test('a slot held by another process blocks until released; waiting longer than the timeout is a LockTimeoutError', async () => {
    const lockDir = path.join(dir, 'locks-c');
    const holder = start({ mode: 'hold', url: up.url, lockDir, n: 1, count: 1 });
    assert.equal(await nextMessage(holder), 'held');
    const base = semaphoreBase(lockDir, up.url);
    assert.equal(existsSync(`${base}0.lock`), true);
    const sem = new FileSemaphore(base, 1, { timeoutMs: 300 });
    await assert.rejects(sem.acquire(), (e: unknown) => {
      assert.ok(e instanceof LockTimeoutError);
      assert.equal(e.code, 'MPX_ERR_LOCK_TIMEOUT');
      assert.equal(e.message, `timed out after 0.3 s waiting for a lock held by another process`);
      return true;
    });
    holder.send('release');
    assert.equal(await nextMessage(holder), 'released');
    await exited(holder);
    const release = await sem.acquire();
    assert.equal(existsSync(`${base}0.lock`), true);
    await release();
    await release(); // idempotent
    assert.equal(existsSync(`${base}0.lock`), false);
  });

  test('the slot of a killed holder is taken over once stale', async () => {
    const lockDir = path.join(dir, 'locks-d');
    const holder = start({ mode: 'hold', url: up.url, lockDir, n: 2, count: 2 });
    assert.equal(await nextMessage(holder), 'held');
    holder.kill('SIGKILL');
    await exited(holder);
    const base = semaphoreBase(lockDir, up.url);
    assert.equal(existsSync(`${base}0.lock`) && existsSync(`${base}1.lock`), true, 'the dead holder left both slots locked');
    const sem = new FileSemaphore(base, 2, { timeoutMs: 15_000, staleMs: 2000 });
    const release = await sem.acquire();
    await release();
  });

  test('in one process the semaphore hands out n slots and queues the rest', async () => {
    const sem = new FileSemaphore(path.join(dir, 'locks-e', 'x.lck'), 2, { timeoutMs: 5000 });
    const a = await sem.acquire();
    const b = await sem.acquire();
    let third = false;
    const c = sem.acquire().then((r) => {
      third = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(third, false);
    await a();
    await (await c)();
    assert.equal(third, true);
    await b();
    assert.deepEqual(sem.slotFiles, [path.join(dir, 'locks-e', 'x.lck0'), path.join(dir, 'locks-e', 'x.lck1')]);
    assert.throws(() => new FileSemaphore('x', 0, { timeoutMs: 1 }), { name: 'RangeError', message: 'semaphore needs at least one slot, got 0' });
  });
}

function createHashHex(s: string): string {
  return createHash('md5').update(s).digest('hex');
}
