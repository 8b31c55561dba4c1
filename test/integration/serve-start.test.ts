/**
 * How `serve` ends while it starts: a stop signal during the configuration check ends it with 0
 * (as a stop at any later time) and forks nothing; SIGHUP then is ignored with a warning instead
 * of ending the process (SIGHUP's default); and inside a node:cluster worker of a host that keeps
 * handles open (pm2's cluster mode) the refusal ends the process instead of leaving it online.
 * Real processes on 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig } from '../helpers/server.js';
import { clusterYaml, newChildOf, startServe } from '../helpers/serve.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(clusterYaml(upstream.url));
});

after(async () => {
  await upstream?.close();
  await cfg?.cleanup();
});

test('SIGTERM while the configuration is checked: exit 0, the check ended, no worker forked', async (t) => {
  const serve = await startServe(cfg.file, ['-w', '2', '--spare-workers', '0'], { waitReady: false });
  t.after(() => serve.kill());
  // The check process is the master's first child: the stop handlers are in place by then.
  const check = await newChildOf(serve.pid, []);
  process.kill(serve.pid, 'SIGTERM');
  const { code, signal } = await serve.exited();
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, serve.output());
  assert.ok(serve.logs().some((l) => l.name === 'mapproxy.master' && l.msg === 'stopped before the workers started'), serve.output());
  assert.equal(serve.logs().some((l) => l.msg === 'worker forked' || l.msg === 'ready'), false);
  assert.throws(() => process.kill(check, 0), { code: 'ESRCH' }, 'the check process is gone');
});

test('SIGHUP while the configuration is checked: a warning, and the start goes on', async (t) => {
  const serve = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0'], { waitReady: false });
  t.after(() => serve.kill());
  await newChildOf(serve.pid, []);
  process.kill(serve.pid, 'SIGHUP');
  const warned = await serve.waitForLog((l) => l.name === 'mapproxy.master' && l.level === 40);
  assert.equal(warned.msg, 'SIGHUP before the workers started: ignored (the configuration is being read now; send it again once ready)');
  await serve.waitForLog((l) => l.msg === 'ready', { timeoutMs: 30_000 });
  process.kill(serve.pid, 'SIGTERM');
  assert.equal((await serve.exited()).code, 0);
});

test('serve inside a node:cluster worker whose host keeps handles open (pm2 cluster mode): one line, and the process ends with 1', async () => {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'test/fixtures/cluster-host/host.mjs'), 'serve', cfg.file, '-b', '127.0.0.1:0'],
    { cwd: ROOT, timeout: 60_000 },
  );
  assert.equal(stderr, 'mapproxy-ts: serve cannot run inside a node:cluster worker (under pm2, use fork mode)\n');
  assert.equal(stdout, '{"code":1,"signal":null}\n');
});
