/**
 * What the named loggers write, exactly: `mapproxy.source.request` lines for upstream requests
 * (directly and through a served tile), the access log of a real node:http server, and
 * `logSystemInfo` on `mapproxy.system`.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { closeHttpAgents, httpGet } from '../../src/source/http-client.js';
import { configureLogging, createAccessLog, getLogger, logSystemInfo } from '../../src/log/index.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { get, startApp, tempConfig } from '../helpers/server.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApp, createMultiApp } from '../../src/index.js';

type Line = Record<string, unknown> & { level: number; name: string; msg: string };
let lines: Line[] = [];
const capture = { write: (s: string) => void lines.push(JSON.parse(s) as Line) };
const named = (name: string): Line[] => lines.filter((l) => l.name === name);
/** A line without the fields every line has. */
function own(l: Line): Record<string, unknown> {
  const { time, pid, hostname, ...rest } = l;
  assert.equal(typeof time, 'number');
  assert.equal(pid, process.pid);
  assert.equal(typeof hostname, 'string');
  return rest;
}

let up: Upstream;
before(async () => {
  up = await startUpstream();
});
after(async () => {
  await closeHttpAgents();
  await up.close();
  configureLogging();
});
afterEach(() => {
  up.reset();
  lines = [];
});

test('mapproxy.source.request: method, url, status, sizeKb, durationMs, and the MapProxy-style message', async () => {
  configureLogging({ level: 'info', destination: capture });
  const url = `${up.url}/tiles/1/0/0.png`;
  const res = await httpGet(url);
  const [line] = named('mapproxy.source.request');
  assert.equal(named('mapproxy.source.request').length, 1);
  const { durationMs, ...rest } = own(line);
  assert.ok(Number.isInteger(durationMs) && (durationMs as number) >= 0);
  const sizeKb = Math.round((res.body.length / 1024) * 10) / 10;
  // MapProxy: "<method> <url> <status> <size kB> <ms>" on mapproxy.source.request.
  assert.deepEqual(rest, {
    level: 30,
    name: 'mapproxy.source.request',
    method: 'GET',
    url,
    status: 200,
    sizeKb,
    msg: `GET ${url} 200 ${sizeKb.toFixed(1)} ${durationMs}`,
  });
});

test('mapproxy.source.request on failures: the HTTP status or null, and the error', async () => {
  configureLogging({ level: 'info', destination: capture });
  up.fail({ kind: 'status', status: 500, body: 'boom' }, 1);
  await assert.rejects(httpGet(`${up.url}/tiles/1/0/0.png`));
  const { durationMs, sizeKb, ...rest } = own(named('mapproxy.source.request')[0]);
  assert.equal(sizeKb, 0);
  assert.deepEqual(rest, {
    level: 30,
    name: 'mapproxy.source.request',
    method: 'GET',
    url: `${up.url}/tiles/1/0/0.png`,
    status: 500,
    error: `HTTP Error "${up.url}/tiles/1/0/0.png": 500`,
    msg: `GET ${up.url}/tiles/1/0/0.png 500 0.0 ${durationMs}`,
  });
  lines = [];
  const closed = http.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await assert.rejects(httpGet(`http://127.0.0.1:${port}/x.png`));
  const refused = own(named('mapproxy.source.request')[0]);
  assert.deepEqual(refused, {
    level: 30,
    name: 'mapproxy.source.request',
    method: 'GET',
    url: `http://127.0.0.1:${port}/x.png`,
    status: null,
    sizeKb: null,
    durationMs: refused.durationMs,
    error: `No response from URL "http://127.0.0.1:${port}/x.png": Connection refused`,
    msg: `GET http://127.0.0.1:${port}/x.png - - ${refused.durationMs}`,
  });
});

