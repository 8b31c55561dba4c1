/**
 * The nginx examples of docs/deployment.md, run with Debian's nginx (issue 3, "Deployment files"
 * and acceptance 5). nginx runs as a child process of the test with everything in a temp dir.
 *
 * 1. test/fixtures/deploy/nginx-mapproxy.conf in front of a `serve` cluster (2 workers) under
 *    /mapproxy: TMS and WMTS capabilities carry `http://127.0.0.1:<nginx port>/mapproxy/…` URLs
 *    (MapProxy: `X-Script-Name` is the script name, the host comes from `Host`), tiles come
 *    through, and a location that sets `X-Forwarded-Proto: https` and `X-Forwarded-Host` gives
 *    https URLs on that host.
 * 2. test/fixtures/deploy/nginx-balance.conf: two `serve` instances (two masters, one worker each)
 *    share one tile cache, each with its own lock dirs. With `hash $remote_addr consistent` every
 *    uncached meta tile asked for by one client is fetched upstream once; with round-robin the
 *    two hosts each fetch it (the figures go to the test output). No corrupt tile either way.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { startUpstream, MERC_MAX, type Upstream } from '../helpers/upstream.js';
import { startServe, wmtsTile } from '../helpers/serve.js';
import { ROOT, TILE, assertCapabilityUrls, assertTilePixels, canConnect, configDir, documentedFixture, fetchText, fixture, freePort, serviceUrls } from '../helpers/deploy.js';

const NGINX = '/usr/sbin/nginx';
const SKIP = existsSync(NGINX) ? false : `nginx is not installed (${NGINX}); on Debian/Ubuntu: apt-get install nginx`;

interface Nginx {
  readonly child: ChildProcess;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * Run nginx in the foreground with `http` inside its http block; pid, logs and temp files in
 * `dir`. As root, the workers stay root (nginx would switch them to `nobody`, who cannot enter a
 * private temp dir). Resolves when every port in `ports` accepts connections.
 */
async function startNginx(dir: string, http: string, ports: readonly number[]): Promise<Nginx> {
  const user = process.geteuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${http}
}
`);
  const child = spawn(NGINX, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  const end = Date.now() + 10_000;
  for (const port of ports) {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > end) {
        await stop();
        const log = await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
        throw new Error(`nginx did not start (port ${port}):\n${out}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { child, dir, stop };
}

test('docs/deployment.md shows the nginx configurations this test runs', async () => {
  const doc = await readFile(path.join(ROOT, 'docs', 'deployment.md'), 'utf8');
  for (const name of ['nginx-mapproxy.conf', 'nginx-balance.conf']) {
    const text = await documentedFixture(name);
    assert.ok(doc.includes(text), `docs/deployment.md contains test/fixtures/deploy/${name} (after its comment)`);
  }
});

