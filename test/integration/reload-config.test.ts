/**
 * Automatic configuration reload (MapProxy's `make_wsgi_app(reloader=True)`, REFERENCE.md §1.6),
 * in this process over real HTTP, real files and the real test upstream: an edit of the main file
 * or of a `base:` file is picked up; an invalid edit is logged and the old configuration keeps
 * serving until the file is fixed; a request in flight during a reload finishes on the old app,
 * which is closed only afterwards; no request fails under concurrent load while files change.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { startUpstream, expectedColor, pixelCenter, xyzTileBbox, type Upstream } from '../helpers/upstream.js';
import { tempConfig, get } from '../helpers/server.js';
import { createApp, type App } from '../../src/app/create-app.js';
import { createReloadingApp, type ReloadingApp } from '../../src/app/reloader.js';
import { ConfigError } from '../../src/errors.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents } from '../../src/source/http-client.js';

type LogLine = { name?: string; level?: number; msg?: string; [k: string]: unknown };
const logs: LogLine[] = [];
const configLogs = (msg: string): LogLine[] => logs.filter((l) => l.name === 'mapproxy.config' && l.msg?.startsWith(msg));

let upstream: Upstream;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  configureLogging({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } });
  upstream = await startUpstream();
});

beforeEach(() => {
  upstream.reset();
  logs.length = 0;
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await upstream.close();
  await closeHttpAgents();
  configureLogging({ level: 'silent' });
});

/** One tile layer `<layer>` from a WMS source asking the upstream for `wmsLayers`; nothing stored. */
function layerYaml(layer: string, wmsLayers: string): { layers: string; caches: string; sources: string } {
  return {
    layers: `  - name: ${layer}\n    title: ${layer}\n    sources: [c_${layer}]\n`,
    caches: `  c_${layer}:\n    grids: [GLOBAL_WEBMERCATOR]\n    sources: [s_${layer}]\n    disable_storage: true\n    meta_size: [1, 1]\n    meta_buffer: 0\n    image: {colors: 0}\n`,
    sources: `  s_${layer}:\n    type: wms\n    req: {url: "${upstream.url}/wms?", layers: ${wmsLayers}}\n`,
  };
}

function configYaml(parts: Array<ReturnType<typeof layerYaml>>): string {
  return `services:
  tms:
layers:
${parts.map((p) => p.layers).join('')}caches:
${parts.map((p) => p.caches).join('')}sources:
${parts.map((p) => p.sources).join('')}globals:
  cache: {base_dir: ./cache, lock_dir: ./locks, tile_lock_dir: ./tile_locks}
`;
}

/**
 * Replace a file the way deploy tools do (write a temp file, rename it over): a look at the files
 * never finds it half written. Tests that call `checkNow` themselves write in place instead.
 */
async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

