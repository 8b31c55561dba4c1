/**
 * The operational routes of the request handler on a real node:http server: `/readyz` moving
 * between 503 and 200 as the process starts, serves and drains and as its cache directories
 * stop or start being writable; disabled and moved routes; a failing metrics source.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createHandler, type HandlerOptions } from '../../src/app/router.js';
import { Writable } from 'node:stream';
import { setReady } from '../../src/metrics/index.js';
import { configureLogging } from '../../src/log/index.js';
import { get } from '../helpers/server.js';

const logLines: Array<Record<string, unknown>> = [];

let dir: string;
const servers: Server[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpx-'));
  configureLogging({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  });
});

after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  setReady(true);
  configureLogging();
  await rm(dir, { recursive: true, force: true });
});

/** The readiness lines logged since `from`: [level, msg]. */
const readinessLog = (from: number): Array<[unknown, unknown]> =>
  logLines.slice(from).filter((l) => l.name === 'mapproxy.wsgiapp').map((l) => [l.level, l.msg]);

async function serve(opts: HandlerOptions): Promise<string> {
  const server = createServer(createHandler(opts));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function text(url: string): Promise<[number, string]> {
  const r = await get(url);
  return [r.status, r.body.toString()];
}

test('/readyz: 503 while starting, 200 when ready, 503 while draining; /healthz stays 200', async () => {
  const cacheDir = join(dir, 'ready', 'cache');
  const lockDir = join(dir, 'ready', 'locks');
  await mkdir(cacheDir, { recursive: true });
  const url = await serve({ observability: { writableDirs: [cacheDir, lockDir] } });
  setReady(false); // the worker builds its app
  assert.deepEqual(await text(`${url}/readyz`), [503, 'not ready']);
  assert.deepEqual(await text(`${url}/healthz`), [200, 'ok']);
  setReady(true); // listening; the lock dir does not exist yet but can be created
  assert.deepEqual(await text(`${url}/readyz`), [200, 'ready']);
  setReady(false); // draining
  assert.deepEqual(await text(`${url}/readyz`), [503, 'not ready']);
  assert.deepEqual(await text(`${url}/healthz`), [200, 'ok']);
  setReady(true);
  assert.deepEqual(await text(`${url}/readyz`), [200, 'ready']);
});

test('/readyz: 503 while a cache directory cannot be written, 200 again once it can', async () => {
  const cacheDir = join(dir, 'w', 'cache');
  const lockDir = join(dir, 'w', 'blocked', 'locks');
  await mkdir(cacheDir, { recursive: true });
  const url = await serve({ observability: { writableDirs: [cacheDir, lockDir] } });
  const from = logLines.length;
  assert.deepEqual(await text(`${url}/readyz`), [200, 'ready']);
  // A file where the lock directory's parent should be: nothing can be created below it.
  await writeFile(join(dir, 'w', 'blocked'), 'not a directory');
  assert.deepEqual(await text(`${url}/readyz`), [503, 'not ready']);
  assert.deepEqual(await text(`${url}/readyz`), [503, 'not ready']);
  await rm(join(dir, 'w', 'blocked'));
  assert.deepEqual(await text(`${url}/readyz`), [200, 'ready']);
  // The cache directory itself replaced by a file.
  await rm(cacheDir, { recursive: true });
  await writeFile(cacheDir, 'not a directory');
  assert.deepEqual(await text(`${url}/readyz`), [503, 'not ready']);
  await rm(cacheDir);
  await mkdir(cacheDir);
  assert.deepEqual(await text(`${url}/readyz`), [200, 'ready']);
  // The answer names no path; the log says why, once per change.
  const again = 'ready: the cache and lock directories can be written again';
  assert.deepEqual(readinessLog(from), [
    [40, `not ready: a cache or lock directory cannot be written (${lockDir}: a part of its path is a file, not a directory (ENOTDIR))`],
    [30, again],
    [40, `not ready: a cache or lock directory cannot be written (${cacheDir}: not a directory)`],
    [30, again],
  ]);
});

test('/readyz asks a custom readiness check; a throwing check is not ready', async () => {
  let state: boolean | 'throw' = false;
  const url = await serve({
    observability: {
      ready: async () => {
        if (state === 'throw') throw new Error('boom');
        return state;
      },
    },
  });
  assert.deepEqual(await text(`${url}/readyz`), [503, 'not ready']);
  state = true;
  assert.deepEqual(await text(`${url}/readyz`), [200, 'ready']);
  state = 'throw';
  assert.deepEqual(await text(`${url}/readyz`), [503, 'not ready']);
});

test('metricsPath false: /metrics is a plain 404, the other routes stay', async () => {
  const url = await serve({ observability: { metricsPath: false } });
  assert.deepEqual(await text(`${url}/metrics`), [404, 'not found']);
  assert.deepEqual(await text(`${url}/healthz`), [200, 'ok']);
  assert.deepEqual(await text(`${url}/readyz`), [200, 'ready']);
});

test('observability false: no operational route at all', async () => {
  const url = await serve({ observability: false });
  for (const p of ['/healthz', '/readyz', '/metrics']) assert.deepEqual(await text(`${url}${p}`), [404, 'not found'], p);
});

test('moved routes answer at their paths only; a metrics callback supplies the text', async () => {
  const url = await serve({
    observability: { healthPath: '/-/live', readyPath: '/-/ready', metricsPath: '/-/metrics', metrics: async () => 'x_total 1\n' },
  });
  assert.deepEqual(await text(`${url}/-/live`), [200, 'ok']);
  assert.deepEqual(await text(`${url}/-/ready`), [200, 'ready']);
  const m = await get(`${url}/-/metrics?x=1`);
  assert.equal(m.status, 200);
  assert.equal(m.body.toString(), 'x_total 1\n');
  assert.equal(m.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  for (const p of ['/healthz', '/readyz', '/metrics', '/-/live/']) assert.deepEqual(await text(`${url}${p}`), [404, 'not found'], p);
});

test('a failing metrics source answers 503 metrics unavailable', async () => {
  const url = await serve({ observability: { metrics: () => Promise.reject(new Error('no master')) } });
  assert.deepEqual(await text(`${url}/metrics`), [503, 'metrics unavailable']);
});
