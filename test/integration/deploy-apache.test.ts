/**
 * The Apache example of docs/deployment.md, run with Debian's apache2 (httpd 2.4, mpm_event) as a
 * child process of the test, with its own minimal server configuration in a temp dir around
 * test/fixtures/deploy/apache-mapproxy.conf (the documented virtual host; only its addresses
 * change). The checks mirror deploy-nginx.test.ts:
 *
 * 1. In front of a `serve` cluster (2 workers) under /mapproxy: TMS and WMTS capabilities carry
 *    `http://127.0.0.1:<apache port>/mapproxy/…` URLs, tiles come through byte-identical to
 *    direct, a client's own X-Forwarded-Host / -Proto / X-Script-Name change nothing (and without
 *    the example's `RequestHeader unset X-Forwarded-Host early` in the virtual host, the client's
 *    host would win: mod_proxy appends to it), /secure/mapproxy/ gives https URLs, the metrics are denied (403) however the
 *    path is spelt, the probes answer 200.
 * 2. Keep-alive to mapproxy-ts (a relay between the two counts connections and keeps what Apache
 *    sends): one pooled connection for many requests, each request head one the workers' fast
 *    lane takes; after `ttl` idle seconds Apache closes it itself, before mapproxy-ts's keep-alive
 *    timeout does; after mapproxy-ts was unreachable (503), the next request is answered at once.
 * 3. A MultiMapProxy (`serve --multiapp`): project URLs under /mapproxy/<project>, each project's
 *    metrics denied.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startServe, waitFor, wmtsTile, type ServeProcess } from '../helpers/serve.js';
import { FIXTURES, ROOT, assertCapabilityUrls, assertTilePixels, canConnect, configDir, documentedFixture, fetchText, fixture, freePort, serviceUrls } from '../helpers/deploy.js';
import { classifyHead } from '../../src/worker/fast-lane.js';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const SKIP = existsSync(APACHE) ? false : `Apache httpd is not installed (${APACHE}); on Debian/Ubuntu: apt-get install apache2`;
/** The example's `ttl` (s), and how long the test leaves a pooled connection idle to see it. */
const TTL_S = 4;
const IDLE_MS = 4500;