/** Serve `app` on 127.0.0.1:0. */
async function serve(app: App): Promise<{ url: string; server: Server }> {
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Call `probe` until it returns a value that is not `undefined` (the reload runs in the background). */
async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  // Up to 30 s: reloads build an app and requests create meta tiles, slow on a loaded machine.
  for (let i = 0; i < 1500; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * The tile shows the upstream's picture of TMS tile (z, x, y). MapProxy: the TMS `EPSG3857` tile
 * set has the global-mercator profile, level 0 is 2×2 (grid level 1) and rows count from the south.
 */
async function assertTile(body: Buffer, z: number, x: number, y: number): Promise<void> {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [256, 256]);
  const bbox = xyzTileBbox(z + 1, x, y, 'sw');
  for (const [px, py] of [[10, 10], [200, 130]] as const) {
    const [mx, my] = pixelCenter(bbox, [256, 256], px, py);
    const o = (py * info.width + px) * info.channels;
    assert.deepEqual([data[o], data[o + 1], data[o + 2]], expectedColor(mx, my), `pixel ${px},${py}`);
  }
}

test('an edit of the main file is served after the reload: a new layer from a new source appears', async () => {
  const cfg = await tempConfig(configYaml([layerYaml('a', 'one')]));
  cleanups.push(cfg.cleanup);
  const app = await createReloadingApp(cfg.file, { checkIntervalMs: 0 });
  const { url } = await serve(app);
  const before = await get(`${url}/tms/1.0.0/b/EPSG3857/2/1/2.png`);
  assert.equal(before.status, 404);
  assert.equal(configLogs('configuration reloaded').length, 0);

  await replaceFile(cfg.file, configYaml([layerYaml('a', 'one'), layerYaml('b', 'two')]));
  const tile = await until(async () => {
    const r = await get(`${url}/tms/1.0.0/b/EPSG3857/2/1/2.png`);
    return r.status === 200 ? r : undefined;
  }, 'layer b');
  assert.equal(tile.headers.get('content-type'), 'image/png');
  await assertTile(tile.body, 2, 1, 2);
  assert.equal(upstream.last().query.get('layers'), 'two');
  // the old layer is still served, from its own source
  const a = await get(`${url}/tms/1.0.0/a/EPSG3857/2/1/2.png`);
  assert.equal(a.status, 200);
  assert.equal(upstream.last().query.get('layers'), 'one');
  assert.deepEqual(app.config.tileLayers.map((l) => l.name).sort(), ['a', 'b']);
  const reloaded = configLogs('configuration reloaded');
  assert.equal(reloaded.length, 1);
  assert.deepEqual(reloaded[0].files, [cfg.file]);
  assert.equal(reloaded[0].file, cfg.file);
});

test('an edit of a base: file is served after the reload: the source asks for the new WMS layers', async () => {
  const cfg = await tempConfig('');
  cleanups.push(cfg.cleanup);
  const base = join(cfg.dir, 'base.yaml');
  const part = layerYaml('a', 'one');
  await writeFile(base, `sources:\n${part.sources}`);
  await writeFile(cfg.file, `base: [base.yaml]\n${configYaml([part]).replace(/sources:\n {2}s_a:[\s\S]*?(?=globals:)/, '')}`);
  const app = await createReloadingApp(cfg.file, { checkIntervalMs: 0 });
  assert.deepEqual(app.files, [cfg.file, base]);
  const { url } = await serve(app);
  const first = await get(`${url}/tms/1.0.0/a/EPSG3857/2/1/2.png`);
  assert.equal(first.status, 200);
  assert.equal(upstream.last().query.get('layers'), 'one');

  await replaceFile(base, `sources:\n${layerYaml('a', 'two').sources}`);
  const tile = await until(async () => {
    const r = await get(`${url}/tms/1.0.0/a/EPSG3857/2/1/2.png`);
    assert.equal(r.status, 200);
    return upstream.last().query.get('layers') === 'two' ? r : undefined;
  }, 'the new base file');
  await assertTile(tile.body, 2, 1, 2);
  const reloaded = configLogs('configuration reloaded');
  assert.equal(reloaded.length, 1);
  assert.deepEqual(reloaded[0].files, [cfg.file, base]);
});

test('an invalid edit is logged once and the old configuration keeps serving; fixing the file recovers', async () => {
  const cfg = await tempConfig(configYaml([layerYaml('a', 'one')]));
  cleanups.push(cfg.cleanup);
  // No automatic look: the test decides when the files are looked at.
  const app = await createReloadingApp(cfg.file, { checkIntervalMs: Infinity });
  const { url } = await serve(app);

  await writeFile(cfg.file, configYaml([layerYaml('a', 'one')]).replace('sources: [c_a]', 'sources: [c_missing]'));
  assert.equal(await app.checkNow(), false);
  const failed = configLogs('configuration reload failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0].level, 50);
  assert.equal(failed[0].file, cfg.file);
  assert.match(failed[0].msg!, /^configuration reload failed, still serving the previous configuration: invalid configuration .*mapproxy\.yaml:\n {2}layers\[0\]\.sources\[0\]: /);
  assert.deepEqual((failed[0].problems as Array<{ path: string }>).map((p) => p.path), ['layers[0].sources[0]']);
  // still the old app
  const during = await get(`${url}/tms/1.0.0/a/EPSG3857/1/0/0.png`);
  assert.equal(during.status, 200);
  await assertTile(during.body, 1, 0, 0);
  assert.equal(upstream.last().query.get('layers'), 'one');
  // nothing changed since: no new attempt, no second log line
  assert.equal(await app.checkNow(), false);
  assert.equal(configLogs('configuration reload failed').length, 1);

  // a YAML syntax error is a new failure, logged with its own message
  await writeFile(cfg.file, 'layers: [\n');
  assert.equal(await app.checkNow(), false);
  const syntax = configLogs('configuration reload failed');
  assert.equal(syntax.length, 2);
  assert.notEqual(syntax[1].msg, syntax[0].msg);
  assert.equal((await get(`${url}/tms/1.0.0/a/EPSG3857/1/0/0.png`)).status, 200);

  await writeFile(cfg.file, configYaml([layerYaml('a', 'fixed')]));
  assert.equal(await app.checkNow(), true);
  const fixed = await get(`${url}/tms/1.0.0/a/EPSG3857/1/0/0.png`);
  assert.equal(fixed.status, 200);
  assert.equal(upstream.last().query.get('layers'), 'fixed');
  assert.equal(configLogs('configuration reloaded').length, 1);
});

test('a broken configuration at start is a ConfigError, as from createApp', async () => {
  const cfg = await tempConfig('layers: [\n');
  cleanups.push(cfg.cleanup);
  await assert.rejects(createReloadingApp(cfg.file), (err: unknown) => err instanceof ConfigError && err.code === 'MPX_ERR_CONFIG' && err.file === cfg.file);
  await assert.rejects(createReloadingApp(cfg.file, { checkIntervalMs: -1 }), { name: 'TypeError', message: 'checkIntervalMs must be a number >= 0 (got -1)' });
});

test('a request in flight during a reload finishes on the old app, which is closed only afterwards', async () => {
  const cfg = await tempConfig(configYaml([layerYaml('a', 'one')]));
  cleanups.push(cfg.cleanup);
  // The real createApp, with its close() observed: which build was closed, and when.
  const closed: number[] = [];
  let builds = 0;
  const build = async (file: string): Promise<App> => {
    const inner = await createApp(file);
    const n = builds++;
    return Object.assign((req: Parameters<App>[0], res: Parameters<App>[1]) => inner(req, res), {
      config: inner.config,
      files: inner.files,
      close: async () => {
        closed.push(n);
        await inner.close();
      },
    });
  };
  const app: ReloadingApp = await createReloadingApp(cfg.file, { checkIntervalMs: Infinity, build });
  const { url } = await serve(app);
  upstream.setDelay(400);
  const slow = get(`${url}/tms/1.0.0/a/EPSG3857/3/1/1.png`);
  await until(async () => (upstream.count('/wms') === 1 ? true : undefined), 'the upstream request');
  await writeFile(cfg.file, configYaml([layerYaml('a', 'two')]));
  assert.equal(await app.checkNow(), true);
  assert.deepEqual(closed, [], 'the old app must stay open while its request runs');
  const res = await slow;
  assert.equal(res.status, 200);
  await assertTile(res.body, 3, 1, 1);
  assert.equal(upstream.requests[0].query.get('layers'), 'one');
  await until(async () => (closed.length === 1 ? true : undefined), 'the old app to be closed');
  assert.deepEqual(closed, [0]);
  upstream.setDelay(0);
  const next = await get(`${url}/tms/1.0.0/a/EPSG3857/3/1/1.png`);
  assert.equal(next.status, 200);
  assert.equal(upstream.last().query.get('layers'), 'two');
  assert.deepEqual(closed, [0]);
  await app.close();
  assert.deepEqual(closed, [0, 1]);
  const after = await get(`${url}/tms/1.0.0/a/EPSG3857/3/1/1.png`);
  assert.equal(after.status, 503);
});

test('no request fails while the configuration changes under concurrent load', async () => {
  const cfg = await tempConfig(configYaml([layerYaml('a', 'v0')]));
  cleanups.push(cfg.cleanup);
  const app = await createReloadingApp(cfg.file, { checkIntervalMs: 0 });
  const { url } = await serve(app);
  let stop = false;
  const failures: string[] = [];
  let served = 0;
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const [z, x, y] = [3, (w + i) % 8, i % 8];
      const r = await get(`${url}/tms/1.0.0/a/EPSG3857/${z}/${x}/${y}.png`).catch((err: unknown) => ({ status: -1, body: Buffer.from(String(err)) }));
      if (r.status !== 200) failures.push(`${r.status} ${r.body.toString()}`);
      else served++;
    }
  };
  const workers = [0, 1, 2, 3, 4, 5, 6, 7].map(worker);
  for (let v = 1; v <= 4; v++) {
    await replaceFile(cfg.file, configYaml([layerYaml('a', `v${v}`)]));
    await until(async () => (configLogs('configuration reloaded').length === v ? true : undefined), `reload ${v}`);
    const seen = served;
    await until(async () => (served >= seen + 16 ? true : undefined), 'more requests');
  }
  stop = true;
  await Promise.all(workers);
  assert.deepEqual(failures, []);
  assert.equal(configLogs('configuration reloaded').length, 4);
  assert.equal(upstream.last().query.get('layers'), 'v4');
  // every version was asked for, in order
  const versions = [...new Set(upstream.requests.map((r) => r.query.get('layers')))];
  assert.deepEqual(versions, ['v0', 'v1', 'v2', 'v3', 'v4']);
});
