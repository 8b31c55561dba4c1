// Tile locks within one process (names, options, release, loss) and the in-process SingleFlight.
// Locks between processes: test/integration/lock-file.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { LockTimeoutError } from '../../../src/errors.js';
import { configureLogging } from '../../../src/log/index.js';
import { LOCK_SUFFIX, SingleFlight, acquireFileLock, cleanupLockDir, lockPathFor, withFileLock } from '../../../src/cache/lock.js';
import type { TileCoord } from '../../../src/grid/types.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/mapproxy-paths.json', import.meta.url), 'utf8')) as {
  lockCacheId: { id: string };
  lockFile: Array<{ coord: TileCoord; path: string }>;
};
const exists = (p: string) => fs.stat(p).then(() => true, () => false);

describe('lockPathFor', () => {
  it('names lock files as MapProxy 1.15 does', () => {
    for (const e of fixture.lockFile) assert.equal(lockPathFor('/locks', fixture.lockCacheId.id, e.coord), e.path);
  });
});

describe('acquireFileLock within one process', () => {
  let dir: string;
  let n = 0;
  const lockPath = () => path.join(dir, 'tile_locks', `abc-${++n}-0-3.lck`);
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates the lock dir on demand and removes the lock on release', async () => {
    const lp = lockPath();
    const lock = await acquireFileLock(lp, { timeoutMs: 1000, staleMs: 10_000 });
    assert.equal(await exists(lp + LOCK_SUFFIX), true);
    assert.equal(lock.tookOver, false);
    await lock.release();
    assert.equal(await exists(lp + LOCK_SUFFIX), false);
    await lock.release();
  });

  it('excludes a second taker in the same process until the timeout', async () => {
    const lp = lockPath();
    const lock = await acquireFileLock(lp, { timeoutMs: 1000, staleMs: 10_000 });
    const lines: string[] = [];
    configureLogging({ destination: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }) });
    try {
      await assert.rejects(acquireFileLock(lp, { timeoutMs: 100, staleMs: 10_000, pollMs: 10 }), (err: unknown) => {
        assert.ok(err instanceof LockTimeoutError);
        assert.equal(err.code, 'MPX_ERR_LOCK_TIMEOUT');
        assert.equal(err.ogcCode, 'NoApplicableCode');
        // The message reaches clients: no server path in it. The log has the path.
        assert.equal(err.message, `timed out after 0.1 s waiting for a lock held by another process`);
        return true;
      });
    } finally {
      configureLogging();
    }
    const logged = lines.map((l) => JSON.parse(l) as { level: number; name: string; msg: string; lockFile: string; timeoutMs: number });
    assert.deepEqual(logged.map((l) => [l.level, l.name, l.msg, l.lockFile, l.timeoutMs]), [
      [40, 'mapproxy.cache.lock', 'timed out waiting for a tile lock', lp, 100],
    ]);
    // timeoutMs 0: exactly one try
    await assert.rejects(acquireFileLock(lp, { timeoutMs: 0, staleMs: 10_000 }), { code: 'MPX_ERR_LOCK_TIMEOUT' });
    await lock.release();
    const again = await acquireFileLock(lp, { timeoutMs: 0, staleMs: 10_000 });
    // Released by its holder, not abandoned: nothing to clear up after it.
    assert.equal(again.tookOver, false);
    await again.release();
  });

  it('runs withFileLock bodies one at a time and releases when the body throws', async () => {
    const lp = lockPath();
    const order: string[] = [];
    const body = (name: string) => async () => {
      order.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 20));
      order.push(`${name} out`);
      return name;
    };
    const opts = { timeoutMs: 5000, staleMs: 10_000, pollMs: 5 };
    const results = await Promise.all([withFileLock(lp, opts, body('a')), withFileLock(lp, opts, body('b'))]);
    assert.deepEqual(results, ['a', 'b']);
    assert.deepEqual(order.map((s) => s.split(' ')[1]), ['in', 'out', 'in', 'out']);
    await assert.rejects(
      withFileLock(lp, opts, () => {
        throw new Error('boom');
      }),
      { message: 'boom' },
    );
    assert.equal(await exists(lp + LOCK_SUFFIX), false);
  });

  it('takes over a lock left by a dead holder once it is stale', async () => {
    const lp = lockPath();
    await fs.mkdir(lp + LOCK_SUFFIX, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lp + LOCK_SUFFIX, old, old);
    const lines: string[] = [];
    configureLogging({ destination: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }) });
    let lock;
    try {
      lock = await acquireFileLock(lp, { timeoutMs: 0, staleMs: 5000 });
    } finally {
      configureLogging();
    }
    // The taker is told, so it can clear what the dead holder left (TileManager: its temp files).
    assert.equal(lock.tookOver, true);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; name: string; msg: string; lockFile: string });
    assert.deepEqual(logged.map((l) => [l.level, l.name, l.msg, l.lockFile]), [
      [30, 'mapproxy.cache.lock', 'took over the lock of a holder that stopped refreshing it', lp],
    ]);
    await lock.release();
    assert.equal(await exists(lp + LOCK_SUFFIX), false);
  });

  it('does not count a lock refreshed within the stale time as taken over', async () => {
    const lp = lockPath();
    await fs.mkdir(lp + LOCK_SUFFIX, { recursive: true });
    const recent = new Date(Date.now() - 3000);
    await fs.utimes(lp + LOCK_SUFFIX, recent, recent);
    // Held by a live holder (refreshed 3 s ago, stale after 5 s): the taker waits for it.
    await assert.rejects(acquireFileLock(lp, { timeoutMs: 0, staleMs: 5000 }), { code: 'MPX_ERR_LOCK_TIMEOUT' });
    await fs.rm(lp + LOCK_SUFFIX, { recursive: true });
    const lock = await acquireFileLock(lp, { timeoutMs: 0, staleMs: 5000 });
    assert.equal(lock.tookOver, false);
    await lock.release();
  });

  it('reports a lost lock through onCompromised without crashing, even if the callback throws', async () => {
    const lines: string[] = [];
    configureLogging({
      level: 'warn',
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    // proper-lockfile's refresh timer is unref'd; keep the loop alive until it fires.
    const keepAlive = setInterval(() => undefined, 100);
    try {
      const lp = lockPath();
      let lost: Error | undefined;
      const compromised = new Promise<void>((resolve) => {
        void acquireFileLock(lp, {
          timeoutMs: 0,
          staleMs: 2000,
          onCompromised: (err) => {
            lost = err;
            resolve();
            throw new Error('callback bug');
          },
        }).then(async (lock) => {
          // Someone removes the lock under us (an over-eager cleanup); the next refresh notices.
          await fs.rm(lp + LOCK_SUFFIX, { recursive: true });
          await compromised;
          assert.equal(lock.compromised, true);
          await lock.release(); // no error for a lost lock
        });
      });
      await compromised;
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((lost as NodeJS.ErrnoException | undefined)?.code, 'ECOMPROMISED');
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; name: string; lockFile: string });
      assert.deepEqual(
        logged.map((l) => [l.level, l.name, l.msg, l.lockFile]),
        [
          [40, 'mapproxy.cache.lock', 'lost a tile lock while holding it; continuing', lp],
          [50, 'mapproxy.cache.lock', 'onCompromised callback threw', lp],
        ],
      );
    } finally {
      clearInterval(keepAlive);
      configureLogging();
    }
  });

  it('rejects relative paths and bad options', async () => {
    await assert.rejects(acquireFileLock('tile_locks/x.lck', { timeoutMs: 1, staleMs: 1 }), {
      name: 'RangeError',
      message: 'lock path must be absolute, got "tile_locks/x.lck"',
    });
    await assert.rejects(acquireFileLock(lockPath(), { timeoutMs: -1, staleMs: 1 }), { message: 'lock timeoutMs must be >= 0, got -1' });
    await assert.rejects(acquireFileLock(lockPath(), { timeoutMs: 1, staleMs: 0 }), { message: 'lock staleMs must be > 0, got 0' });
    await assert.rejects(acquireFileLock(lockPath(), { timeoutMs: 1, staleMs: 1, pollMs: 0 }), { message: 'lock pollMs must be > 0, got 0' });
  });

  it('cleans lock entries older than the given age', async () => {
    const d = path.join(dir, 'cleanup');
    await fs.mkdir(d);
    const old = new Date(Date.now() - 120_000);
    for (const name of ['old-dir.lck.lock', 'old-file.lck.lock', 'old.txt', 'mapproxy.lck']) {
      const p = path.join(d, name);
      if (name.endsWith('dir.lck.lock')) await fs.mkdir(p);
      else await fs.writeFile(p, '');
      await fs.utimes(p, old, old);
    }
    await fs.mkdir(path.join(d, 'fresh.lck.lock'));
    assert.equal(await cleanupLockDir(d, 60_000), 2);
    // MapProxy's own .lck files are never touched.
    assert.deepEqual((await fs.readdir(d)).sort(), ['fresh.lck.lock', 'mapproxy.lck', 'old.txt']);
    assert.equal(await cleanupLockDir(path.join(dir, 'none'), 1), 0);
  });
});

describe('SingleFlight', () => {
  it('shares one call per key among concurrent callers', async () => {
    const sf = new SingleFlight<string, number>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const fn = async () => {
      calls++;
      await gate;
      return calls;
    };
    const all = [sf.run('a', fn), sf.run('a', fn), sf.run('a', fn), sf.run('b', fn)];
    assert.equal(sf.size, 2);
    release();
    assert.deepEqual(await Promise.all(all), [2, 2, 2, 2]);
    assert.equal(calls, 2);
    assert.equal(sf.size, 0);
    // settled: the key is free again
    assert.equal(await sf.run('a', async () => 42), 42);
  });

  it('shares a rejection, also of a function that throws synchronously, then frees the key', async () => {
    const sf = new SingleFlight<number, string>();
    const fn = (): Promise<string> => {
      throw new Error('sync failure');
    };
    const p1 = sf.run(1, fn);
    const p2 = sf.run(1, async () => 'not called');
    assert.equal(p1, p2);
    await assert.rejects(p1, { message: 'sync failure' });
    assert.equal(sf.size, 0);
    assert.equal(await sf.run(1, async () => 'fresh'), 'fresh');
  });
});