test('mapproxy.source.request after redirects: one line for the URL asked for, the final status, hops and where it landed', async () => {
  configureLogging({ level: 'info', destination: capture });
  up.fail({ kind: 'redirect', status: 302, location: (r) => (r.path === '/a.png' ? '/b.png' : `http://u:p@127.0.0.1:${up.port}/c.png`) }, 2);
  const res = await httpGet(`${up.url}/a.png`);
  assert.equal(named('mapproxy.source.request').length, 1);
  const { durationMs, ...rest } = own(named('mapproxy.source.request')[0]);
  const sizeKb = Math.round((res.body.length / 1024) * 10) / 10;
  assert.deepEqual(rest, {
    level: 30,
    name: 'mapproxy.source.request',
    method: 'GET',
    url: `${up.url}/a.png`,
    status: 200,
    sizeKb,
    redirects: 2,
    location: `${up.url}/c.png`,
    msg: `GET ${up.url}/a.png 200 ${sizeKb.toFixed(1)} ${durationMs}`,
  });
});

test('mapproxy.source.request: a redirect to where nothing answers logs no status, and the failure', async () => {
  configureLogging({ level: 'info', destination: capture });
  const closed = http.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  up.fail({ kind: 'redirect', status: 302, location: () => `http://127.0.0.1:${port}/gone.png` }, 1);
  await assert.rejects(httpGet(`${up.url}/a.png`), { message: 'No response from URL (see logs for URL and reason).' });
  const { durationMs, ...rest } = own(named('mapproxy.source.request')[0]);
  assert.deepEqual(rest, {
    level: 30,
    name: 'mapproxy.source.request',
    method: 'GET',
    url: `${up.url}/a.png`,
    status: null,
    sizeKb: null,
    redirects: 1,
    location: `http://127.0.0.1:${port}/gone.png`,
    error: `No response from URL "${up.url}/a.png": Connection refused`,
    msg: `GET ${up.url}/a.png - - ${durationMs}`,
  });
});

test('per-logger level: mapproxy.source.request at warn silences requests, other loggers still log', async () => {
  configureLogging({ level: 'info', levels: { 'mapproxy.source.request': 'warn' }, destination: capture });
  await httpGet(`${up.url}/tiles/1/0/0.png`);
  getLogger('mapproxy.source.wms').info('other');
  assert.deepEqual(lines.map((l) => [l.name, l.msg]), [['mapproxy.source.wms', 'other']]);
});

test('a served tile logs its upstream GetMap on mapproxy.source.request with the exact URL', async () => {
  const cfg = await tempConfig(`
services:
  tms:
layers:
  - name: base
    title: base
    sources: [c]
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [wms]
    meta_size: [1, 1]
    meta_buffer: 0
sources:
  wms:
    type: wms
    req: {url: '${up.url}/wms?', layers: base}
globals:
  cache: {base_dir: ./cache, lock_dir: ./locks}
`);
  const app = await startApp(cfg.file);
  try {
    configureLogging({ level: 'info', destination: capture });
    const res = await get(`${app.url}/tms/1.0.0/base/EPSG3857/1/0/0.png`);
    assert.equal(res.status, 200);
    const reqs = named('mapproxy.source.request');
    assert.equal(reqs.length, 1);
    assert.equal(up.count('/wms'), 1);
    const sent = up.last();
    const { durationMs, sizeKb, ...rest } = own(reqs[0]);
    assert.equal(typeof sizeKb, 'number');
    // The source's name in the configuration comes along (it is the metrics' `source` label too).
    assert.deepEqual(rest, {
      level: 30,
      name: 'mapproxy.source.request',
      source: 'wms',
      method: 'GET',
      url: `${up.url}${sent.path}?${sent.rawQuery}`,
      status: 200,
      msg: `GET ${up.url}${sent.path}?${sent.rawQuery} 200 ${(sizeKb as number).toFixed(1)} ${durationMs}`,
    });
  } finally {
    configureLogging();
    await app.close();
    await cfg.cleanup();
  }
});

