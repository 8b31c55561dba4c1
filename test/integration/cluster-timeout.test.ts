/**
 * The master's `--timeout` (gunicorn's worker timeout): every worker sends a heartbeat over the
 * cluster's IPC channel, and one silent for longer than the timeout (its event loop blocked; here
 * the process is stopped with SIGSTOP, which silences it the same way) is killed and replaced,
 * counted as a restart for `timeout`. A master that was itself held up kills nobody for the beats
 * it did not read meanwhile; `--timeout 0` turns the heartbeat off. Real master and worker
 * processes on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { get } from '../helpers/server.js';
import { clusterFixture, isAlive, newChildOf, startServe, waitFor, wmtsTile } from '../helpers/serve.js';
import { family, parseSamples } from './metrics-helpers.js';
import { WORKER_OPTIONS_ENV, type WorkerOptions } from '../../src/worker/protocol.js';

const fx = clusterFixture();
const SILENT = 'worker silent for longer than --timeout (its event loop is blocked): killing it';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The options the master gave worker `pid` (its environment). */
async function workerOptions(pid: number): Promise<WorkerOptions> {
  const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
  const raw = environ.split('\0').find((kv) => kv.startsWith(`${WORKER_OPTIONS_ENV}=`));
  assert.ok(raw, 'worker options in the environment');
  return JSON.parse(raw.slice(WORKER_OPTIONS_ENV.length + 1)) as WorkerOptions;
}

test('a worker silent past --timeout is killed and replaced; the restart is counted as timeout', async () => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', '--timeout', '3']);
  try {
    const [old] = serve.listeningWorkers();
    assert.ok(old);
    assert.equal((await workerOptions(old)).heartbeatMs, 750);
    const from = serve.logs().length;
    // A stopped process runs no JavaScript, as a worker stuck in a loop: no heartbeat.
    process.kill(old, 'SIGSTOP');
    const silent = await serve.waitForLog((l) => l.msg === SILENT, { from });
    assert.equal(silent.workerPid, old);
    assert.equal(silent.timeoutMs, 3000);
    assert.ok((silent.silentMs as number) > 3000, `silent for ${String(silent.silentMs)} ms`);
    const died = await serve.waitForLog((l) => l.msg === 'worker died' && l.workerPid === old, { from });
    assert.equal(died.signal, 'SIGKILL');
    await waitFor(() => serve.listeningWorkers().length === 1 && serve.listeningWorkers()[0] !== old, 'a new worker listening');
    assert.equal(isAlive(old), false);
    // On the same port, although no worker listened for a moment (port 0 is picked once).
    const tile = await get(serve.url + wmtsTile(3, 3, 4));
    assert.equal(tile.status, 200);
    assert.equal(tile.headers.get('content-type'), 'image/png');
    const metrics = parseSamples((await get(`${serve.url}/metrics`)).body.toString());
    assert.deepEqual(family(metrics, 'mapproxy_worker_restarts_total'), { 'reason="crash"': 0, 'reason="timeout"': 1, 'reason="max-requests"': 0, 'reason="reload"': 0, 'reason="descriptors"': 0 });
    assert.equal(serve.logs().slice(from).filter((l) => l.msg === SILENT).length, 1);
  } finally {
    await serve.kill();
  }
});

test('a master held up for longer than --timeout kills no worker when it runs again', async () => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', '--timeout', '2']);
  try {
    const [worker] = serve.listeningWorkers();
    assert.ok(worker);
    const from = serve.logs().length;
    // The worker's beats wait unread in the channel meanwhile; the master's check comes first.
    process.kill(serve.pid, 'SIGSTOP');
    await sleep(3500);
    process.kill(serve.pid, 'SIGCONT');
    // Two more timeouts with both running: the beats are read again.
    await sleep(4000);
    assert.deepEqual(serve.logs().slice(from).filter((l) => l.msg === SILENT || l.msg === 'worker died'), []);
    assert.deepEqual(serve.listeningWorkers(), [worker]);
    assert.equal((await get(`${serve.url}/healthz`)).status, 200);
  } finally {
    await serve.kill();
  }
});

test('the default --timeout is 30 s (a beat every 5 s); --timeout 0 sends no beat and kills nobody', async () => {
  const byDefault = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0']);
  try {
    const [worker] = byDefault.listeningWorkers();
    assert.ok(worker);
    assert.equal((await workerOptions(worker)).heartbeatMs, 5000);
  } finally {
    await byDefault.kill();
  }
  const never = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', '--timeout', '0']);
  try {
    const [worker] = never.listeningWorkers();
    assert.ok(worker);
    assert.equal((await workerOptions(worker)).heartbeatMs, undefined);
    process.kill(worker, 'SIGSTOP');
    await sleep(1500);
    process.kill(worker, 'SIGCONT');
    assert.deepEqual(never.listeningWorkers(), [worker]);
    assert.equal((await get(`${never.url}/healthz`)).status, 200);
  } finally {
    await never.kill();
  }
});

test('a worker silent past --timeout while it boots is named as such in "worker failed to start"', async () => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', '--timeout', '2']);
  try {
    const [first] = serve.listeningWorkers();
    assert.ok(first);
    const from = serve.logs().length;
    process.kill(first, 'SIGKILL');
    // Stop the replacement as soon as it exists, long before it listens (a start blocked in a build).
    const booting = await newChildOf(serve.pid, [first]);
    process.kill(booting, 'SIGSTOP');
    const failed = await serve.waitForLog((l) => l.msg === 'worker failed to start' && l.workerPid === booting, { from });
    assert.equal(failed.signal, 'SIGKILL');
    assert.match(String(failed.error), /^no heartbeat for \d+ ms \(--timeout 2 s\)$/);
    await waitFor(() => serve.listeningWorkers().length === 1, 'a worker listening again', 30_000);
    assert.equal((await get(`${serve.url}/healthz`)).status, 200);
  } finally {
    await serve.kill();
  }
});
