/**
 * MultiMapProxy (REFERENCE.md §1.6) in this process over real HTTP, real files and the real test
 * upstream: `<dir>/<name>.yaml` served under `/<name>/`, the prefix (after any X-Script-Name) in
 * capabilities URLs, the listing at `/`, 404 for unknown names and traversal attempts, projects
 * added, edited, broken, fixed and removed while the server runs, the LRU of loaded projects.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { startUpstream, expectedColor, pixelCenter, xyzTileBbox, type Upstream } from '../helpers/upstream.js';
import { get } from '../helpers/server.js';
import { createMultiApp, listProjects, type MultiApp, type MultiAppOptions } from '../../src/app/multiapp.js';
import { productVersion } from '../../src/app/router.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents } from '../../src/source/http-client.js';

type LogLine = { name?: string; level?: number; msg?: string; [k: string]: unknown };
const logs: LogLine[] = [];

let upstream: Upstream;
let root: string;
let dir: string;
const servers: Array<() => Promise<void>> = [];

/** A project with one tile layer `<layer>` whose WMS source asks the upstream for `wmsLayers`. */
function project(layer: string, wmsLayers: string): string {
  return `services:
  tms:
  wmts:
layers:
  - name: ${layer}
    title: Layer ${layer}
    sources: [c]
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [s]
    disable_storage: true
    meta_size: [1, 1]
    meta_buffer: 0
    image: {colors: 0}
sources:
  s:
    type: wms
    req: {url: "${upstream.url}/wms?", layers: ${wmsLayers}}
globals:
  cache: {base_dir: ./cache_${layer}, lock_dir: ./locks_${layer}, tile_lock_dir: ./tile_locks_${layer}}
`;
}

/** Replace a file as deploy tools do: write a temp file, rename it over. */
async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

async function serve(opts: MultiAppOptions): Promise<{ url: string; app: MultiApp }> {
  const app = createMultiApp(dir, opts);
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, app };
}

/** Call `probe` until it returns something other than `undefined`. */
async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  // Up to 30 s: a reload builds an app, slow on a loaded machine.
  for (let i = 0; i < 1500; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * The tile shows the upstream's picture of TMS tile (z, x, y). MapProxy: the TMS `EPSG3857` tile
 * set has the global-mercator profile, level 0 is 2×2 and rows count from the south.
 */
async function assertTile(body: Buffer, z: number, x: number, y: number): Promise<void> {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [256, 256]);
  const bbox = xyzTileBbox(z + 1, x, y, 'sw');
  for (const [px, py] of [[5, 5], [250, 128]] as const) {
    const [mx, my] = pixelCenter(bbox, [256, 256], px, py);
    const o = (py * info.width + px) * info.channels;
    assert.deepEqual([data[o], data[o + 1], data[o + 2]], expectedColor(mx, my), `pixel ${px},${py}`);
  }
}

before(async () => {
  configureLogging({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } });
  upstream = await startUpstream();
  root = await mkdtemp(join(tmpdir(), 'mpx-'));
  dir = join(root, 'projects');
  await mkdir(dir);
  await writeFile(join(dir, 'alpha.yaml'), project('a', 'alpha'));
  await writeFile(join(dir, 'beta.yaml'), project('b', 'beta'));
  // Not projects: another suffix, a name with a dot, a directory named like a project.
  await writeFile(join(dir, 'notes.txt'), 'not a project');
  await writeFile(join(dir, 'bad.name.yaml'), project('x', 'x'));
  await mkdir(join(dir, 'folder.yaml'));
  // A valid configuration next to the project directory: reachable only by a traversal.
  await writeFile(join(root, 'secret.yaml'), project('s', 'secret'));
});

beforeEach(() => {
  upstream.reset();
  logs.length = 0;
});

after(async () => {
  for (const stop of servers) await stop();
  await upstream.close();
  await closeHttpAgents();
  await rm(root, { recursive: true, force: true });
  configureLogging({ level: 'silent' });
});