interface Apache {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Process groups of Apaches started here and not stopped: killed with this process. */
const groups = new Set<number>();
process.on('exit', () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Run Apache in the foreground with `sites` (virtual hosts) after a minimal server configuration
 * listening on 127.0.0.1:`ports`: pid file, error log and runtime files in `dir`, the modules the
 * example needs loaded from Debian's module directory, nothing of /etc/apache2. One child process,
 * so that one pool of connections to mapproxy-ts serves every request and the test can count its
 * connections (Apache starts several by default, each with its own pool). As root the children
 * run as uid/gid 65534, as Debian runs them as www-data. Resolves when every port accepts
 * connections.
 */
async function startApache(dir: string, sites: string, ports: readonly number[]): Promise<Apache> {
  const conf = path.join(dir, 'httpd.conf');
  const user = process.geteuid?.() === 0 ? 'User #65534\nGroup #65534\n' : '';
  await writeFile(conf, `ServerRoot ${dir}
DefaultRuntimeDir ${dir}
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
LogLevel warn
ServerName 127.0.0.1
${ports.map((p) => `Listen 127.0.0.1:${p}`).join('\n')}
${user}LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule headers_module ${MODULES}/mod_headers.so
LoadModule proxy_module ${MODULES}/mod_proxy.so
LoadModule proxy_http_module ${MODULES}/mod_proxy_http.so
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
MinSpareThreads 1
MaxSpareThreads 25

${sites}
`);
  // A process group of its own: if this process dies, its exit handler takes the children too.
  const child = spawn(APACHE, ['-d', dir, '-f', conf, '-DFOREGROUND'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (child.pid !== undefined) groups.add(child.pid);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM: the parent stops its children and exits.
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    groups.delete(child.pid ?? 0);
  };
  const end = Date.now() + 10_000;
  for (const port of ports) {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > end) {
        await stop();
        const log = await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
        throw new Error(`apache2 did not start (port ${port}):\n${out}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { child, stop };
}

/** The fixture for Apache on `port` in front of mapproxy-ts on `backend`. */
function site(port: number, backend: number, extra: ReadonlyArray<readonly [string, string]> = []): Promise<string> {
  return fixture('apache-mapproxy.conf', [['<VirtualHost *:80>', `<VirtualHost *:${port}>`], ['127.0.0.1:8080/', `127.0.0.1:${backend}/`], ...extra]);
}

/** GET `target` as written (no URL parsing: dot segments, `//` and escapes stay), on a new connection. */
function rawGet(port: number, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: target, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** One connection from Apache through the relay: what Apache wrote, in the reads it arrived in. */
interface RelayedConnection {
  readonly reads: Buffer[];
  /** Who ended it first; `relay` when the test cut it. */
  closedBy?: 'apache' | 'mapproxy-ts' | 'relay';
}

/**
 * A TCP relay on 127.0.0.1 in front of mapproxy-ts on `target`, keeping every connection Apache
 * opens. `pause` stops listening and cuts every connection (mapproxy-ts gone, as in a restart);
 * `resume` listens on the same port again.
 */
async function startRelay(target: number) {
  const connections: RelayedConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((front) => {
    const conn: RelayedConnection = { reads: [] };
    connections.push(conn);
    const back = net.connect(target, '127.0.0.1');
    for (const s of [front, back]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    front.on('data', (d: Buffer) => { conn.reads.push(d); back.write(d); });
    back.on('data', (d: Buffer) => front.write(d));
    front.once('end', () => { conn.closedBy ??= 'apache'; back.end(); });
    back.once('end', () => { conn.closedBy ??= 'mapproxy-ts'; front.end(); });
    front.once('error', () => back.destroy());
    back.once('error', () => front.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const cut = async () => {
    for (const c of connections) c.closedBy ??= 'relay';
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return {
    port,
    connections,
    pause: cut,
    async resume() {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    close: () => (server.listening ? cut() : Promise.resolve()),
  };
}

test('docs/deployment.md shows the Apache configuration this test runs', async () => {
  const doc = await readFile(path.join(ROOT, 'docs', 'deployment.md'), 'utf8');
  assert.ok(doc.includes(await documentedFixture('apache-mapproxy.conf')), 'docs/deployment.md contains test/fixtures/deploy/apache-mapproxy.conf (after its comment)');
});

describe('Apache in front of mapproxy-ts', { skip: SKIP }, () => {
  let upstream: Upstream;
  let dir: string;
  let serve: ServeProcess;
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  /** A fresh dir for one Apache (the config dir holds the cache). */
  const apacheDir = async (name: string): Promise<string> => {
    const d = path.join(dir, name);
    await mkdir(d);
    return d;
  };

  before(async () => {
    upstream = await startUpstream();
    dir = await configDir();
    dirs.push(dir);
    serve = await startServe(path.join(dir, 'base.yaml'), ['-w', '2', '--spare-workers', '0'], { env: { MPX_TEST_UPSTREAM: upstream.url } });
    cleanups.push(() => serve.kill());
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await upstream?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('under /mapproxy: capabilities URLs, tiles, forged headers, https from X-Forwarded-Proto, metrics denied', async () => {
    const [port, without, inLocation] = [await freePort(), await freePort(), await freePort()];
    // The same host on two more ports: without its `RequestHeader unset X-Forwarded-Host early`,
    // and with that line moved into the <Location> (where Apache takes `early` and ignores it).
    const unset = '    RequestHeader unset X-Forwarded-Host early\n';
    const sites = [
      await site(port, serve.port),
      await site(without, serve.port, [[unset, '']]),
      await site(inLocation, serve.port, [[unset, ''], ['    <Location /mapproxy>\n', `    <Location /mapproxy>\n    ${unset}`]]),
    ].join('\n');
    const apache = await startApache(await apacheDir('apache-main'), sites, [port, without, inLocation]);
    cleanups.push(() => apache.stop());
    const base = `http://127.0.0.1:${port}/mapproxy`;

    // MapProxy: the TMS root lists each tile map under the script name, on the client's Host.
    await assertCapabilityUrls(base);

    // A client cannot forge the host, scheme or script name: Apache replaces X-Forwarded-Proto
    // and X-Script-Name, and X-Forwarded-Host is dropped before mod_proxy adds its own.
    const forge = { 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https', 'X-Script-Name': '/elsewhere' };
    assert.deepEqual(serviceUrls(await fetchText(`${base}/tms/1.0.0/`, forge)), [`${base}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR`]);
    // Without the unset in the virtual host, mod_proxy appends the Host to the client's
    // X-Forwarded-Host (`evil.example, 127.0.0.1:<port>`), and the first value is the client's.
    for (const p of [without, inLocation]) {
      const forged = await fetchText(`http://127.0.0.1:${p}/mapproxy/tms/1.0.0/`, forge);
      assert.deepEqual(serviceUrls(forged), ['http://evil.example/mapproxy/tms/1.0.0/proof/GLOBAL_WEBMERCATOR'], p === without ? 'without the unset' : 'the unset in <Location>');
    }

    // One tile by TMS and WMTS, through Apache and direct: the same bytes, the right place, its
    // meta tile fetched once. MapProxy: /tms/1.0.0 skips level 0 of the global profiles and counts
    // rows from the south, so TMS 2/1/2 is tile (1, 5) of level 3, rows from the north.
    const before = upstream.count();
    const viaTms = await fetch(`${base}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR/2/1/2.png`);
    assert.equal(viaTms.status, 200);
    assert.equal(viaTms.headers.get('content-type'), 'image/png');
    const tile = Buffer.from(await viaTms.arrayBuffer());
    await assertTilePixels(tile, 1, 5, 3);
    for (const url of [`${base}${wmtsTile(1, 5, 3)}`, `${serve.url}${wmtsTile(1, 5, 3)}`, `http://127.0.0.1:${port}/secure/mapproxy${wmtsTile(1, 5, 3)}`]) {
      const res = await fetch(url);
      assert.equal(res.status, 200, url);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(tile), `${url} serves the same tile`);
    }
    assert.equal(upstream.count() - before, 1, 'one meta tile, one upstream request');

    // TLS ending in front of Apache: X-Forwarded-Proto https and X-Forwarded-Host from Apache.
    const secure = 'https://maps.example.org/secure/mapproxy';
    const sTms = await fetchText(`http://127.0.0.1:${port}/secure/mapproxy/tms/1.0.0/`, forge);
    assert.deepEqual(serviceUrls(sTms), [`${secure}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR`]);
    const sWmts = await fetchText(`http://127.0.0.1:${port}/secure/mapproxy/wmts/1.0.0/WMTSCapabilities.xml`);
    assert.deepEqual(serviceUrls(sWmts), [
      `${secure}/wmts/proof/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png`,
      `${secure}/wmts/1.0.0/WMTSCapabilities.xml`,
    ]);

    // The metrics stay inside: Apache matches the path after decoding it, merging slashes and
    // resolving dot segments (and forwards it so), so no spelling gets through; mapproxy-ts
    // answers them direct.
    for (const p of ['/mapproxy/metrics', '/secure/mapproxy/metrics', '/mapproxy/some-project/metrics', '/mapproxy//metrics',
      '/mapproxy/./metrics', '/mapproxy/x/../metrics', '/mapproxy/metric%73', '/mapproxy/metrics?name=x', '/secure/mapproxy//some-project/metrics']) {
      assert.equal((await rawGet(port, p)).status, 403, p);
    }
    const direct = await fetch(`${serve.url}/metrics`);
    assert.equal(direct.status, 200);
    assert.match(await direct.text(), /^# HELP /m);
    for (const p of ['/mapproxy/healthz', '/mapproxy/readyz', '/secure/mapproxy/readyz']) {
      assert.equal((await rawGet(port, p)).status, 200, `${p}: the probes pass through Apache`);
    }

    await apache.stop();
  });

  test(`keep-alive to mapproxy-ts: one pooled connection, fast-lane request heads, ttl=${TTL_S} closes it, back at once after a restart`, async () => {
    const relay = await startRelay(serve.port);
    cleanups.push(() => relay.close());
    const port = await freePort();
    const apache = await startApache(await apacheDir('apache-keepalive'), await site(port, relay.port), [port]);
    cleanups.push(() => apache.stop());
    const tilePath = `/mapproxy${wmtsTile(6, 9, 4)}`;

    // Each request on a new client connection, one at a time: all of them on one connection to
    // mapproxy-ts. The forged header shows what Apache sends instead of the client's.
    const first = await rawGet(port, tilePath);
    assert.equal(first.status, 200);
    await assertTilePixels(first.body, 6, 9, 4);
    for (let i = 0; i < 20; i++) {
      const res = await rawGet(port, tilePath, i === 0 ? { 'X-Forwarded-Host': 'evil.example' } : {});
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(first.body), `request ${i}: the same tile`);
    }
    assert.equal(relay.connections.length, 1, 'one connection to mapproxy-ts for 21 requests');
    const reads = relay.connections[0].reads.map((b) => b.toString('latin1'));
    assert.equal(reads.length, 21, 'one read per request');
    for (const head of reads) {
      // The workers' fast lane answers a hot tile only for a plain HTTP/1.1 keep-alive GET head
      // arriving whole: each of Apache's is one.
      assert.deepEqual(classifyHead(head), { kind: 'fast', url: tilePath, scriptName: '/mapproxy', end: head.length });
      const lines = head.split('\r\n');
      assert.equal(lines[0], `GET ${tilePath} HTTP/1.1`);
      for (const line of [`Host: 127.0.0.1:${port}`, 'X-Forwarded-Proto: http', 'X-Script-Name: /mapproxy', `X-Forwarded-Host: 127.0.0.1:${port}`, 'Connection: Keep-Alive']) {
        assert.equal(lines.filter((l) => l === line).length, 1, `${line} once in\n${head}`);
      }
      assert.equal(lines.filter((l) => /^x-forwarded-host:/i.test(l)).length, 1, head);
    }

    // Idle past ttl but within mapproxy-ts's keep-alive timeout: Apache closes the connection
    // itself and opens a new one, instead of racing mapproxy-ts closing it.
    await new Promise((r) => setTimeout(r, IDLE_MS));
    assert.equal((await rawGet(port, tilePath)).status, 200);
    await waitFor(() => relay.connections[0].closedBy !== undefined, 'the idle connection closed');
    assert.equal(relay.connections[0].closedBy, 'apache', `Apache closed the connection idle for ${IDLE_MS} ms, mapproxy-ts had not`);
    assert.equal(relay.connections.length, 2);
    assert.equal(relay.connections[1].reads.length, 1);

    // mapproxy-ts unreachable (connections cut, the port refusing): 503; reachable again: the
    // very next request is answered.
    await relay.pause();
    assert.equal((await rawGet(port, tilePath)).status, 503);
    await relay.resume();
    const back = await rawGet(port, tilePath);
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(first.body));
    assert.equal(relay.connections.length, 3);

    await apache.stop();
    await relay.close();
  });

  test('MultiMapProxy: project URLs under /mapproxy/<project>, every project\'s metrics denied', async () => {
    const projects = path.join(dir, 'projects');
    await mkdir(projects);
    await copyFile(path.join(FIXTURES, 'base.yaml'), path.join(projects, 'proj.yaml'));
    const multi = await startServe(projects, ['--multiapp', '-w', '1', '--spare-workers', '0'], { env: { MPX_TEST_UPSTREAM: upstream.url } });
    cleanups.push(() => multi.kill());
    const port = await freePort();
    const apache = await startApache(await apacheDir('apache-multi'), await site(port, multi.port), [port]);
    cleanups.push(() => apache.stop());
    const base = `http://127.0.0.1:${port}/mapproxy/proj`;

    assert.deepEqual(serviceUrls(await fetchText(`${base}/tms/1.0.0/`)), [`${base}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR`]);
    assert.deepEqual(serviceUrls(await fetchText(`http://127.0.0.1:${port}/secure/mapproxy/proj/wmts/1.0.0/WMTSCapabilities.xml`)), [
      'https://maps.example.org/secure/mapproxy/proj/wmts/proof/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png',
      'https://maps.example.org/secure/mapproxy/proj/wmts/1.0.0/WMTSCapabilities.xml',
    ]);
    for (const p of ['/proj/metrics', '/metrics']) {
      const res = await fetch(`${multi.url}${p}`);
      assert.equal(res.status, 200, `${p} direct`);
      await res.arrayBuffer();
      assert.equal((await rawGet(port, `/mapproxy${p}`)).status, 403, `/mapproxy${p}`);
      assert.equal((await rawGet(port, `/secure/mapproxy${p}`)).status, 403, `/secure/mapproxy${p}`);
    }
    assert.equal((await rawGet(port, '/mapproxy/proj/readyz')).status, 200);

    await apache.stop();
    await multi.kill();
  });
});
