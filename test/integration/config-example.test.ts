/**
 * The bundled example: `examples/mapproxy.yaml` passes `check-config` (EXAMPLE_WMS_PORT set, as
 * `npm start` sets it), and the example WMS (`examples/world-wms.mjs`) behind `createApp` serves a
 * tile of the world that is not one flat colour. The example is copied to a temp dir first so
 * its cache_data never lands in the repository.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { startApp, get, type RunningApp } from '../helpers/server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'mapproxy.yaml');

let dir: string;
let wms: Server;
let wmsPort: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpx-'));
  await copyFile(EXAMPLE, join(dir, 'mapproxy.yaml'));
  // A plain .mjs module without types: imported by a computed path.
  const modulePath = join(ROOT, 'examples', 'world-wms.mjs');
  const { startWorldWms } = (await import(modulePath)) as { startWorldWms(port: number): Promise<Server> };
  wms = await startWorldWms(0);
  wmsPort = (wms.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((r) => (wms ? wms.close(() => r()) : r()));
  await rm(dir, { recursive: true, force: true });
});

test('examples/mapproxy.yaml passes check-config (and check-config writes nothing)', async () => {
  const copy = join(dir, 'mapproxy.yaml');
  assert.ok((await readFile(copy)).equals(await readFile(EXAMPLE)));
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/cli.ts'), 'check-config', copy], {
    cwd: ROOT,
    env: { ...process.env, EXAMPLE_WMS_PORT: String(wmsPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const [code] = (await once(child, 'close')) as [number];
  assert.deepEqual({ code, stdout, stderr }, { code: 0, stdout: `${copy}: ok\n`, stderr: '' });
  // check-config builds the configuration but creates nothing next to it.
  assert.deepEqual(await readdir(dir), ['mapproxy.yaml']);
});

test('the example WMS behind createApp serves a world tile that is not one colour', async () => {
  const prev = process.env.EXAMPLE_WMS_PORT;
  process.env.EXAMPLE_WMS_PORT = String(wmsPort);
  let app: RunningApp | undefined;
  try {
    app = await startApp(join(dir, 'mapproxy.yaml'));
    // The URL the example's own comment suggests.
    const res = await get(`${app.url}/wmts/world/GLOBAL_WEBMERCATOR/03/4/2.png`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const { data, info } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [256, 256]);
    const colours = new Set<string>();
    for (let i = 0; i < data.length; i += info.channels) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
    assert.ok(colours.size > 20, `distinct colours: ${colours.size}`);
    // The tile was cached where the example says: ./cache_data next to the config.
    assert.deepEqual((await readdir(join(dir, 'cache_data'))).sort(), ['tile_locks', 'world_cache_EPSG3857']);
  } finally {
    await app?.close();
    if (prev === undefined) delete process.env.EXAMPLE_WMS_PORT;
    else process.env.EXAMPLE_WMS_PORT = prev;
  }
});
