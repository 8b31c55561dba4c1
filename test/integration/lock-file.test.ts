// Tile locks between real processes: exclusion, timeout, takeover of a lock whose holder was
// killed, and removal of the lock file on release. MapProxy: one lock per meta tile in
// tile_lock_dir, polled until the timeout (REFERENCE.md §2.7).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LockTimeoutError } from '../../src/errors.js';
import { LOCK_SUFFIX, acquireFileLock, lockPathFor } from '../../src/cache/lock.js';

interface Reply {
  op: string;
  code?: string;
  message?: string;
}

/** A forked lock holder (test/fixtures/lock/holder.ts) and a way to talk to it. */
class Holder {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  #replies: Reply[] = [];
  #waiters: Array<(r: Reply) => void> = [];

  constructor() {
    this.child = fork(new URL('../fixtures/lock/holder.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.on('message', (r: Reply) => {
      const w = this.#waiters.shift();
      if (w) w(r);
      else this.#replies.push(r);
    });
  }

  next(): Promise<Reply> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async ask(msg: object): Promise<Reply> {
    this.child.send(msg);
    return this.next();
  }

  static async start(): Promise<Holder> {
    const h = new Holder();
    assert.equal((await h.next()).op, 'ready');
    return h;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

const exists = (p: string) => fs.stat(p).then(() => true, () => false);

// The cases use separate lock files and run concurrently: most of their time is process start-up
// and waiting out stale times.
describe('file locks between processes', { concurrency: true }, () => {
  let dir: string;
  const holders: Holder[] = [];
  const start = async () => {
    const h = await Holder.start();
    holders.push(h);
    return h;
  };
  let n = 0;
  const lockPath = () => lockPathFor(path.join(dir, 'tile_locks'), 'd41d8cd98f00b204e9800998ecf8427e', [++n, 2, 3]);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-'));
  });
  after(async () => {
    await Promise.all(holders.map((h) => h.stop()));
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('lets only one process at a time into the critical section', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const counterPath = path.join(dir, 'counter');
    await fs.writeFile(counterPath, '0');
    const lp = lockPath();
    const msg = { op: 'count', lockPath: lp, counterPath, iterations: 25, staleMs: 5000 };
    const replies = await Promise.all([a.ask(msg), b.ask(msg)]);
    assert.deepEqual(replies, [{ op: 'counted' }, { op: 'counted' }]);
    // Each increment is read-sleep-write: without exclusion some would be lost.
    assert.equal(await fs.readFile(counterPath, 'utf8'), '50');
    assert.equal(await exists(lp + LOCK_SUFFIX), false, 'lock removed after the last release');
  });

  it('times out with MPX_ERR_LOCK_TIMEOUT while another process holds the lock', async () => {
    const h = await start();
    const lp = lockPath();
    assert.deepEqual(await h.ask({ op: 'acquire', path: lp, timeoutMs: 1000, staleMs: 10_000 }), { op: 'acquired' });
    await assert.rejects(acquireFileLock(lp, { timeoutMs: 300, staleMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof LockTimeoutError);
      assert.equal(err.code, 'MPX_ERR_LOCK_TIMEOUT');
      assert.equal(err.status, 500);
      assert.equal(err.lockFile, lp);
      assert.equal(err.message, `timed out after 0.3 s waiting for a lock held by another process`);
      return true;
    });
    // released by the holder, then free for us
    assert.deepEqual(await h.ask({ op: 'release' }), { op: 'released' });
    assert.equal(await exists(lp + LOCK_SUFFIX), false, 'lock file removed on release');
    const mine = await acquireFileLock(lp, { timeoutMs: 0, staleMs: 10_000 });
    await mine.release();
  });

  it('waits for a holder and gets the lock when it releases', async () => {
    const h = await start();
    const lp = lockPath();
    assert.deepEqual(await h.ask({ op: 'acquire', path: lp, timeoutMs: 1000, staleMs: 10_000 }), { op: 'acquired' });
    let got = false;
    const waiting = acquireFileLock(lp, { timeoutMs: 20_000, staleMs: 10_000, pollMs: 10 }).then((l) => {
      got = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got, false, 'the waiter must not get a held lock');
    assert.deepEqual(await h.ask({ op: 'release' }), { op: 'released' });
    const lock = await waiting;
    assert.equal(await exists(lp + LOCK_SUFFIX), true);
    await lock.release();
    await lock.release(); // idempotent
    assert.equal(await exists(lp + LOCK_SUFFIX), false);
  });

  it('never takes the lock from a live holder, even after the stale time', async () => {
    const h = await start();
    const lp = lockPath();
    assert.deepEqual(await h.ask({ op: 'acquire', path: lp, timeoutMs: 1000, staleMs: 2000 }), { op: 'acquired' });
    // Waiting 1.75 x staleMs: the holder keeps its lock fresh, so it is never stale.
    await assert.rejects(acquireFileLock(lp, { timeoutMs: 3500, staleMs: 2000, pollMs: 50 }), { code: 'MPX_ERR_LOCK_TIMEOUT' });
    assert.deepEqual(await h.ask({ op: 'release' }), { op: 'released' });
  });

  it('takes over the lock of a holder killed with SIGKILL after the stale time', async () => {
    const h = await start();
    const lp = lockPath();
    const staleMs = 3000;
    assert.deepEqual(await h.ask({ op: 'acquire', path: lp, timeoutMs: 1000, staleMs }), { op: 'acquired' });
    h.child.kill('SIGKILL');
    await h.exited;
    const killedAt = Date.now();
    assert.equal(await exists(lp + LOCK_SUFFIX), true, 'a killed holder leaves its lock behind');
    const lock = await acquireFileLock(lp, { timeoutMs: 30_000, staleMs, pollMs: 50 });
    const waited = Date.now() - killedAt;
    // The holder refreshed the lock about every `update` (1 s for a 3 s stale time) before dying,
    // so the takeover comes no sooner than staleMs - 1 s (less a margin for a late refresh timer);
    // an implementation that ignored staleness would take it at once. Generous bounds for slow CI.
    assert.ok(waited >= staleMs - 1000 - 750, `taken over after ${waited} ms, before the stale time`);
    assert.ok(waited <= staleMs + 15_000, `taken over only after ${waited} ms`);
    await lock.release();
    assert.equal(await exists(lp + LOCK_SUFFIX), false);
  });

  it('removes the lock when its holder exits normally while holding it', async () => {
    const h = await start();
    const lp = lockPath();
    assert.deepEqual(await h.ask({ op: 'acquire', path: lp, timeoutMs: 1000, staleMs: 10_000 }), { op: 'acquired' });
    assert.equal(await exists(lp + LOCK_SUFFIX), true);
    h.child.send({ op: 'exit' });
    assert.equal(await h.exited, 0);
    assert.equal(await exists(lp + LOCK_SUFFIX), false);
    const lock = await acquireFileLock(lp, { timeoutMs: 0, staleMs: 10_000 });
    await lock.release();
  });
});
