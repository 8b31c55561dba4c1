/**
 * Failures of the `serve` cluster (issue 3, acceptance 2 and the master's start-up checks): a
 * worker SIGKILLed under load while it holds a meta tile's lock is replaced within 2 s, only
 * requests in flight on it fail, no partial tile is left, the meta tile is served again within
 * the lock's stale timeout and the worker that takes the lock over removes the dead one's temp
 * files of that meta tile; an invalid configuration fails before any port is bound; a port in
 * use fails with one line before any fork; workers that die before they listen are restarted
 * with backoff until the master gives up on the crash loop.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, readlink, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import sharp from 'sharp';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, get, startApp } from '../helpers/server.js';
import { clusterYaml, startServe, waitFor, wmtsTile, type ServeProcess } from '../helpers/serve.js';
import { startLoad } from '../helpers/load.js';
import { LOCK_STALE_MS } from '../../src/config/build.js';
import { FileTileStorage } from '../../src/cache/storage/file.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let serve: ServeProcess | undefined;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(clusterYaml(upstream.url));
});

after(async () => {
  await serve?.kill();
  await upstream?.close();
  await cfg?.cleanup();
});

/** Inodes of established TCP connections to 127.0.0.1:`port` (Linux /proc). */
async function socketsTo(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[2] === `0100007F:${hexPort}` && f[3] === '01') inodes.add(f[9]);
  }
  return inodes;
}

/** Which of `pids` holds a connection to the upstream. */
async function pidsConnectedTo(port: number, pids: readonly number[]): Promise<number[]> {
  const inodes = await socketsTo(port);
  const out: number[] = [];
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1])) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

async function freePort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