describe('nginx in front of mapproxy-ts', { skip: SKIP }, () => {
  let upstream: Upstream;
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    upstream = await startUpstream();
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await upstream?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('under /mapproxy with X-Script-Name: capabilities URLs, tiles, and https from X-Forwarded-Proto', async () => {
    const dir = await configDir();
    dirs.push(dir);
    const serve = await startServe(path.join(dir, 'base.yaml'), ['-w', '2', '--spare-workers', '0'], { env: { MPX_TEST_UPSTREAM: upstream.url } });
    cleanups.push(() => serve.kill());
    const port = await freePort();
    const server = await fixture('nginx-mapproxy.conf', [['server 127.0.0.1:8080;', `server 127.0.0.1:${serve.port};`], ['listen 80;', `listen 127.0.0.1:${port};`]]);
    const nginx = await startNginx(dir, server, [port]);
    cleanups.push(() => nginx.stop());
    const base = `http://127.0.0.1:${port}/mapproxy`;

    // MapProxy: the TMS root lists each tile map under the script name, on the client's Host.
    await assertCapabilityUrls(base);

    // A client cannot forge the host, scheme or script name: nginx sets those headers itself.
    const forged = await fetchText(`${base}/tms/1.0.0/`, { 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https', 'X-Script-Name': '/elsewhere' });
    assert.deepEqual(serviceUrls(forged), [`${base}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR`]);

    // One tile by TMS and WMTS, through nginx and direct: the same bytes, the right place, its
    // meta tile fetched once. MapProxy: /tms/1.0.0 skips level 0 of the global profiles and counts
    // rows from the south, so TMS 2/1/2 is tile (1, 5) of level 3, rows from the north.
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
    assert.equal(upstream.count(), 1, 'one meta tile, one upstream request');

    // TLS ending in front of nginx: X-Forwarded-Proto https and X-Forwarded-Host from nginx.
    const secure = 'https://maps.example.org/secure/mapproxy';
    const sTms = await fetchText(`http://127.0.0.1:${port}/secure/mapproxy/tms/1.0.0/`);
    assert.deepEqual(serviceUrls(sTms), [`${secure}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR`]);
    const sWmts = await fetchText(`http://127.0.0.1:${port}/secure/mapproxy/wmts/1.0.0/WMTSCapabilities.xml`);
    assert.deepEqual(serviceUrls(sWmts), [
      `${secure}/wmts/proof/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png`,
      `${secure}/wmts/1.0.0/WMTSCapabilities.xml`,
    ]);

    // The metrics stay inside: nginx denies them below both prefixes, mapproxy-ts answers them direct.
    for (const p of ['/mapproxy/metrics', '/secure/mapproxy/metrics', '/mapproxy/some-project/metrics']) {
      const res = await fetch(`http://127.0.0.1:${port}${p}`);
      assert.equal(res.status, 403, p);
      await res.arrayBuffer();
    }
    const direct = await fetch(`${serve.url}/metrics`);
    assert.equal(direct.status, 200);
    assert.match(await direct.text(), /^# HELP /m);
    const probe = await fetch(`${base}/readyz`);
    assert.equal(probe.status, 200, 'the probes pass through nginx');
    await probe.arrayBuffer();

    await nginx.stop();
    await serve.kill();
  });

  test('two instances sharing one cache with local lock dirs: sticky hash vs round-robin', async (t) => {
    const dir = await configDir();
    dirs.push(dir);
    const env = { MPX_TEST_UPSTREAM: upstream.url };
    const [a, b] = await Promise.all(['host-a.yaml', 'host-b.yaml'].map((f) => startServe(path.join(dir, f), ['-w', '1', '--spare-workers', '0'], { env })));
    cleanups.push(() => a.kill(), () => b.kill());
    const [stickyPort, rrPort] = [await freePort(), await freePort()];
    const hosts: Array<readonly [string, string]> = [['10.0.0.11:8080', `127.0.0.1:${a.port}`], ['10.0.0.12:8080', `127.0.0.1:${b.port}`]];
    // Which host answered, for the test only (it would show internal addresses to the world).
    const tag: readonly [string, string] = ['location /mapproxy {', 'location /mapproxy {\n        add_header X-Upstream $upstream_addr always;'];
    const sticky = await fixture('nginx-balance.conf', [...hosts, ['listen 80;', `listen 127.0.0.1:${stickyPort};`], tag]);
    const roundRobin = await fixture('nginx-balance.conf', [...hosts, ['listen 80;', `listen 127.0.0.1:${rrPort};`], tag,
      ['    hash $remote_addr consistent;\n', ''], ['mapproxy_hosts', 'mapproxy_hosts_rr']]);
    const nginx = await startNginx(dir, `${sticky}\n${roundRobin}`, [stickyPort, rrPort]);
    cleanups.push(() => nginx.stop());
    const backends = new Set([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
    // The instances' metrics stay inside here too.
    for (const p of ['/mapproxy/metrics', '/mapproxy/some-project/metrics']) {
      const res = await fetch(`http://127.0.0.1:${stickyPort}${p}`);
      assert.equal(res.status, 403, p);
      await res.arrayBuffer();
    }

    // Clients on different loopback addresses (127.0.0.0/8 is all local on Linux).
    const agents = new Map<string, Agent>();
    const agent = (addr: string): Agent => {
      if (!agents.has(addr)) agents.set(addr, new Agent({ localAddress: addr }));
      return agents.get(addr)!;
    };
    cleanups.push(async () => { for (const ag of agents.values()) await ag.close(); });
    const getVia = async (port: number, p: string, addr: string) => {
      const res = await request(`http://127.0.0.1:${port}/mapproxy${p}`, { dispatcher: agent(addr) });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, host: String(res.headers['x-upstream']), body };
    };
    // Four client addresses, two of which the hash sends to each host.
    const clients: string[] = [];
    const perHost = new Map<string, number>();
    for (let i = 10; i < 60 && clients.length < 4; i++) {
      const addr = `127.0.0.${i}`;
      const { status, host } = await getVia(stickyPort, '/', addr);
      assert.equal(status, 200);
      assert.ok(backends.has(host), host);
      if ((perHost.get(host) ?? 0) < 2) {
        perHost.set(host, (perHost.get(host) ?? 0) + 1);
        clients.push(addr);
      }
    }
    assert.equal(clients.length, 4, 'found two client addresses per host');

    const LEVEL = 8;
    const metaTiles = (row: number) => [0, 1, 2, 3].map((m) => ({ mx: 10 + 2 * m, my: row }));
    /** Which meta tile (4x4, rows from the north) an upstream GetMap covers: its bbox centre. */
    const metaOf = (bbox: string): string => {
      const [x0, y0, x1, y1] = bbox.split(',').map(Number);
      return `${Math.floor(Math.floor(((x0 + x1) / 2 + MERC_MAX) / TILE(LEVEL)) / 4)}/${Math.floor(Math.floor((MERC_MAX - (y0 + y1) / 2) / TILE(LEVEL)) / 4)}`;
    };
    const served: Array<{ x: number; y: number; body: Buffer }> = [];

    /** 32 concurrent requests per meta tile (its 16 tiles twice), meta tile m from client m. */
    const drive = async (port: number, row: number) => {
      const metas = metaTiles(row);
      const seen = upstream.requests.length;
      upstream.setDelay(300); // every request of a meta tile arrives while it is being made
      const answers = await Promise.all(metas.flatMap(({ mx, my }, m) => Array.from({ length: 32 }, async (_, i) => {
        const [x, y] = [mx * 4 + (i % 4), my * 4 + (Math.floor(i / 4) % 4)];
        const r = await getVia(port, wmtsTile(x, y, LEVEL), clients[m]);
        return { ...r, meta: `${mx}/${my}`, client: clients[m], x, y };
      })));
      upstream.setDelay(0);
      for (const r of answers) {
        assert.equal(r.status, 200, `tile ${r.x}/${r.y}`);
        served.push(r);
        await assertTilePixels(r.body, r.x, r.y, LEVEL);
      }
      const fetched = new Map(metas.map(({ mx, my }) => [`${mx}/${my}`, 0]));
      for (const req of upstream.requests.slice(seen)) {
        const key = metaOf(req.query.get('bbox') ?? '');
        assert.ok(fetched.has(key), `upstream request for an expected meta tile, got ${key}`);
        fetched.set(key, fetched.get(key)! + 1);
      }
      const hostsOf = (meta: string) => new Set(answers.filter((r) => r.meta === meta).map((r) => r.host));
      return { fetched, hostsOf, answers };
    };

    const s = await drive(stickyPort, 20);
    for (const [meta, n] of s.fetched) {
      assert.equal(s.hostsOf(meta).size, 1, `sticky: all requests of meta tile ${meta} on one host`);
      assert.equal(n, 1, `sticky: meta tile ${meta} fetched upstream once`);
    }
    assert.equal(new Set(s.answers.map((r) => r.host)).size, 2, 'sticky: both hosts served clients');
    const rr = await drive(rrPort, 24);
    for (const [meta, n] of rr.fetched) {
      assert.equal(rr.hostsOf(meta).size, 2, `round-robin: meta tile ${meta} served by both hosts`);
      assert.ok(n >= 1 && n <= 2, `round-robin: meta tile ${meta} fetched ${n} times, at most once per host`);
    }
    const figures = (f: Map<string, number>) => [...f].map(([m, n]) => `${m}: ${n}`).join(', ');
    t.diagnostic(`upstream requests per meta tile, sticky (hash $remote_addr consistent): ${figures(s.fetched)}`);
    t.diagnostic(`upstream requests per meta tile, round-robin: ${figures(rr.fetched)}`);

    // No corrupt tile: the shared cache holds exactly the 128 tiles, no temp files, each decodes
    // completely, equals what was served, and shows its own place.
    const files: string[] = [];
    for (const e of await readdir(path.join(dir, 'cache'), { withFileTypes: true, recursive: true })) {
      if (e.isFile()) files.push(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
    }
    assert.deepEqual(files.filter((f) => !f.endsWith('.png')), [], 'only tiles in the shared cache');
    assert.equal(files.length, 128);
    const stored = new Map<string, Buffer>();
    for (const f of files) {
      const [z, x1, x2, x3, y1, y2, y3] = path.relative(path.join(dir, 'cache', 'proof_cache_EPSG3857'), f).replace(/\.png$/, '').split(path.sep).map(Number);
      const [x, y] = [x1 * 1e6 + x2 * 1e3 + x3, y1 * 1e6 + y2 * 1e3 + y3];
      const data = await readFile(f);
      await sharp(data).raw().toBuffer();
      // MapProxy: GLOBAL_WEBMERCATOR's origin is the north-west, so tc paths count rows from the north.
      assert.equal(z, LEVEL);
      stored.set(`${x}/${y}`, data);
    }
    for (const { x, y, body } of served) assert.ok(stored.get(`${x}/${y}`)?.equals(body), `served tile ${x}/${y} equals the stored file`);
    // Each host locked in its own (local) lock dir; none sits in the shared cache.
    for (const h of ['host-a', 'host-b']) assert.ok(existsSync(path.join(dir, h, 'tile_locks')), `${h} has its own tile_lock_dir`);
    assert.equal(existsSync(path.join(dir, 'cache', 'tile_locks')), false);
  });
});
