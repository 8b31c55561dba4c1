/**
 * The open-file level under a low descriptor limit: a `serve` worker started with
 * `prlimit --nofile=160:160` keeps at most half of that as tile files (and says so at start), so
 * it still accepts connections and answers every tile when more tiles are hot than it may keep
 * open. The worker runs with `--no-fast-lane` (node:http reads every request; the bound is the
 * same), which this also checks end to end. Connections past what the limit leaves are closed at
 * once, before the worker runs out of descriptors. Real master and worker processes, files, sockets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { getAlone, tempConfig } from '../helpers/server.js';
import { clusterYaml, startServe, waitFor, wmtsTile, type ServeProcess } from '../helpers/serve.js';
import { connectionsWithin, descriptorLimit, openFilesWithin } from '../../src/cache/storage/open-files.js';
import net from 'node:net';
import { once } from 'node:events';

const LIMIT = 160;
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

/** Descriptors of `pid` open on files under `dir`. */
async function filesUnder(pid: number, dir: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir)) n++;
  }
  return n;
}

test('the descriptor limit is read from /proc/self/limits; tile files get at most half of it', () => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             95936                95936                processes ',
    'Max open files            1024                 524288               files     ',
  ].join('\n');
  assert.equal(descriptorLimit(limits), 1024);
  assert.equal(descriptorLimit(limits.replace('1024   ', 'unlimited')), Number.POSITIVE_INFINITY);
  assert.equal(descriptorLimit('no such line'), null);
  assert.equal(typeof descriptorLimit(), 'number');
  assert.equal(openFilesWithin(4096, 1024), 512);
  assert.equal(openFilesWithin(100, 1024), 100);
  assert.equal(openFilesWithin(4096, null), 4096);
  assert.equal(openFilesWithin(4096, Number.POSITIVE_INFINITY), 4096);
  assert.equal(openFilesWithin(4096, 1), 0);
});

test('connections past what the descriptors allow are closed at once; the worker answers again after the burst', async () => {
  // Half of the limit for tile files, an eighth (at most 64) in reserve, and what the worker holds
  // when it starts to listen: the rest for client connections, never fewer than 16.
  assert.deepEqual(
    [connectionsWithin(160, 25), connectionsWithin(160), connectionsWithin(400, 30), connectionsWithin(65_536, 25), connectionsWithin(160, 70), connectionsWithin(null, 25)],
    [35, 60, 120, 32_679, 16, Infinity],
  );
  const own = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0'], { wrap: ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'] });
  try {
    // The worker's line may come after the master's 'ready' (two writers on one pipe): wait for it.
    const listening = await own.waitForLog((l) => l.name === 'mapproxy.worker' && l.msg === 'listening');
    const atStart = Number(listening.descriptorsAtStart);
    // About 20 (dist) or 25 (tsx); more would leave fewer than the 30 connections of the bursts below.
    assert.ok(atStart >= 10 && atStart <= 30, `descriptors at start: ${atStart}`);
    const max = Number(listening.maxConnections);
    assert.equal(max, 60 - atStart);
    const port = Number(new URL(own.url).port);
    const sockets: net.Socket[] = [];
    let closedByServer = 0;
    for (let i = 0; i < 200; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedByServer++);
      sockets.push(s);
      await once(s, 'connect');
    }
    await waitFor(() => closedByServer >= 200 - max, `the connections past ${max} to be closed`);
    const warned = await own.waitForLog((l) => String(l.msg).startsWith('connection limit reached'));
    assert.equal(warned.maxConnections, max);
    for (const s of sockets) s.destroy();
    // Once the worker has seen the closes (until then a new connection may still be one too many).
    await waitFor(async () => (await getAlone(`${own.url}/healthz`).catch(() => null))?.status === 200, 'the worker to answer again');
    for (let i = 0; i < 5; i++) assert.equal((await getAlone(`${own.url}/healthz`)).status, 200);
    assert.equal((await getAlone(`${own.url}/wmts/1.0.0/WMTSCapabilities.xml`)).status, 200);
    // Every hand-over was received: no worker was replaced for want of descriptors.
    assert.deepEqual(own.logs().filter((l) => String(l.msg).startsWith('a connection could not be handed')), []);
  } finally {
    await own.kill();
  }
});