test('SIGKILL of the worker holding a meta tile lock under load: replaced within 2 s, no partial tile, served within the stale timeout', async (t) => {
  // Warm the tiles of the load in this process, so no worker has talked to the upstream yet and
  // the only worker connected to it is the one that will hold the lock.
  const cached: string[] = [];
  for (let x = 0; x < 8; x++) for (let y = 0; y < 8; y++) cached.push(wmtsTile(x, y, 6));
  const warm = await startApp(cfg.file);
  for (const p of cached) assert.equal((await get(warm.url + p)).status, 200);
  await warm.close();

  serve = await startServe(cfg.file, ['-w', '2']);
  const spare = await serve.waitForLog((l) => l.msg === 'spare worker standing by');
  const load = startLoad({ origin: serve.url, paths: cached, connections: 32, durationMs: 60_000 });
  t.after(() => load.stop());

  // The next upstream request hangs: the worker that makes it holds the meta tile's lock.
  const victimTile = wmtsTile(40, 24, 6);
  upstream.fail({ kind: 'delay', ms: 60_000 }, 1);
  const before = upstream.count();
  const pending = get(serve.url + victimTile).catch((err: Error) => err);
  await waitFor(() => upstream.count() === before + 1, 'the upstream request of the victim');
  const holders = await pidsConnectedTo(upstream.port, serve.listeningWorkers());
  assert.equal(holders.length, 1, `one worker talks to the upstream: ${holders.join(', ')}`);
  const locks = await readdir(join(cfg.dir, 'tile_locks'));
  assert.ok(locks.some((f) => f.includes('-40-24-6.lck')), `the meta tile is locked: ${locks.join(', ')}`);

  // What the holder leaves when it is killed between writing a tile's temp file and renaming it
  // (ours, and MapProxy's name for the same), plus a temp file of a tile of another meta tile in
  // the same directory, which whoever takes the lock over must leave alone.
  const storage = new FileTileStorage({ directory: join(cfg.dir, 'cache', 'proof_cache_EPSG3857'), extension: 'png' });
  // GLOBAL_WEBMERCATOR counts rows from the north, as WMTS does: the meta tile is x 40-43, y 24-27.
  const leftovers = [`${storage.tileLocation([40, 24, 6])}.${holders[0]}-7-abcdef0123.tmp`, `${storage.tileLocation([43, 27, 6])}.tmp-31415926`];
  const otherMeta = `${storage.tileLocation([40, 28, 6])}.${holders[0]}-8-abcdef0123.tmp`;
  for (const f of [...leftovers, otherMeta]) {
    await mkdir(dirname(f), { recursive: true });
    await writeFile(f, 'half a tile');
  }

  const from = serve.logs().length;
  const killedAt = Date.now();
  process.kill(holders[0], 'SIGKILL');
  // Acceptance: replaced within 2 s. The spare, booted in advance, starts listening at once.
  const takeover = await serve.waitForLog((l) => l.msg === 'worker listening' && l.workerPid === spare.workerPid, { from, timeoutMs: 2_000 });
  const replacedAt = Date.now();
  assert.ok(serve.logs().slice(from).some((l) => l.msg === 'worker died' && l.workerPid === holders[0] && l.signal === 'SIGKILL'));
  assert.ok(takeover);
  assert.ok((await pending) instanceof Error, 'the request in flight on the killed worker failed');

  // The lock of the dead worker is taken over once stale; the tile is served again.
  const t0 = Date.now();
  const again = await get(serve.url + victimTile);
  const waited = Date.now() - t0;
  assert.equal(again.status, 200);
  assert.equal(upstream.count(), before + 2, 'the meta tile was requested again');
  assert.ok(waited <= LOCK_STALE_MS + 5_000, `waited ${waited} ms, stale timeout ${LOCK_STALE_MS} ms`);
  // The taker removes the dead holder's temp files of this meta tile, and only those (in the
  // background: the request does not wait for it).
  const cleared = await serve.waitForLog((l) => l.msg === 'removed temp files of a dead lock holder', { from });
  assert.deepEqual([cleared.name, cleared.cache, cleared.removed], ['mapproxy.cache', 'proof_cache', 2]);
  for (const f of leftovers) await assert.rejects(stat(f), { code: 'ENOENT' }, f);
  assert.equal(await readFile(otherMeta, 'utf8'), 'half a tile');
  await unlink(otherMeta);

  const result = await load.stop();
  const failed = result.records.filter((r) => r.status !== 200);
  assert.ok(failed.length <= 32, `at most one failure per connection: ${failed.length}`);
  for (const r of failed) {
    assert.ok(r.error !== undefined, `a failure is a lost connection, not an HTTP error: ${JSON.stringify(r)}`);
    assert.ok(r.start <= replacedAt && r.end >= killedAt, `failed request was in flight at the kill: ${JSON.stringify(r)}`);
  }
  assert.ok(result.records.filter((r) => r.start > replacedAt).length > 0, 'requests went on after the replacement');

  // No partial tile and no lock left behind.
  const files = await listFiles(join(cfg.dir, 'cache'));
  assert.deepEqual(files.filter((f) => !f.endsWith('.png')), [], 'no temp or partial files');
  for (const f of files) await sharp(await readFile(f)).raw().toBuffer();
  await waitFor(async () => (await readdir(join(cfg.dir, 'tile_locks'))).length === 0, 'the lock files to be gone');

  serve.child.kill('SIGTERM');
  assert.deepEqual(await serve.exited(), { code: 0, signal: null });
  serve = undefined;
});

test('an invalid configuration exits 78 (EX_CONFIG, not restarted by pm2 or systemd) with the error before binding the port', async () => {
  const held = await freePort();
  try {
    const bad = await tempConfig(clusterYaml(upstream.url).replace('sources: [up]', 'sources: [missing]'));
    const s = await startServe(bad.file, ['-b', `127.0.0.1:${held.port}`, '-w', '2'], { waitReady: false });
    const exit = await s.exited();
    await bad.cleanup();
    assert.deepEqual(exit, { code: 78, signal: null });
    // The port is held by this test: had the master bound it first, the error would be EADDRINUSE.
    assert.equal(s.output(), `mapproxy-ts: invalid configuration ${bad.file}:\n  caches.proof_cache.sources[0]: unknown source "missing"\n`);
    assert.deepEqual(s.logs(), [], 'no worker was started');
    // Only pm2 waiting for it (wait_ready) is sent 'ready' on a failed start: see deploy-pm2.
    assert.equal(s.readyMessages(), 0);
  } finally {
    await held.close();
  }
});