/** A node:http server whose handler runs the access-log hook first, as the worker will. */
async function accessServer(exclude?: string[]): Promise<{ url: string; closeListeners: number[]; close(): Promise<void> }> {
  const hook = createAccessLog(exclude ? { exclude } : {});
  const closeListeners: number[] = [];
  const server = http.createServer((req, res) => {
    const before = res.listenerCount('close');
    hook(req, res);
    closeListeners.push(res.listenerCount('close') - before);
    if (req.url === '/chunked') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('abc');
      res.end('defg');
    } else if (req.url?.startsWith('/tiles')) {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': '5' });
      res.end(req.method === 'HEAD' ? undefined : 'PNG!!');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': '9' });
      res.end('not found');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closeListeners,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

test('access log: method, path with query, status, bytes, ms, remote; probes excluded', async () => {
  configureLogging({ level: 'warn', accessLog: { exclude: ['/metrics'] }, destination: capture });
  const srv = await accessServer();
  try {
    await get(`${srv.url}/tiles/1/0/0.png?x=1`);
    await fetch(`${srv.url}/tiles/1/0/0.png`, { method: 'HEAD' });
    await get(`${srv.url}/nothing`);
    await get(`${srv.url}/chunked`);
    await get(`${srv.url}/healthz`); // excluded by default
    await get(`${srv.url}/readyz?full=1`); // excluded by default (query ignored)
    await get(`${srv.url}/metrics`); // excluded by the log configuration
    const access = named('mapproxy.access').map(own);
    for (const a of access) {
      assert.equal(typeof a.ms, 'number');
      assert.ok((a.ms as number) >= 0);
      delete a.ms;
    }
    const msg = (m: string, p: string, s: number, b: number) => new RegExp(`^127\\.0\\.0\\.1 "${m} ${p.replace(/[?.]/g, '\\$&')}" ${s} ${b} [\\d.]+ms$`);
    assert.deepEqual(access.map((a) => a.path), ['/tiles/1/0/0.png?x=1', '/tiles/1/0/0.png', '/nothing', '/chunked']);
    const expected = [
      ['GET', '/tiles/1/0/0.png?x=1', 200, 5],
      ['HEAD', '/tiles/1/0/0.png', 200, 0],
      ['GET', '/nothing', 404, 9],
    ] as const;
    for (const [i, [method, path, status, bytes]] of expected.entries()) {
      const { msg: text, ...fields } = access[i];
      assert.deepEqual(fields, { level: 30, name: 'mapproxy.access', method, path, status, bytes, remote: '127.0.0.1' });
      assert.match(String(text), msg(method, path, status, bytes));
    }
    // Without Content-Length: the bytes after the header block, chunk framing included
    // ("3\r\nabc\r\n" + "4\r\ndefg\r\n" + "0\r\n\r\n").
    assert.equal(access[3].bytes, 8 + 9 + 5);
  } finally {
    await srv.close();
  }
});

test('access log off: the hook adds no listener and logs nothing', async () => {
  configureLogging({ level: 'trace', destination: capture });
  const srv = await accessServer();
  try {
    await get(`${srv.url}/tiles/1/0/0.png`);
    assert.deepEqual(srv.closeListeners, [0]);
    assert.deepEqual(named('mapproxy.access'), []);
    configureLogging({ level: 'trace', accessLog: true, destination: capture });
    await get(`${srv.url}/tiles/1/0/0.png`);
    assert.deepEqual(srv.closeListeners, [0, 1]);
    assert.equal(named('mapproxy.access').length, 1);
  } finally {
    await srv.close();
  }
});

test('access log: the server may pass its own excluded paths (replacing /healthz and /readyz)', async () => {
  configureLogging({ accessLog: true, destination: capture });
  const srv = await accessServer(['/ping']);
  try {
    await get(`${srv.url}/ping`);
    await get(`${srv.url}/healthz`);
    assert.deepEqual(named('mapproxy.access').map((l) => l.path), ['/healthz']);
  } finally {
    await srv.close();
  }
});

test('logSystemInfo: mapproxy-ts, Node, sharp, libvips and proj4 versions on mapproxy.system', async () => {
  configureLogging({ destination: capture });
  const info = await logSystemInfo();
  const { default: proj4 } = await import('proj4');
  const { createRequire } = await import('node:module');
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  const expected = {
    version: pkg.version,
    node: process.version,
    sharp: sharp.versions.sharp,
    libvips: sharp.versions.vips,
    proj4: (proj4 as unknown as { version: string }).version,
  };
  assert.deepEqual(info, expected);
  assert.match(expected.proj4, /^\d+\.\d+\.\d+$/);
  const [line] = named('mapproxy.system');
  assert.deepEqual(own(line), {
    level: 30,
    name: 'mapproxy.system',
    ...expected,
    msg: `mapproxy-ts ${pkg.version}, Node ${process.version}, sharp ${expected.sharp}, libvips ${expected.libvips}, proj4 ${expected.proj4}`,
  });
});

test('the app writes access lines when the log configuration turns them on, probes left out', async () => {
  configureLogging({ level: 'warn', accessLog: true, destination: capture });
  const cfg = await tempConfig(`
services: {tms: {}}
layers: [{name: d, title: D, sources: [c]}]
caches: {c: {grids: [GLOBAL_WEBMERCATOR], sources: [dbg], disable_storage: true}}
sources: {dbg: {type: debug}}
`);
  const app = await startApp(cfg.file);
  try {
    const tile = await get(`${app.url}/tms/1.0.0/d/EPSG3857/0/0/0.png`);
    assert.equal(tile.status, 200);
    assert.equal((await get(`${app.url}/healthz`)).status, 200);
    assert.equal((await get(`${app.url}/nope`)).status, 404);
    const access = named('mapproxy.access');
    assert.deepEqual(access.map((a) => [a.method, a.path, a.status]), [
      ['GET', '/tms/1.0.0/d/EPSG3857/0/0/0.png', 200],
      ['GET', '/nope', 404],
    ]);
    assert.equal(access[0].bytes, tile.body.length);
  } finally {
    await app.close();
    await cfg.cleanup();
  }
});

test('access log: moved probe paths are left out also under X-Script-Name and under a MultiMapProxy project', async () => {
  configureLogging({ level: 'warn', accessLog: true, destination: capture });
  const yaml = `
services: {tms: {}}
layers: [{name: d, title: D, sources: [c]}]
caches: {c: {grids: [GLOBAL_WEBMERCATOR], sources: [dbg], disable_storage: true}}
sources: {dbg: {type: debug}}
`;
  const cfg = await tempConfig(yaml);
  await mkdir(join(cfg.dir, 'projects'));
  await writeFile(join(cfg.dir, 'projects', 'one.yaml'), yaml);
  const observability = { healthPath: '/-/alive', readyPath: '/-/ready' };
  const single = await createApp(cfg.file, { observability });
  const multi = createMultiApp(join(cfg.dir, 'projects'), { observability });
  const servers = [http.createServer(single), http.createServer(multi)];
  try {
    const [one, many] = await Promise.all(servers.map(async (s) => {
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    }));
    const mounted = { 'x-script-name': '/mp' };
    for (const [url, headers] of [
      [`${one}/-/alive`, {}], [`${one}/mp/-/alive`, mounted], [`${one}/mp/-/ready?x=1`, mounted],
      [`${many}/-/alive`, {}], [`${many}/one/-/alive`, {}], [`${many}/one/-/ready`, {}],
    ] as const) assert.equal((await get(url, headers)).status, 200, url);
    // Logged: the old paths (now 404) and a tile.
    assert.equal((await get(`${one}/mp/healthz`, mounted)).status, 404);
    assert.equal((await get(`${many}/one/tms/1.0.0/d/EPSG3857/0/0/0.png`)).status, 200);
    assert.deepEqual(named('mapproxy.access').map((a) => [a.path, a.status]), [
      ['/mp/healthz', 404],
      ['/one/tms/1.0.0/d/EPSG3857/0/0/0.png', 200],
    ]);
  } finally {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await single.close();
    await multi.close();
    await cfg.cleanup();
  }
});