test('two projects serve their tiles under their own prefixes, each from its own configuration', async () => {
  const { url } = await serve({ checkIntervalMs: 0 });
  const a = await get(`${url}/alpha/tms/1.0.0/a/EPSG3857/1/0/1.png`);
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('content-type'), 'image/png');
  await assertTile(a.body, 1, 0, 1);
  assert.equal(upstream.last().query.get('layers'), 'alpha');
  const b = await get(`${url}/beta/tms/1.0.0/b/EPSG3857/1/1/0.png`);
  assert.equal(b.status, 200);
  await assertTile(b.body, 1, 1, 0);
  assert.equal(upstream.last().query.get('layers'), 'beta');
  assert.equal(upstream.count(), 2);
  // a layer of the other project, and the services without a project, are not there
  const other = await get(`${url}/alpha/tms/1.0.0/b/EPSG3857/1/1/0.png`);
  assert.notEqual(other.status, 200);
  const bare = await get(`${url}/tms/1.0.0/a/EPSG3857/1/0/1.png`);
  assert.equal(bare.status, 404);
  assert.equal(bare.body.toString(), 'not found');
  assert.equal(upstream.count(), 2);
  // MapProxy: a project's root (with or without the slash) is its own welcome page
  for (const path of ['/alpha/', '/alpha']) {
    const w = await get(`${url}${path}`);
    assert.equal(w.status, 200, path);
    assert.equal(w.body.toString(), `<html><body><h1>Welcome to MapProxy-ts ${productVersion()}</h1>`);
  }
  const log = logs.filter((l) => l.name === 'mapproxy.multiapp' && l.msg?.startsWith('initializing project app'));
  assert.deepEqual(log.map((l) => [l.msg, l.file]), [
    ['initializing project app alpha', join(dir, 'alpha.yaml')],
    ['initializing project app beta', join(dir, 'beta.yaml')],
  ]);
});

test('capabilities URLs carry the project prefix, after X-Script-Name', async () => {
  const { url } = await serve({ checkIntervalMs: 0 });
  const port = new URL(url).port;
  const tms = (await get(`${url}/alpha/tms/1.0.0/`)).body.toString();
  assert.ok(tms.includes(`href="${url}/alpha/tms/1.0.0/a/EPSG3857"`), tms);
  const wmts = (await get(`${url}/beta/wmts/1.0.0/WMTSCapabilities.xml`)).body.toString();
  assert.ok(wmts.includes(`template="${url}/beta/wmts/b/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png"`), wmts);
  assert.ok(!wmts.includes(`${url}/wmts`), wmts);
  const kvp = (await get(`${url}/beta/service?SERVICE=WMTS&REQUEST=GetCapabilities`)).body.toString();
  assert.ok(kvp.includes(`xlink:href="${url}/beta/service?"`), kvp);
  // behind a proxy that keeps the script name in the path, and one that strips it
  for (const path of ['/mapproxy/alpha/tms/1.0.0/', '/alpha/tms/1.0.0/']) {
    const r = await get(`${url}${path}`, { 'X-Script-Name': '/mapproxy', 'X-Forwarded-Host': 'maps.example.com' });
    assert.equal(r.status, 200, path);
    assert.ok(r.body.toString().includes('href="http://maps.example.com/mapproxy/alpha/tms/1.0.0/a/EPSG3857"'), r.body.toString());
  }
  const viaProxy = await get(`${url}/mapproxy/beta/wmts/1.0.0/WMTSCapabilities.xml`, { 'X-Script-Name': '/mapproxy/' });
  assert.ok(viaProxy.body.toString().includes(`template="http://127.0.0.1:${port}/mapproxy/beta/wmts/b/`), viaProxy.body.toString());
  // the tile under the proxied prefix is the project's tile
  const tile = await get(`${url}/mapproxy/beta/tms/1.0.0/b/EPSG3857/0/0/0.png`, { 'X-Script-Name': '/mapproxy' });
  assert.equal(tile.status, 200);
  await assertTile(tile.body, 0, 0, 0);
  assert.equal(upstream.last().query.get('layers'), 'beta');
});