test('a port in use or an address not of this host: one line on stderr, exit 1, no worker forked', async () => {
  const held = await freePort();
  try {
    for (const [bind, why] of [
      [`127.0.0.1:${held.port}`, 'the address is already in use (EADDRINUSE)'],
      ['192.0.2.1:8080', 'the address is not one of this host (EADDRNOTAVAIL)'], // TEST-NET-1: bound nowhere
    ]) {
      const s = await startServe(cfg.file, ['-b', bind, '-w', '2'], { waitReady: false });
      assert.deepEqual(await s.exited(), { code: 1, signal: null });
      assert.equal(s.output(), `mapproxy-ts: cannot listen on ${bind}: ${why}\n`);
      assert.equal(s.readyMessages(), 0);
    }
    // --metrics-bind on the same address: the master binds it first, then the probe finds it taken.
    const free = await freePort();
    await free.close();
    const same = `127.0.0.1:${free.port}`;
    const s = await startServe(cfg.file, ['-b', same, '--metrics-bind', same, '-w', '2'], { waitReady: false });
    assert.deepEqual(await s.exited(), { code: 1, signal: null });
    assert.equal(s.output().split('\n').filter((l) => !l.startsWith('{')).join('\n'), `mapproxy-ts: cannot listen on ${same}: the address is already in use (EADDRINUSE)\n`);
    assert.ok(!s.logs().some((l) => /worker/.test(String(l.msg))), 'no worker forked');
  } finally {
    await held.close();
  }
});

test('workers that die before they listen: restarts back off, the master gives up on the crash loop with exit 1', async () => {
  const s = await startServe(cfg.file, ['-w', '2'], { waitReady: false });
  // The configuration is checked in a child of its own; the system lines come after that check.
  await s.waitForLog((l) => l.name === 'mapproxy.system');
  // Kill every worker as soon as it is forked, long before it can listen (as an OOM killer might).
  let exited = false;
  const exit = s.exited().then((e) => {
    exited = true;
    return e;
  });
  const killed = new Set<number>();
  while (!exited) {
    const children = await readFile(`/proc/${s.pid}/task/${s.pid}/children`, 'utf8').catch(() => '');
    for (const pid of children.split(' ').filter(Boolean).map(Number)) {
      if (killed.has(pid)) continue;
      killed.add(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(await exit, { code: 1, signal: null });
  const master = s.logs().filter((l) => l.name === 'mapproxy.master');
  const failures = master.filter((l) => l.msg === 'worker failed to start');
  assert.deepEqual(failures.map((f) => f.signal), Array(5).fill('SIGKILL'));
  for (const f of failures) assert.ok(killed.has(f.workerPid as number), `worker ${f.workerPid} was one the test killed`);
  // MapProxy has no master; the backoff doubles from 100 ms per crash.
  assert.deepEqual(master.filter((l) => l.msg === 'a new worker will be started').map((l) => l.delayMs), [100, 200, 400, 800]);
  const fatal = master.find((l) => l.level === 60);
  assert.equal(fatal?.msg, 'crash loop: 5 workers in a row exited before they were listening; giving up');
  assert.ok(!master.some((l) => l.msg === 'ready'));
  assert.equal(s.readyMessages(), 0);
});

test('with port 0 the port picked first stays: the only worker dies and its replacement listens on it', async () => {
  const own = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0']);
  try {
    const [first] = own.listeningWorkers();
    assert.ok(first);
    // No worker listens for a moment, so node:cluster closes the port; the replacement must not
    // ask for port 0 again (a new random port nobody knows).
    process.kill(first, 'SIGKILL');
    await waitFor(() => own.listeningWorkers().length === 1 && own.listeningWorkers()[0] !== first, 'the replacement listening');
    assert.equal((await get(`${own.url}/healthz`)).status, 200);
  } finally {
    await own.kill();
  }
});
