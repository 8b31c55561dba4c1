/**
 * A worker out of file descriptors when node:cluster hands it a connection: it cannot receive the
 * connection, Node gives up on it after a few tries, and node:cluster never hands that worker
 * another one (it waits for an answer that will not come). The master sees the failed hand-over
 * and replaces the worker, so the service answers again instead of hanging every new request.
 * Real master and worker processes; the worker's descriptors are really exhausted (a module
 * loaded into the workers opens /dev/null until EMFILE on SIGUSR2, test/fixtures/descriptors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getAlone } from '../helpers/server.js';
import { clusterFixture, isAlive, startServe, waitFor, wmtsTile } from '../helpers/serve.js';
import { family, parseSamples } from './metrics-helpers.js';

const fx = clusterFixture();
const EXHAUST = join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/descriptors/exhaust.mjs');
const LOST =
  "a connection could not be handed to the worker (out of file descriptors: raise LimitNOFILE / ulimit -n, or the system's fs.file-max); it gets no more connections: replacing it";

test('a worker that cannot take a connection for want of descriptors is replaced; new requests are answered again', async (t) => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0'], {
    wrap: ['prlimit', '--nofile=256:256', '--'],
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${EXHAUST}`.trim(), EXHAUST_HOLD_MS: '20000' },
  });
  t.after(() => serve.kill());
  const [old] = serve.listeningWorkers();
  assert.ok(old);
  assert.equal((await getAlone(`${serve.url}/healthz`)).status, 200);
  // A client on a keep-alive connection the worker took before: it goes on being answered.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const kept = (path: string) =>
    new Promise<number>((resolve, reject) => {
      http.get(`${serve.url}${path}`, { agent }, (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0))).on('error', reject);
    });
  assert.equal(await kept('/healthz'), 200);

  const from = serve.logs().length;
  process.kill(old, 'SIGUSR2');
  const exhausted = await serve.waitForLog((l) => l.name === 'test.exhaust' && l.pid === old, { from });
  assert.equal(exhausted.code, 'EMFILE');
  // A connection the worker holds already needs no new descriptor: it is still answered.
  assert.equal(await kept('/healthz'), 200);

  // The hand-over of this connection fails: it stays open in the master, unanswered.
  const handedOver = getAlone(`${serve.url}/healthz`, 3000).then(() => 'answered', (err: Error) => err.message);
  const lost = await serve.waitForLog((l) => l.msg === LOST, { from });
  assert.deepEqual([lost.name, lost.level, lost.workerPid], ['mapproxy.master', 50, old]);
  assert.equal(await handedOver, 'no answer within 3000 ms');

  // A new worker takes over; the old one is drained, not killed.
  await waitFor(() => serve.listeningWorkers().length === 1 && serve.listeningWorkers()[0] !== old, 'a new worker listening');
  const tile = await getAlone(serve.url + wmtsTile(1, 1, 2));
  assert.equal(tile.status, 200);
  assert.equal(tile.body.subarray(1, 4).toString('latin1'), 'PNG');
  for (let i = 0; i < 5; i++) assert.equal((await getAlone(`${serve.url}/healthz`)).status, 200);
  const drained = await serve.waitForLog((l) => l.msg === 'draining a worker' && l.workerPid === old, { from });
  assert.equal(drained.reason, 'descriptors');
  await serve.waitForLog((l) => l.msg === 'worker stopped' && l.workerPid === old, { from, timeoutMs: 30_000 });
  assert.equal(isAlive(old), false);
  assert.deepEqual(serve.logs().slice(from).filter((l) => l.msg === 'worker died'), [], 'no worker died');

  const metrics = parseSamples((await getAlone(`${serve.url}/metrics`)).body.toString());
  assert.deepEqual(family(metrics, 'mapproxy_worker_restarts_total'), {
    'reason="crash"': 0,
    'reason="timeout"': 0,
    'reason="max-requests"': 0,
    'reason="reload"': 0,
    'reason="descriptors"': 1,
  });
  assert.equal(serve.logs().slice(from).filter((l) => l.msg === LOST).length, 1);
  // The connection the master kept does not hold its stop up.
  serve.child.kill('SIGTERM');
  assert.deepEqual(await serve.exited(), { code: 0, signal: null });
});

test('a connection lost by a spare as it takes over, before the master has seen it listen: the spare is replaced too', async (t) => {
  // Every worker tells the master it listens 500 ms late: the hand-over of B is answered first.
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '1'], {
    wrap: ['prlimit', '--nofile=256:256', '--'],
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${EXHAUST}`.trim(), EXHAUST_HOLD_MS: '60000', EXHAUST_DELAY_LISTENING_MS: '500' },
  });
  t.after(() => serve.kill());
  const [current] = serve.listeningWorkers();
  const spare = Number((await serve.waitForLog((l) => l.msg === 'spare worker standing by')).workerPid);
  assert.ok(current && spare && spare !== current);
  const from = serve.logs().length;
  for (const pid of [current, spare]) {
    process.kill(pid, 'SIGUSR2');
    await serve.waitForLog((l) => l.name === 'test.exhaust' && l.pid === pid, { from });
  }
  // A goes to the current worker and is lost; B waits in the master until the spare, taking
  // over, answers its listen, and is handed to it at once: lost too, before 'worker listening'.
  const unanswered = (url: string) => getAlone(url, 3000).then(() => 'answered', (err: Error) => err.message);
  const [a, b] = [unanswered(`${serve.url}/healthz`), unanswered(`${serve.url}/readyz`)];
  assert.deepEqual(await Promise.all([a, b]), ['no answer within 3000 ms', 'no answer within 3000 ms']);
  const lost = () => serve.logs().slice(from).filter((l) => l.msg === LOST).map((l) => l.workerPid);
  await waitFor(() => lost().length === 2, 'both hand-overs reported');
  assert.deepEqual(lost(), [current, spare]);
  // The spare's loss came while the master still counted it as starting.
  const order = serve.logs().slice(from).filter((l) => l.workerPid === spare && (l.msg === LOST || l.msg === 'worker listening')).map((l) => l.msg);
  assert.equal(order[0], LOST);
  // A third worker, forked, serves.
  await waitFor(() => serve.listeningWorkers().some((p) => p !== current && p !== spare), 'a new worker listening', 30_000);
  assert.equal((await getAlone(`${serve.url}/healthz`, 10_000)).status, 200);
  const metrics = parseSamples((await getAlone(`${serve.url}/metrics`)).body.toString());
  assert.equal(family(metrics, 'mapproxy_worker_restarts_total')['reason="descriptors"'], 2);
});

test('workers that keep running out of descriptors: after 5 lost connections the master gives up (exit 1)', async (t) => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0'], {
    wrap: ['prlimit', '--nofile=256:256', '--'],
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${EXHAUST}`.trim(), EXHAUST_HOLD_MS: '60000' },
  });
  t.after(() => serve.kill());
  const exited = serve.exited();
  let from = 0;
  // Each worker, once it listens, runs out of descriptors and loses the next connection.
  for (let round = 1; round <= 5; round++) {
    const [worker] = serve.listeningWorkers();
    assert.ok(worker, `round ${round}: a worker listening`);
    process.kill(worker, 'SIGUSR2');
    await serve.waitForLog((l) => l.name === 'test.exhaust' && l.pid === worker, { from });
    const handedOver = getAlone(`${serve.url}/healthz`, 1000).then(() => 'answered', (err: Error) => err.message);
    await serve.waitForLog((l) => l.msg === LOST && l.workerPid === worker, { from });
    // Unanswered; the last one may instead be reset by the master stopping.
    const result = await handedOver;
    if (round < 5) assert.equal(result, 'no answer within 1000 ms');
    else assert.notEqual(result, 'answered');
    from = serve.logs().length;
    if (round < 5) await waitFor(() => serve.listeningWorkers().some((p) => p !== worker), `round ${round}: the replacement listening`, 30_000);
  }
  assert.deepEqual(await exited, { code: 1, signal: null });
  const lost = serve.logs().filter((l) => l.msg === LOST);
  assert.equal(lost.length, 5, serve.output());
  assert.equal(new Set(lost.map((l) => l.workerPid)).size, 5, 'five workers, each replaced once');
  const fatal = serve.logs().find((l) => l.level === 60);
  assert.equal(
    fatal?.msg,
    '5 connections could not be handed to a worker within 5 minutes (each leaves this process a socket it cannot close); giving up',
  );
});
