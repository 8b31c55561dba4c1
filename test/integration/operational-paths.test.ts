/**
 * Where `/healthz`, `/readyz` and `/metrics` answer, moved or turned off: `serve` (single
 * configuration and `--multiapp`), `serve-develop`, `serve-multiapp-develop` with
 * `--health-path`, `--ready-path`, `--metrics-path`, and `createApp`'s `observability` option.
 * With `--metrics-path off` and `--metrics-bind`, the cluster's metrics are only on the internal
 * address. Real processes, sockets and files on 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { get, tempConfig } from '../helpers/server.js';
import { clusterYaml, startServe, waitFor, wmtsTile, type LogLine } from '../helpers/serve.js';
import { family, parseSamples } from './metrics-helpers.js';
import { createApp, createMultiApp } from '../../src/index.js';
import { HELP } from '../../src/cli/main.js';
import { SERVE_MULTIAPP_DEVELOP_HELP } from '../../src/cli/serve-multiapp-develop.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'test/helpers/cli.ts');

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let projects: string;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(clusterYaml(upstream.url));
  projects = join(cfg.dir, 'projects');
  await mkdir(projects);
  await writeFile(join(projects, 'one.yaml'), clusterYaml(upstream.url).replace(/\.\/(cache|locks|tile_locks)/g, './one_$1'));
});

after(async () => {
  await upstream?.close();
  await cfg?.cleanup();
});

/** Status and body of a GET. */
async function answer(url: string): Promise<[number, string]> {
  const r = await get(url);
  return [r.status, r.body.toString()];
}

const NOT_FOUND = [404, 'not found'];

test('serve --metrics-path off with --metrics-bind: metrics only on the internal address; moved probes answer on their paths only', async (t) => {
  const serve = await startServe(cfg.file, [
    '-w', '2', '--spare-workers', '0', '--metrics-bind', '127.0.0.1:0',
    '--metrics-path', 'off', '--health-path', '/-/alive', '--ready-path', '/-/ready',
  ]);
  t.after(() => serve.kill());
  const metricsPort = Number(serve.logs().find((l) => l.msg === 'metrics on a port of their own')?.metricsPort);
  assert.ok(metricsPort > 0, serve.output());
  for (let i = 0; i < 4; i++) {
    const tile = await get(serve.url + wmtsTile(i, 0, 3));
    assert.equal(tile.status, 200);
  }
  assert.deepEqual(await answer(`${serve.url}/-/alive`), [200, 'ok']);
  assert.deepEqual(await answer(`${serve.url}/-/ready`), [200, 'ready']);
  for (const path of ['/metrics', '/healthz', '/readyz']) assert.deepEqual(await answer(serve.url + path), NOT_FOUND, path);
  const internal = await get(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(internal.status, 200);
  const s = parseSamples(internal.body.toString());
  // Summed over both workers: the 4 tiles, the two probes and the three 404s.
  assert.deepEqual(family(s, 'mapproxy_http_requests_total'), {
    'service="wmts",status="200"': 4,
    'service="health",status="200"': 1,
    'service="ready",status="200"': 1,
    'service="none",status="404"': 3,
  });
});

test('serve --multiapp --metrics-path off: no metrics at the top nor under a project; a moved health route for both', async (t) => {
  const serve = await startServe(projects, ['--multiapp', '-w', '1', '--spare-workers', '0', '--metrics-path', 'off', '--health-path', '/live']);
  t.after(() => serve.kill());
  assert.equal((await get(serve.url + '/one' + wmtsTile(0, 0, 1))).status, 200);
  for (const path of ['/metrics', '/one/metrics', '/healthz', '/one/healthz']) assert.deepEqual(await answer(serve.url + path), NOT_FOUND, path);
  assert.deepEqual(await answer(`${serve.url}/live`), [200, 'ok']);
  assert.deepEqual(await answer(`${serve.url}/one/live`), [200, 'ok']);
  assert.deepEqual(await answer(`${serve.url}/readyz`), [200, 'ready']);
});

test('serve --multiapp: a project hidden by a route is reported once per generation, not once per worker', async (t) => {
  const hidden = join(projects, 'live.yaml');
  await writeFile(hidden, clusterYaml(upstream.url).replace(/\.\/(cache|locks|tile_locks)/g, './live_$1'));
  t.after(() => rm(hidden, { force: true }));
  const serve = await startServe(projects, ['--multiapp', '-w', '2', '--spare-workers', '0', '--health-path', '/live']);
  t.after(() => serve.kill());
  const said = 'project live is not served: /live is an operational route (health, readiness, metrics); rename live.yaml';
  const reports = (): LogLine[] => serve.logs().filter((l) => l.name === 'mapproxy.config' && l.msg === said);
  assert.equal(serve.listeningWorkers().length, 2);
  await waitFor(() => reports().length > 0, 'the hidden project reported');
  assert.equal(reports().length, 1, serve.output());
  // A reload builds every project anew: said again, once.
  const from = serve.logs().length;
  serve.child.kill('SIGHUP');
  await serve.waitForLog((l) => l.msg === 'reload complete', { from, timeoutMs: 30_000 });
  assert.equal(reports().length, 2, serve.output());
  assert.equal(reports()[1].pid === reports()[0].pid, false);
  // It stays hidden: 404, while the route answers.
  assert.deepEqual(await answer(`${serve.url}/live`), [200, 'ok']);
  assert.deepEqual(await answer(`${serve.url}/live/tms/1.0.0/`), NOT_FOUND);
});

/** A serve-develop or serve-multiapp-develop child, resolved once it listens. */
async function develop(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args, '-b', '127.0.0.1:0', '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('close', (code) => reject(new Error(`exited ${String(code)} before listening:\n${out}`)));
  });
  return { child, url };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'close');
}