test('a worker with 160 descriptors keeps 80 tile files open and still answers 128 hot tiles and 30 new connections at once', async () => {
  serve = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0', '--no-fast-lane'], { wrap: ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'] });
  const warning = await serve.waitForLog((l) => l.name === 'mapproxy.config' && typeof l.msg === 'string' && l.msg.includes('open_files'));
  assert.equal(
    warning.msg,
    'globals.cache.memory_tier.open_files: keeping 80 tile files open, not 4096: the process may open 160 files (raise LimitNOFILE / ulimit -n)',
  );
  const [worker] = serve.listeningWorkers();
  assert.ok(worker);
  const listening = await serve.waitForLog((l) => l.name === 'mapproxy.worker' && l.msg === 'listening');
  assert.deepEqual([listening.pid, listening.fastLane, listening.maxRequests], [worker, false, 0]);
  // 128 tiles of level 6 (8 meta tiles): created, then read again as hits.
  const urls: string[] = [];
  for (let x = 0; x < 16; x++) for (let y = 0; y < 8; y++) urls.push(`${serve.url}${wmtsTile(x, y, 6)}`);
  const created = new Map<string, Buffer>();
  for (const u of urls) {
    const r = await getAlone(u);
    assert.equal(r.status, 200, u);
    created.set(u, r.body);
  }
  for (const u of urls) {
    const r = await getAlone(u);
    assert.equal(r.status, 200, u);
    assert.deepEqual(r.body, created.get(u));
  }
  // All 80 kept open (closing the ones let go of runs through the thread pool: wait for it).
  await waitFor(async () => (await filesUnder(worker, cfg.dir)) === 80, '80 tile files open');
  // 30 connections at once (what 160 descriptors leave: 80 files, a reserve of 20, about 25 of
  // the worker's own), each for a tile: every one accepted and answered.
  const burst = await Promise.all(urls.slice(0, 30).map((u) => getAlone(u)));
  assert.deepEqual(burst.map((r) => r.status), new Array(30).fill(200));
  assert.equal(upstream.count(), 8);
});

test('MultiMapProxy: the projects of one worker share the bound; every tile of both is created and answered', async () => {
  await serve?.kill();
  const projects = join(cfg.dir, 'projects');
  await mkdir(projects);
  for (const name of ['one', 'two']) {
    await writeFile(join(projects, `${name}.yaml`), clusterYaml(upstream.url).replace(/\.\/(cache|locks|tile_locks)/g, `./${name}_$1`));
  }
  serve = await startServe(projects, ['--multiapp', '-w', '1', '--spare-workers', '0'], { wrap: ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'] });
  const [worker] = serve.listeningWorkers();
  assert.ok(worker);
  const before = upstream.count();
  const urls: string[] = [];
  for (const name of ['one', 'two']) for (let x = 0; x < 16; x++) for (let y = 0; y < 8; y++) urls.push(`${serve.url}/${name}${wmtsTile(x, y, 6)}`);
  // Created, then read again: 256 tiles, 128 per project, against 80 files for the whole worker.
  for (const u of [...urls, ...urls]) assert.equal((await getAlone(u)).status, 200, u);
  assert.equal(upstream.count() - before, 16);
  await waitFor(async () => (await filesUnder(worker, projects)) === 80, '80 tile files open in all');
  // Both projects keep some: the one keeping the most gives way to the other.
  const perProject = await Promise.all(['one', 'two'].map((n) => filesUnder(worker, join(projects, `${n}_cache`))));
  assert.ok(perProject.every((n) => n >= 20), `tile files per project: ${perProject.join(', ')}`);
  const burst = await Promise.all(urls.slice(0, 30).map((u) => getAlone(u)));
  assert.deepEqual(burst.map((r) => r.status), new Array(30).fill(200));
});