test('the page at / lists the projects only when listing is allowed', async () => {
  const listed = await serve({ allowListing: true });
  const r = await get(`${listed.url}/`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  // MapProxy's MultiMapProxy index: every <name>.yaml, sorted, linked with a trailing slash
  assert.equal(
    r.body.toString(),
    `<html><body><h1>Welcome to MapProxy-ts ${productVersion()}</h1><h2>available instances:</h2><ul>` +
      `<li><a href="${listed.url}/alpha/">alpha</a></li>\n<li><a href="${listed.url}/beta/">beta</a></li></ul></body></html>`,
  );
  const proxied = await get(`${listed.url}/mp/`, { 'X-Script-Name': '/mp', 'X-Forwarded-Host': 'h.example', 'X-Forwarded-Proto': 'https' });
  assert.ok(proxied.body.toString().includes('<li><a href="https://h.example/mp/alpha/">alpha</a></li>'), proxied.body.toString());
  assert.deepEqual(await listProjects(dir), ['alpha', 'beta']);

  // MapProxy: without listing, / is still the welcome page, but names no project
  const unlisted = await serve({});
  const u = await get(`${unlisted.url}/`);
  assert.equal(u.status, 200);
  assert.equal(u.body.toString(), `<html><body><h1>Welcome to MapProxy-ts ${productVersion()}</h1></body></html>`);
  const head = await fetch(`${unlisted.url}/`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  const post = await fetch(`${unlisted.url}/alpha/tms/1.0.0/`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('health, readiness and metrics answer at the top, before any project; a project named like one is not served', async () => {
  const shadowed = join(dir, 'healthz.yaml');
  await writeFile(shadowed, project('h', 'healthz'));
  try {
    const { url } = await serve({ allowListing: true });
    const health = await get(`${url}/healthz`);
    assert.deepEqual([health.status, health.body.toString()], [200, 'ok']);
    const ready = await get(`${url}/readyz`);
    assert.deepEqual([ready.status, ready.body.toString()], [200, 'ready']);
    const metrics = await get(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body.toString(), /^# HELP /m);
    // Under a script name too, as every route.
    assert.equal((await get(`${url}/mp/healthz`, { 'X-Script-Name': '/mp' })).body.toString(), 'ok');
    // The project healthz is neither served nor listed; the log says why, once, from the start.
    assert.equal(logs.filter((l) => l.name === 'mapproxy.config' && l.project === 'healthz').length, 1);
    for (let i = 0; i < 2; i++) {
      const r = await get(`${url}/healthz/tms/1.0.0/`);
      assert.deepEqual([r.status, r.body.toString()], [404, 'not found']);
    }
    const warned = logs.filter((l) => l.name === 'mapproxy.config' && l.project === 'healthz');
    assert.deepEqual(warned.map((l) => l.msg), ['project healthz is not served: /healthz is an operational route (health, readiness, metrics); rename healthz.yaml']);
    assert.ok(!(await get(`${url}/`)).body.toString().includes('healthz'));
    assert.equal(upstream.count(), 0);
    // Without the routes (observability: false) the name is a project like any other.
    const plain = await serve({ observability: false });
    assert.equal((await get(`${plain.url}/readyz`)).status, 404);
    assert.equal((await get(`${plain.url}/healthz/tms/1.0.0/`)).status, 200);
    // A route moved onto a project's name: said when the server is built, before any request.
    await writeFile(join(dir, 'live.yaml'), project('l', 'live'));
    const from = logs.length;
    const moved = await serve({ observability: { healthPath: '/live' } });
    assert.deepEqual(
      logs.slice(from).filter((l) => l.name === 'mapproxy.config').map((l) => l.msg),
      ['project live is not served: /live is an operational route (health, readiness, metrics); rename live.yaml'],
    );
    assert.deepEqual([(await get(`${moved.url}/live`)).status, (await get(`${moved.url}/healthz/tms/1.0.0/`)).status], [200, 200]);
  } finally {
    await rm(shadowed, { force: true });
    await rm(join(dir, 'live.yaml'), { force: true });
  }
});

test('unknown names, invalid names and traversal attempts answer 404 not found', async () => {
  const { url, app } = await serve({ allowListing: true, checkIntervalMs: 0 });
  const paths = [
    '/gamma/tms/1.0.0/',
    '/..%2f..',
    '/..%2fsecret/tms/1.0.0/',
    '/%2e%2e%2fsecret/',
    '/a.b',
    '/bad.name/tms/1.0.0/',
    '/alpha.yaml',
    '/folder/',
    '/notes/',
    '/%00/',
    '/al%20pha/',
  ];
  for (const path of paths) {
    const r = await get(`${url}${path}`);
    assert.equal(r.status, 404, path);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8', path);
    assert.equal(r.body.toString(), 'not found', path);
  }
  const bad = await get(`${url}/%zz/`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.toString(), 'malformed percent-encoding in the request path');
  assert.equal(upstream.count(), 0);
  assert.deepEqual(app.loaded(), []);
});

test('a project added after the start is found; an edited project is reloaded; a removed one is gone', async () => {
  const { url, app } = await serve({ checkIntervalMs: 0 });
  assert.equal((await get(`${url}/gamma/tms/1.0.0/g/EPSG3857/0/0/0.png`)).status, 404);
  const gamma = join(dir, 'gamma.yaml');
  await writeFile(gamma, project('g', 'gamma'));
  try {
    const added = await get(`${url}/gamma/tms/1.0.0/g/EPSG3857/0/0/0.png`);
    assert.equal(added.status, 200);
    await assertTile(added.body, 0, 0, 0);
    assert.equal(upstream.last().query.get('layers'), 'gamma');

    await replaceFile(gamma, project('g', 'gamma2'));
    const edited = await until(async () => {
      const r = await get(`${url}/gamma/tms/1.0.0/g/EPSG3857/0/1/0.png`);
      assert.equal(r.status, 200);
      return upstream.last().query.get('layers') === 'gamma2' ? r : undefined;
    }, 'the edited project');
    await assertTile(edited.body, 0, 1, 0);
    const reloaded = logs.filter((l) => l.name === 'mapproxy.config' && l.msg === 'configuration reloaded');
    assert.deepEqual(reloaded.map((l) => l.files), [[gamma]]);
    assert.deepEqual(app.loaded(), ['gamma']);
  } finally {
    await rm(gamma, { force: true });
  }
  await until(async () => ((await get(`${url}/gamma/tms/1.0.0/g/EPSG3857/0/0/0.png`)).status === 404 ? true : undefined), 'the removed project');
  const gone = await get(`${url}/gamma/`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.toString(), 'not found');
  assert.deepEqual(app.loaded(), []);
});

test('a project with an invalid configuration answers 500 without server paths, and recovers when fixed', async () => {
  const { url } = await serve({ checkIntervalMs: 0 });
  const broken = join(dir, 'broken.yaml');
  await writeFile(broken, project('k', 'fixed').replace('sources: [c]', 'sources: [nope]'));
  try {
    for (const path of ['/broken/tms/1.0.0/', '/broken/']) {
      const r = await get(`${url}${path}`);
      assert.equal(r.status, 500);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(r.headers.get('cache-control'), 'no-cache, no-store');
      assert.equal(r.body.toString(), 'project broken: configuration error');
    }
    // the details are in the log, once while the file stays the same
    const errors = logs.filter((l) => l.name === 'mapproxy.config' && l.level === 50);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].project, 'broken');
    assert.match(errors[0].msg!, /^project broken: configuration error: invalid configuration .*broken\.yaml:\n {2}layers\[0\]\.sources\[0\]: /);
    assert.equal((errors[0] as Record<string, unknown>).err, undefined, 'no stack trace for a configuration error');
    // the other projects are unaffected
    assert.equal((await get(`${url}/alpha/tms/1.0.0/a/EPSG3857/0/0/0.png`)).status, 200);

    await replaceFile(broken, project('k', 'fixed'));
    const fixed = await get(`${url}/broken/tms/1.0.0/k/EPSG3857/0/0/0.png`);
    assert.equal(fixed.status, 200);
    await assertTile(fixed.body, 0, 0, 0);
    assert.equal(upstream.last().query.get('layers'), 'fixed');
  } finally {
    await rm(broken, { force: true });
  }
});

test('with debug every project answers an unexpected error with its stack trace; without it only "internal error"', async () => {
  // Its cache directory lies below a regular file: storing a tile fails unexpectedly.
  await writeFile(join(dir, 'afile'), 'not a directory\n');
  const fragile = join(dir, 'fragile.yaml');
  await writeFile(fragile, project('f', 'fragile').replace('    disable_storage: true\n', '').replace('base_dir: ./cache_f', 'base_dir: ./afile/cache'));
  try {
    const tile = '/fragile/tms/1.0.0/f/EPSG3857/0/0/0.png';
    const debug = await get(`${(await serve({ debug: true })).url}${tile}`);
    assert.equal(debug.status, 500);
    const body = debug.body.toString();
    assert.ok(body.startsWith(`internal error\n\nError: ENOTDIR: not a directory, `), body);
    assert.ok(body.includes(` '${join(dir, 'afile')}/cache/`), body);
    const plain = await get(`${(await serve({})).url}${tile}`);
    assert.equal(plain.status, 500);
    assert.equal(plain.body.toString(), 'internal error');
  } finally {
    await rm(fragile, { force: true });
    await rm(join(dir, 'afile'), { force: true });
  }
});

test('a syntax error names nothing but the project; loaded projects beyond maxApps are closed, least recently used first', async () => {
  const { url, app } = await serve({ maxApps: 2, checkIntervalMs: 0 });
  const syntax = join(dir, 'syntax.yaml');
  await writeFile(syntax, 'layers: [\n');
  try {
    const r = await get(`${url}/syntax/`);
    assert.equal(r.status, 500);
    assert.equal(r.body.toString(), 'project syntax: configuration error');
    assert.ok(!r.body.toString().includes(root));
  } finally {
    await rm(syntax, { force: true });
  }
  assert.equal((await get(`${url}/alpha/`)).status, 200);
  assert.equal((await get(`${url}/beta/`)).status, 200);
  assert.deepEqual(app.loaded(), ['alpha', 'beta']);
  assert.equal((await get(`${url}/alpha/`)).status, 200);
  assert.deepEqual(app.loaded(), ['beta', 'alpha']);
  const gamma = join(dir, 'gamma.yaml');
  await writeFile(gamma, project('g', 'gamma'));
  try {
    assert.equal((await get(`${url}/gamma/`)).status, 200);
    assert.deepEqual(app.loaded(), ['alpha', 'gamma']);
    // beta was closed: it is loaded again on its next request
    logs.length = 0;
    assert.equal((await get(`${url}/beta/tms/1.0.0/b/EPSG3857/0/0/0.png`)).status, 200);
    assert.deepEqual(logs.filter((l) => l.name === 'mapproxy.multiapp').map((l) => l.msg), ['initializing project app beta']);
    assert.deepEqual(app.loaded(), ['gamma', 'beta']);
  } finally {
    await rm(gamma, { force: true });
  }
  assert.throws(() => createMultiApp(dir, { maxApps: 0 }), { name: 'TypeError', message: 'maxApps must be a whole number >= 1 (got 0)' });
});

test('after close() every loaded project is closed and requests get 503', async () => {
  const { url, app } = await serve({});
  assert.equal((await get(`${url}/alpha/`)).status, 200);
  await app.close();
  assert.deepEqual(app.loaded(), []);
  const r = await get(`${url}/alpha/`);
  assert.equal(r.status, 503);
  assert.equal(r.body.toString(), 'Service Unavailable: the application is closed\n');
});

test('concurrent first requests to a project load it once', async () => {
  const { url, app } = await serve({});
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => get(`${url}/beta/tms/1.0.0/b/EPSG3857/2/${i % 4}/${Math.floor(i / 4)}.png`)));
  assert.deepEqual(answers.map((r) => r.status), Array(12).fill(200));
  await assertTile(answers[5].body, 2, 1, 1);
  assert.deepEqual(logs.filter((l) => l.name === 'mapproxy.multiapp').map((l) => l.msg), ['initializing project app beta']);
  assert.deepEqual(app.loaded(), ['beta']);
  assert.equal(upstream.count(), 12);
});

test('a directory that does not exist, or a file, is refused at creation with the path; an empty one is served', async () => {
  const base = await mkdtemp(join(tmpdir(), 'mpx-multi-'));
  try {
    const missing = join(base, 'none');
    const file = join(base, 'one.yaml');
    await writeFile(file, 'services: {}\n');
    for (const dir of [missing, file]) {
      assert.throws(() => createMultiApp(dir), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'MPX_ERR_CONFIG');
        assert.equal(err.message, `invalid configuration:\n  not a directory of configurations: ${dir}`);
        return true;
      });
    }
    const empty = join(base, 'empty');
    await mkdir(empty);
    const app = createMultiApp(empty, { reportHidden: false });
    const server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const r = await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/alpha/`);
      assert.equal(r.status, 404);
      assert.equal(r.body.toString(), 'not found');
    } finally {
      server.close();
      await app.close();
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
