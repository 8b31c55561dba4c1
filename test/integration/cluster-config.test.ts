/**
 * The `serve` cluster with one configuration for its whole life (issue 3, acceptance 4 and the
 * first half of 5): two workers and a spare share one cache and one lock dir, so 64 concurrent
 * requests for one uncached meta tile cause one upstream request; a broken configuration on
 * SIGHUP leaves the old workers serving; readiness reaches pm2 (IPC) and systemd (NOTIFY_SOCKET);
 * `--max-requests` replaces workers without failing a request; `--log-config` reaches the workers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, get, getAlone } from '../helpers/server.js';
import { clusterYaml, startServe, startNotifyListener, waitFor, wmtsTile, type LogLine, type NotifyListener, type ServeProcess } from '../helpers/serve.js';
import { startLoad } from '../helpers/load.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let notify: NotifyListener;
let serve: ServeProcess;
let goodYaml: string;

const tile = (x: number, y: number) => wmtsTile(x, y, 6);

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(clusterYaml(upstream.url));
  goodYaml = await readFile(cfg.file, 'utf8');
  notify = await startNotifyListener(cfg.dir);
  const logConfig = join(cfg.dir, 'log.yaml');
  await writeFile(logConfig, 'level: info\nloggers:\n  mapproxy.source.request: warn\n');
  serve = await startServe(cfg.file, ['-w', '2', '--max-requests', '100', '--max-requests-jitter', '0', '--log-config', logConfig], {
    // Unset: the workers get the default pool (a CI shell could export one).
    env: { NOTIFY_SOCKET: notify.path, UV_THREADPOOL_SIZE: undefined, MALLOC_MMAP_THRESHOLD_: undefined, GLIBC_TUNABLES: undefined },
  });
});

after(async () => {
  await serve?.kill();
  await notify?.close();
  await upstream?.close();
  await cfg?.cleanup();
});

test('readiness: a ready line with the workers, the IPC message for pm2, READY=1 for systemd', async () => {
  const ready = serve.logs().find((l) => l.msg === 'ready');
  assert.ok(ready);
  assert.equal((ready.workers as number[]).length, 2);
  assert.deepEqual(serve.listeningWorkers().sort(), [...(ready.workers as number[])].sort());
  // Each worker says what it runs with, as the master passed it on: the fast lane (default) and
  // --max-requests (jitter 0).
  const isListening = (l: LogLine): boolean => l.name === 'mapproxy.worker' && l.msg === 'listening';
  await waitFor(() => serve.logs().filter(isListening).length === 2, 'both workers\' listening lines');
  const listening = serve.logs().filter(isListening);
  assert.deepEqual(listening.map((l) => l.pid).sort(), [...(ready.workers as number[])].sort());
  for (const l of listening) assert.deepEqual([l.fastLane, l.maxRequests, l.threadpool], [true, 100, 2]);
  // The pool size is the worker's environment, which libuv reads: two threads by default.
  for (const l of listening) {
    const environ = await readFile(`/proc/${l.pid as number}/environ`, 'latin1');
    assert.match(environ, /(^|\0)UV_THREADPOOL_SIZE=2\0/);
    // And glibc's malloc keeps its mmap threshold fixed (workerMallocEnv).
    assert.match(environ, /(^|\0)MALLOC_MMAP_THRESHOLD_=131072\0/);
  }
  // And V8 runs them with the memory options the master adds (workerExecArgv).
  for (const l of listening) {
    const argv = (await readFile(`/proc/${l.pid as number}/cmdline`, 'latin1')).split('\0');
    assert.ok(argv.includes('--max-semi-space-size=1') && argv.includes('--optimize-for-size'), argv.join(' '));
  }
  await waitFor(() => serve.readyMessages() === 1, 'the IPC ready message');
  await waitFor(() => notify.messages().length > 0, 'a systemd notification');
  // systemd-notify sends MAINPID from --pid; NotifyAccess=all lets systemd accept it from a child.
  assert.equal(notify.messages()[0], `MAINPID=${serve.pid} READY=1 STATUS=serving with 2 workers`);
});

test('2 workers, 64 concurrent requests for the 16 tiles of one uncached meta tile: one upstream request', async () => {
  // Slow upstream: every request arrives while the meta tile is being made.
  upstream.setDelay(300);
  const before = upstream.count();
  const tiles: Array<[number, number]> = [];
  for (let dx = 0; dx < 4; dx++) for (let dy = 0; dy < 4; dy++) tiles.push([8 + dx, 20 + dy]);
  const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => get(serve.url + tile(...tiles[i % 16]))));
  upstream.setDelay(0);
  assert.equal(upstream.count() - before, 1, 'upstream requests for one meta tile');
  for (let i = 0; i < 64; i++) {
    assert.equal(answers[i].status, 200);
    assert.equal(answers[i].headers.get('content-type'), 'image/png');
    assert.ok(answers[i].body.equals(answers[i % 16].body), `answer ${i} is the same tile as answer ${i % 16}`);
  }
  const stored = await readFile(join(cfg.dir, 'cache', 'proof_cache_EPSG3857', '06', '000', '000', '008', '000', '000', '020.png'));
  // GLOBAL_WEBMERCATOR counts rows from the north (origin nw), as WMTS does, so the tc path has y 20.
  assert.ok(stored.equals(answers[0].body), 'the answer is the stored tile');
  // --log-config reaches the workers: the upstream request is not logged at info.
  assert.deepEqual(serve.logs().filter((l) => l.name === 'mapproxy.source.request'), []);
});

test('a broken configuration on SIGHUP: error logged, the old workers keep serving, systemd told RELOADING then READY', async () => {
  const workers = serve.listeningWorkers().sort();
  const from = serve.logs().length;
  const notes = notify.messages().length;
  await writeFile(cfg.file, goodYaml.replace('sources: [up]', 'sources: [nope]'));
  serve.child.kill('SIGHUP');
  const line = await serve.waitForLog((l) => l.msg === 'reload aborted: the configuration is invalid; the old workers keep serving', { from });
  assert.equal(line.level, 50);
  assert.match(String(line.err), /caches\.proof_cache\.sources\[0\]: unknown source "nope"/);
  await waitFor(() => notify.messages().length >= notes + 2, 'RELOADING and READY notifications');
  assert.match(notify.messages()[notes], new RegExp(`^MAINPID=${serve.pid} RELOADING=1 MONOTONIC_USEC=\\d+$`));
  assert.equal(notify.messages()[notes + 1], `MAINPID=${serve.pid} READY=1`);
  for (let i = 0; i < 6; i++) assert.equal((await get(serve.url + tile(8, 20))).status, 200);
  assert.deepEqual(serve.listeningWorkers().sort(), workers, 'the same workers serve');
  assert.deepEqual(serve.logs().slice(from).filter((l) => l.name === 'mapproxy.master' && l.msg !== undefined && /drain|forked|listening|stopped/.test(l.msg)), []);
  await writeFile(cfg.file, goodYaml);
});

test('--max-requests replaces each worker after 100 requests, rolling: no request fails, even with the log config broken on disk meanwhile', async () => {
  const first = serve.listeningWorkers().sort();
  const from = serve.logs().length;
  // Workers apply the log settings the master checked, never the file: an edit waits for SIGHUP.
  await writeFile(join(cfg.dir, 'log.yaml'), 'level: bogus\n');
  const paths = Array.from({ length: 16 }, (_, i) => tile(8 + (i % 4), 20 + Math.floor(i / 4)));
  // node:cluster spreads connections, not requests, round-robin: with keep-alive one worker may
  // get more of them. Send batches until both first workers asked to be replaced (bounded).
  const retiredPid = (pid: number) => serve.logs().slice(from).some((l) => l.msg === 'max requests reached: replacing the worker' && l.workerPid === pid);
  let sent = 0;
  for (let batch = 0; batch < 8 && !first.every(retiredPid); batch++) {
    const load = startLoad({ origin: serve.url, paths, connections: 4, durationMs: 30_000, totalRequests: 120 });
    await load.finished;
    const result = await load.stop();
    assert.deepEqual(result.errors, {});
    assert.deepEqual(result.statuses, { 200: 120 });
    sent += 120;
  }
  assert.ok(sent >= 120, `requests sent: ${sent}`);
  for (const pid of first) {
    const retired = serve.logs().slice(from).find((l) => l.msg === 'max requests reached: replacing the worker' && l.workerPid === pid);
    assert.ok(retired, `worker ${pid} asked to be replaced`);
    assert.ok(Number(retired.served) >= 100);
    await serve.waitForLog((l) => l.msg === 'worker stopped' && l.workerPid === pid, { from });
    // Said as what it is, not as a reload.
    const drained = serve.logs().slice(from).find((l) => l.msg === 'draining a worker' && l.workerPid === pid);
    assert.deepEqual({ mode: drained?.mode, reason: drained?.reason }, { mode: 'reload', reason: 'max-requests' });
  }
  const now = serve.listeningWorkers();
  assert.equal(now.length, 2);
  assert.deepEqual(now.filter((p) => first.includes(p)), [], 'both workers were replaced');
  assert.doesNotMatch(serve.output(), /bogus|ConfigError|exited before/);
});

test('a broken --log-config on SIGHUP: the reload is refused, the old workers keep serving; fixed, the next SIGHUP applies it', async () => {
  const logConfig = join(cfg.dir, 'log.yaml');
  await writeFile(logConfig, 'level: bogus\n');
  const workers = serve.listeningWorkers().sort();
  let from = serve.logs().length;
  serve.child.kill('SIGHUP');
  const line = await serve.waitForLog((l) => l.msg === 'reload aborted: the log configuration is invalid; the old workers keep serving', { from });
  assert.equal(line.level, 50);
  assert.equal(line.err, `invalid log configuration ${logConfig}:\n  level: unknown level "bogus"; expected one of trace, debug, info, warn, error, fatal, silent`);
  for (let i = 0; i < 4; i++) assert.equal((await get(serve.url + tile(8, 20))).status, 200);
  assert.deepEqual(serve.listeningWorkers().sort(), workers, 'the same workers serve');
  assert.equal(serve.logs().slice(from).some((l) => l.msg === 'configuration ok: replacing the workers one by one'), false);

  // Fixed, with upstream requests now logged: the next reload hands it to new workers.
  await writeFile(logConfig, 'level: info\nloggers:\n  mapproxy.source.request: info\n');
  from = serve.logs().length;
  serve.child.kill('SIGHUP');
  await serve.waitForLog((l) => l.msg === 'reload complete', { from, timeoutMs: 30_000 });
  assert.deepEqual(serve.listeningWorkers().filter((p) => workers.includes(p)), [], 'new workers');
  // On a connection of its own: a kept-alive one may still reach a draining old worker.
  const miss = await getAlone(serve.url + wmtsTile(0, 0, 5));
  assert.deepEqual([miss.status, miss.headers['x-cache']], [200, 'MISS']);
  await waitFor(() => serve.logs().slice(from).some((l) => l.name === 'mapproxy.source.request'), 'an upstream request logged by a new worker');
  await writeFile(logConfig, 'level: info\nloggers:\n  mapproxy.source.request: warn\n');
});

test('a reload aborted because the master cannot open the new log file changes nothing: a worker replaced afterwards serves the old configuration', async () => {
  const logConfig = join(cfg.dir, 'log.yaml');
  await writeFile(join(cfg.dir, 'plain'), 'a file where the log directory would be');
  await writeFile(logConfig, 'file: {path: plain/mp.log}\n');
  await writeFile(cfg.file, goodYaml.replace('title: cluster proof', 'title: reloaded title'));
  try {
    const from = serve.logs().length;
    serve.child.kill('SIGHUP');
    const line = await serve.waitForLog((l) => l.msg === 'reload aborted: the log file cannot be opened; the old workers keep serving', { from, timeoutMs: 30_000 });
    assert.match(String(line.err), /^cannot open the log file .*plain\/mp\.log: a part of its path is a file, not a directory \(EEXIST\)/);
    // Crashes now: the spare booted before takes over the first; the spare forked after the abort
    // the second. Both must build what the old workers serve.
    let spareFrom = 0;
    for (let crash = 0; crash < 2; crash++) {
      await serve.waitForLog((l) => l.msg === 'spare worker standing by', { from: spareFrom, timeoutMs: 30_000 });
      const [victim] = serve.listeningWorkers();
      spareFrom = serve.logs().length;
      process.kill(victim, 'SIGKILL');
      await waitFor(() => serve.listeningWorkers().length === 2 && !serve.listeningWorkers().includes(victim), 'the crashed worker replaced');
    }
    for (let i = 0; i < 6; i++) {
      const caps = await getAlone(`${serve.url}/wmts/1.0.0/WMTSCapabilities.xml`);
      assert.equal(caps.status, 200);
      assert.ok(caps.body.toString().includes('cluster proof') && !caps.body.toString().includes('reloaded title'), 'the old configuration');
    }
    // The master still logs to stdout as before.
    assert.ok(serve.logs().slice(from).some((l) => l.name === 'mapproxy.master' && l.msg === 'worker listening'));
  } finally {
    await writeFile(cfg.file, goodYaml);
    await writeFile(logConfig, 'level: info\nloggers:\n  mapproxy.source.request: warn\n');
  }
});

test('with the access log on, the listening line says the fast lane is off and why, and every tile is logged', async () => {
  const logConfig = join(cfg.dir, 'access-log.yaml');
  await writeFile(logConfig, 'level: info\naccess_log: true\n');
  const own = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0', '--log-config', logConfig]);
  try {
    const line = await own.waitForLog((l) => l.name === 'mapproxy.worker' && l.msg === 'listening', { timeoutMs: 30_000 });
    assert.deepEqual([line.fastLane, line.fastLaneOff], [false, 'access log']);
    const path = tile(5, 5);
    for (let i = 0; i < 3; i++) assert.equal((await get(`${own.url}${path}`)).status, 200);
    await waitFor(() => own.logs().filter((l) => l.name === 'mapproxy.access' && l.path === path).length === 3, 'an access line per request, hits included');
  } finally {
    await own.kill();
  }
});
