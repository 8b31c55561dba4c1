/**
 * sharp (libvips) and undici are loaded on first use, not at start-up: each costs ~15 MiB of RSS
 * per worker, and a worker that only serves cache hits needs neither. A real child process builds
 * the app of a file cache in front of the test WMS and reports, after each answer, what is loaded
 * (test/fixtures/lazy/serve.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tempConfig } from '../helpers/server.js';
import { renderPixels, startUpstream, type Upstream } from '../helpers/upstream.js';
import { tileBbox } from './pipeline-helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = join(ROOT, 'test/fixtures/lazy/serve.ts');

interface Step {
  readonly step: string;
  readonly status?: number;
  readonly body?: string;
  readonly libvips: boolean;
  readonly sharpJs: boolean;
  readonly undici: boolean;
}
interface Report {
  readonly steps: Step[];
  readonly imaging: { concurrency: number; cacheMax: number } | null;
}

/** Run the fixture on `configFile`, GETting `paths` in order. */
function runChild(configFile: string, paths: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, configFile, ...paths], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`fixture exited with ${code}:\n${err}${out}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as Report);
    });
  });
}

/** The tile's pixels equal the upstream's colour function at every pixel centre. */
async function assertTile(body: string | undefined, x: number, y: number, z: number): Promise<void> {
  assert.ok(body !== undefined);
  const { data, info } = await sharp(Buffer.from(body, 'base64')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [256, 256, 3]);
  assert.ok(data.equals(renderPixels(tileBbox(x, y, z), 256, 256, 'EPSG:3857')), `tile ${z}/${x}/${y} shows the upstream's colours`);
}

const wmts = (x: number, y: number, z: number): string => `/wmts/base/GLOBAL_WEBMERCATOR/${String(z).padStart(2, '0')}/${x}/${y}.png`;
// Two tiles of different meta tiles, each a few upstream cells wide.
const SEEDED = [5, 2, 3] as const;
const OTHER = [9, 6, 4] as const;

let up: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let seededBody: string | undefined;

before(async () => {
  up = await startUpstream();
  cfg = await tempConfig(`
services:
  wmts:
layers:
  - {name: base, title: Base, sources: [c]}
caches:
  c: {grids: [GLOBAL_WEBMERCATOR], sources: [up], cache: {type: file}}
sources:
  up:
    type: wms
    req: {url: '${up.url}/wms?', layers: base}
globals:
  cache: {base_dir: ./cache, tile_lock_dir: ./locks}
`);
});
after(async () => {
  await up?.close();
  await cfg?.cleanup();
});

const linux = existsSync('/proc/self/maps');

test('building the app loads neither; a cache miss loads both on first use and the tile is right', { skip: !linux && 'needs /proc/self/maps' }, async () => {
  const report = await runChild(cfg.file, [wmts(...SEEDED)]);
  const [built, miss] = report.steps;
  assert.deepEqual(built, { step: 'built', libvips: false, sharpJs: false, undici: false });
  assert.equal(miss.status, 200);
  assert.equal(up.count(), 1, 'one upstream request for the meta tile');
  assert.deepEqual([miss.libvips, miss.sharpJs, miss.undici], [true, true, true]);
  await assertTile(miss.body, ...SEEDED);
  // configureImaging ran before sharp was loaded; its settings were applied at the load.
  assert.deepEqual(report.imaging, { concurrency: 1, cacheMax: 0 });
  seededBody = miss.body;
});

test('a restarted process serving a cache hit loads neither; its first miss loads both', { skip: !linux && 'needs /proc/self/maps' }, async () => {
  assert.ok(seededBody, 'the first test seeded the cache');
  const report = await runChild(cfg.file, [wmts(...SEEDED), wmts(...OTHER)]);
  const [built, hit, miss] = report.steps;
  assert.deepEqual(built, { step: 'built', libvips: false, sharpJs: false, undici: false });
  assert.equal(hit.status, 200);
  assert.equal(hit.body, seededBody, 'the stored tile, byte for byte');
  assert.deepEqual([hit.libvips, hit.sharpJs, hit.undici], [false, false, false]);
  assert.equal(miss.status, 200);
  assert.equal(up.count(), 2, 'only the miss reached the upstream');
  assert.deepEqual([miss.libvips, miss.sharpJs, miss.undici], [true, true, true]);
  await assertTile(miss.body, ...OTHER);
});