test('serve-develop --metrics-path /ops/metrics --ready-path off', async (t) => {
  const { child, url } = await develop(['serve-develop', cfg.file, '--metrics-path', '/ops/metrics', '--ready-path', 'off']);
  t.after(() => stop(child));
  const m = await get(`${url}/ops/metrics`);
  assert.equal(m.status, 200);
  assert.equal(m.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(m.body.toString(), /^# HELP mapproxy_http_requests_total /m);
  for (const path of ['/metrics', '/readyz']) assert.deepEqual(await answer(url + path), NOT_FOUND, path);
  assert.deepEqual(await answer(`${url}/healthz`), [200, 'ok']);
});

test('serve-multiapp-develop --health-path off: not at the top, not under a project', async (t) => {
  const { child, url } = await develop(['serve-multiapp-develop', projects, '--health-path', 'off']);
  t.after(() => stop(child));
  assert.equal((await get(`${url}/one${wmtsTile(0, 0, 1)}`)).status, 200);
  for (const path of ['/healthz', '/one/healthz']) assert.deepEqual(await answer(url + path), NOT_FOUND, path);
  assert.deepEqual(await answer(`${url}/readyz`), [200, 'ready']);
  assert.equal((await get(`${url}/one/metrics`)).status, 200);
});

test('createApp: observability false leaves the three paths to the host application; moved paths answer there', async (t) => {
  for (const [options, answers] of [
    [{ observability: false }, { '/healthz': NOT_FOUND, '/readyz': NOT_FOUND, '/metrics': NOT_FOUND }],
    [{ observability: { healthPath: '/ops/live', metricsPath: false } }, { '/ops/live': [200, 'ok'], '/healthz': NOT_FOUND, '/readyz': [200, 'ready'], '/metrics': NOT_FOUND }],
  ] as const) {
    const app = await createApp(cfg.file, options);
    const server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t.after(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await app.close();
    });
    assert.equal((await get(base + wmtsTile(1, 1, 2))).status, 200);
    for (const [path, expected] of Object.entries(answers)) assert.deepEqual(await answer(base + path), expected, `${JSON.stringify(options)} ${path}`);
  }
});

test('createApp and createMultiApp: a path under any service is a configuration error naming the option', async () => {
  const problems = (path: string, message: string) => (err: Error & { problems?: Array<{ path: string; message: string }> }) => {
    assert.deepEqual(err.problems, [{ path, message }]);
    return true;
  };
  await assert.rejects(
    createApp(cfg.file, { observability: { metricsPath: '/wmts/metrics' } }),
    problems('observability.metricsPath', '/wmts/metrics lies under the path of a service (/wmts)'),
  );
  // Also a service this configuration does not have: an edit the reloader picks up may add it.
  await assert.rejects(
    createApp(cfg.file, { reloader: true, observability: { healthPath: '/kml/live' } }),
    problems('observability.healthPath', '/kml/live lies under the path of a service (/kml)'),
  );
  // At the top of MultiMapProxy, where every project's own routes follow: refused when built.
  assert.throws(
    () => createMultiApp(projects, { observability: { readyPath: '/tms/ready' } }),
    problems('observability.readyPath', '/tms/ready lies under the path of a service (/tms)'),
  );
});

test('serve-develop and serve-multiapp-develop: a bad path is a usage error (exit 2) with the command\'s help', async () => {
  const run = async (args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stdout, stderr };
  };
  const [single, multi] = await Promise.all([
    run(['serve-develop', cfg.file, '--metrics-path', '/tms/m']),
    run(['serve-multiapp-develop', projects, '--ready-path', '/healthz']),
  ]);
  assert.deepEqual(single, { code: 2, stdout: '', stderr: `mapproxy-ts: invalid --metrics-path "/tms/m": /tms is where a service answers\n\n${HELP['serve-develop']}` });
  assert.deepEqual(multi, {
    code: 2,
    stdout: '',
    stderr: `mapproxy-ts: invalid --ready-path "/healthz": the health route answers there (move it with --health-path)\n\n${SERVE_MULTIAPP_DEVELOP_HELP}`,
  });
});
