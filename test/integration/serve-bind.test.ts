/**
 * `serve -b :port` (and `--metrics-bind :port`) listens on every interface, as MapProxy's
 * serve-develop, gunicorn's `-b` and our serve-develop read it (it meant localhost before).
 * Checked over both loopbacks: 127.0.0.1, and ::1 where this host has it. The `ready` line names
 * the address as serve-develop does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { get } from '../helpers/server.js';
import { clusterFixture, startServe } from '../helpers/serve.js';

const fx = clusterFixture();

/** Whether this host can listen on ::1 (IPv6 may be off in a container). */
async function hasIpv6Loopback(): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

test('serve -b :0 listens on every interface, on one port for all workers', async (t) => {
  const serve = await startServe(fx.cfg.file, ['-b', ':0', '-w', '2', '--spare-workers', '0']);
  t.after(() => serve.kill());
  const ready = serve.logs().find((l) => l.msg === 'ready');
  assert.ok(serve.port > 0);
  assert.equal(ready?.url, `http://*:${serve.port}/`);
  for (let i = 0; i < 4; i++) assert.equal((await get(`http://127.0.0.1:${serve.port}/healthz`)).status, 200);
  if (await hasIpv6Loopback()) {
    assert.equal((await get(`http://[::1]:${serve.port}/healthz`)).status, 200);
  } else {
    t.diagnostic('no IPv6 loopback here: checked over 127.0.0.1 only');
  }
});

test('serve -b 127.0.0.1:0 stays on that address', async (t) => {
  const serve = await startServe(fx.cfg.file, ['-b', '127.0.0.1:0', '-w', '1', '--spare-workers', '0']);
  t.after(() => serve.kill());
  assert.equal(serve.logs().find((l) => l.msg === 'ready')?.url, `http://127.0.0.1:${serve.port}/`);
  assert.equal((await get(`http://127.0.0.1:${serve.port}/healthz`)).status, 200);
  if (await hasIpv6Loopback()) await assert.rejects(get(`http://[::1]:${serve.port}/healthz`));
});

test('serve --metrics-bind :0 serves /metrics on every interface', async (t) => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', '--metrics-bind', ':0']);
  t.after(() => serve.kill());
  const line = serve.logs().find((l) => l.msg === 'metrics on a port of their own');
  const port = Number(line?.metricsPort);
  assert.ok(port > 0 && port !== serve.port, serve.output());
  assert.equal(line?.url, `http://*:${port}/metrics`);
  const res = await get(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.body.toString(), /^mapproxy_workers 1$/m);
  if (await hasIpv6Loopback()) assert.equal((await get(`http://[::1]:${port}/metrics`)).status, 200);
});
