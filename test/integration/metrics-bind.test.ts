/**
 * `serve --metrics-bind`: the master serves /metrics (the sum over its workers) on a port of its
 * own, bound before any worker is forked and closed when it stops; a port in use stops `serve`
 * with a clear error before any fork. Beyond MapProxy (issue 3, observability).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, get } from '../helpers/server.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { SERVE_HELP, serveCommand } from '../../src/cli/serve.js';
import { family, parseSamples, sample } from './metrics-helpers.js';

let upstream: Upstream | undefined;
let cfg: Awaited<ReturnType<typeof tempConfig>> | undefined;
let master: ServeProcess | undefined;
let blocker: Server | undefined;
after(async () => {
  await master?.kill();
  await upstream?.close();
  await cfg?.cleanup();
  if (blocker) await new Promise<void>((r) => blocker!.close(() => r()));
});

async function config(): Promise<NonNullable<typeof cfg>> {
  upstream ??= await startUpstream();
  cfg ??= await tempConfig(`
services: {wmts: {}}
layers: [{name: m, title: M, sources: [m_cache]}]
caches: {m_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}}
sources: {up: {type: wms, req: {url: '${upstream.url}/wms?', layers: base}}}
globals: {cache: {base_dir: ./cache, tile_lock_dir: ./locks}}
`);
  return cfg;
}

test('the master serves the exact cluster sums on --metrics-bind, bound before the first fork, closed on stop', async () => {
  const c = await config();
  master = await startServe(c.file, ['-w', '2', '--spare-workers', '0', '--metrics-bind', '127.0.0.1:0'], { env: { MAPPROXY_LOG_LEVEL: 'debug' } });
  const logs = master.logs();
  const bound = logs.findIndex((l) => l.msg === 'metrics on a port of their own');
  assert.ok(bound >= 0, master.output());
  const line = logs[bound];
  assert.equal(line.name, 'mapproxy.master');
  assert.equal(line.pid, master.pid);
  const metricsPort = Number(line.metricsPort);
  assert.ok(metricsPort > 0 && metricsPort !== master.port);
  assert.equal(line.url, `http://127.0.0.1:${metricsPort}/metrics`);
  const firstFork = logs.findIndex((l) => l.msg === 'worker forked');
  assert.ok(firstFork > bound, `metrics bound at line ${bound}, first fork at line ${firstFork}`);

  const tile = (x: number, y: number) => `${master!.url}/wmts/m/GLOBAL_WEBMERCATOR/05/${x}/${y}.png`;
  // 3 misses (one per meta tile, 16 tiles each), then 7 hits; sequential, so the round-robin
  // spreads them over both workers.
  const metas = [[0, 0], [4, 0], [8, 0]];
  for (const [x, y] of metas) assert.equal((await get(tile(x, y))).headers.get('x-cache'), 'MISS');
  for (let i = 0; i < 7; i++) {
    const [x, y] = metas[i % 3];
    const res = await get(tile(x + 2, y + 1));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-cache'), 'HIT');
  }
  const res = await get(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const s = parseSamples(res.body.toString());
  assert.deepEqual(family(s, 'mapproxy_cache_misses_total'), { 'cache="m_cache"': 3 });
  assert.deepEqual(family(s, 'mapproxy_cache_hits_total'), { 'cache="m_cache"': 7 });
  assert.deepEqual(family(s, 'mapproxy_tiles_created_total'), { 'cache="m_cache"': 48 });
  assert.deepEqual(family(s, 'mapproxy_http_requests_total'), { 'service="wmts",status="200"': 10 });
  assert.equal(sample(s, 'mapproxy_upstream_request_duration_seconds_count', { source: 'up' }), 3);
  assert.equal(sample(s, 'mapproxy_workers'), 2);
  assert.equal(upstream!.count(), 3);
  // The main port keeps its /metrics, with the same sums (its own request is counted after).
  const main = parseSamples((await get(`${master.url}/metrics`)).body.toString());
  assert.deepEqual(family(main, 'mapproxy_cache_hits_total'), { 'cache="m_cache"': 7 });
  assert.deepEqual(family(main, 'mapproxy_http_requests_total'), { 'service="wmts",status="200"': 10 });
  // Only /metrics there: no tiles, no other route.
  const other = await get(`http://127.0.0.1:${metricsPort}/wmts/m/GLOBAL_WEBMERCATOR/05/0/0.png`);
  assert.deepEqual([other.status, other.body.toString()], [404, 'not found']);
  const post = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' });
  assert.deepEqual([post.status, post.headers.get('allow'), await post.text()], [405, 'GET, HEAD', 'method not allowed']);

  process.kill(master.pid, 'SIGTERM');
  assert.equal((await master.exited()).code, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), (err: Error & { cause?: { code?: string } }) => {
    assert.equal(err.cause?.code, 'ECONNREFUSED');
    return true;
  });
});

test('a --metrics-bind address in use: exact error, exit 1, no worker forked', async () => {
  const c = await config();
  blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const busy = (blocker.address() as AddressInfo).port;
  const proc = await startServe(c.file, ['-w', '2', '--metrics-bind', `127.0.0.1:${busy}`], { waitReady: false, env: { MAPPROXY_LOG_LEVEL: 'debug' } });
  const { code } = await proc.exited();
  assert.equal(code, 1);
  assert.equal(proc.output(), `mapproxy-ts: cannot listen on 127.0.0.1:${busy} for --metrics-bind: the address is already in use (EADDRINUSE)\n`);
  assert.deepEqual(proc.logs().filter((l) => l.msg === 'worker forked' || l.msg === 'starting'), []);
});

async function capture(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const code = await serveCommand(args, { stdout: { write: (s: string) => { out.stdout += s; } }, stderr: { write: (s: string) => { out.stderr += s; } } });
  return { code, ...out };
}

test('--metrics-bind: usage errors as for --bind (exit 2, the help on stderr); documented in --help', async () => {
  const cases: Array<[string, string]> = [
    ['host:port', 'port must be a number 0-65535 (got "port")'],
    ['127.0.0.1:70000', 'port must be a number 0-65535 (got "70000")'],
    ['', 'expected host:port, [ipv6]:port, :port, port or host'],
  ];
  for (const [value, why] of cases) {
    assert.deepEqual(await capture(['m.yaml', '--metrics-bind', value]), {
      code: 2,
      stdout: '',
      stderr: `mapproxy-ts: invalid --metrics-bind "${value}": ${why}\n\n${SERVE_HELP}`,
    }, value);
  }
  assert.deepEqual(await capture(['m.yaml', '--metrics-bind']), {
    code: 2,
    stdout: '',
    stderr: `mapproxy-ts: option --metrics-bind needs a value\n\n${SERVE_HELP}`,
  });
  assert.ok(SERVE_HELP.includes('      --metrics-bind host:port    also serve /metrics (summed over the workers) from the master on\n'));
});
