/**
 * Configuration → running server, in a real child process started in ANOTHER working directory:
 * a `base:` file defines the source, an environment variable its upstream port and `$VAR`s the
 * layer title, and every relative path (`base_dir`, `lock_dir`, `tile_lock_dir`, `cache_dir`,
 * `cache.directory`) lands under the directory of the main configuration file, never the cwd
 * (REFERENCE.md §2.1, §2.6, §2.7).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { startUpstream, expectedColor, pixelCenter, xyzTileBbox, type Upstream } from '../helpers/upstream.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** tsx by URL: the child runs in a directory where the package cannot be resolved by name. */
const TSX = import.meta.resolve('tsx');

/** MapProxy's tc path of (x, y, z). */
function tcPath(x: number, y: number, z: number, ext = 'png'): string {
  const p3 = (n: number): string => String(n).padStart(3, '0');
  return [String(z).padStart(2, '0'), p3(Math.floor(x / 1e6)), p3(Math.floor(x / 1e3) % 1000), p3(x % 1000),
    p3(Math.floor(y / 1e6)), p3(Math.floor(y / 1e3) % 1000), `${p3(y % 1000)}.${ext}`].join('/');
}

/** Every entry below `dir`, relative, sorted ('' when dir does not exist). */
async function tree(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true });
    return entries.map(String).sort();
  } catch {
    return [];
  }
}

let upstream: Upstream;
let root: string;
let confDir: string;
let cwd: string;
let child: ChildProcess;
let url: string;
let out = '';

before(async () => {
  upstream = await startUpstream();
  root = await mkdtemp(join(tmpdir(), 'mpx-'));
  confDir = join(root, 'conf');
  cwd = join(root, 'elsewhere');
  await mkdir(join(confDir, 'base'), { recursive: true });
  await mkdir(cwd);
  // The base file sits in a sub-directory; its relative paths still mean the main file's dir.
  await writeFile(join(confDir, 'base', 'common.yaml'), `
sources:
  up:
    type: wms
    req:
      url: http://127.0.0.1:\${MPX_TEST_UP_PORT}/wms?
      layers: base
    concurrent_requests: 1
globals:
  cache:
    base_dir: ./cache
    meta_size: [2, 2]
    meta_buffer: 0
`);
  await writeFile(join(confDir, 'mapproxy.yaml'), `
base: [base/common.yaml]
services:
  tms:
  wmts:
layers:
  - name: plain
    title: $MPX_TEST_TITLE
    sources: [plain_cache]
  - name: own
    title: \${MPX_TEST_TITLE} (own dirs)
    sources: [own_cache]
  - name: exact
    title: exact directory
    sources: [exact_cache]
caches:
  plain_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    image: {colors: 0}
  own_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [up]
    cache_dir: ./own
    image: {colors: 0}
    cache:
      type: file
      tile_lock_dir: ./own_tile_locks
  exact_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    image: {colors: 0}
    cache:
      type: file
      directory: ./exact
globals:
  cache:
    lock_dir: ./locks
    tile_lock_dir: ./tile_locks
`);
  child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'test/helpers/cli.ts'), 'serve-develop', join(confDir, 'mapproxy.yaml'), '-b', '127.0.0.1:0'], {
    cwd,
    env: { ...process.env, MPX_TEST_UP_PORT: String(upstream.port), MPX_TEST_TITLE: 'Title from env' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await upstream?.close();
  await rm(root, { recursive: true, force: true });
});

/** Check a served tile against the upstream's colour function at a few pixels. */
async function assertShows(body: Buffer, bbox: readonly [number, number, number, number], label: string): Promise<void> {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [256, 256], label);
  for (const [px, py] of [[3, 3], [128, 128], [250, 250]]) {
    const [x, y] = pixelCenter(bbox, [256, 256], px, py);
    const o = (py * info.width + px) * info.channels;
    assert.deepEqual([data[o], data[o + 1], data[o + 2]], expectedColor(x, y), `${label} pixel ${px},${py}`);
  }
}

test('base: file and $VAR reach the running app: upstream port and layer titles from the environment', async () => {
  const caps = await fetch(`${url}/tms/1.0.0/`);
  assert.equal(caps.status, 200);
  const xml = (await caps.text()).replace(/\s+/g, ' ');
  assert.ok(xml.includes(`<TileMap title="Title from env" srs="OSGEO:41001" profile="global-mercator" href="${url}/tms/1.0.0/plain/EPSG3857" />`), xml);
  assert.ok(xml.includes(`<TileMap title="Title from env (own dirs)" srs="OSGEO:41001" profile="global-mercator" href="${url}/tms/1.0.0/own/EPSG900913" />`), xml);

  upstream.reset();
  // TMS 2/1/2 on GLOBAL_WEBMERCATOR is internal level 3 (profile skip), y flipped: 3/1/5.
  const res = await fetch(`${url}/tms/1.0.0/plain/EPSG3857/2/1/2.png`);
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  // One meta tile (2×2, no buffer) from the port given in the environment.
  assert.equal(upstream.count(), 1);
  const q = upstream.last().query;
  assert.equal(q.get('layers'), 'base');
  assert.equal(q.get('srs'), 'EPSG:3857');
  assert.equal(q.get('width'), '512');
  await assertShows(body, xyzTileBbox(3, 1, 5), 'plain 3/1/5');
});

test('relative base_dir, lock_dir and tile_lock_dir resolve against the config file, not the cwd', async () => {
  upstream.reset();
  const [plain, own, exact] = await Promise.all([
    fetch(`${url}/wmts/plain/GLOBAL_WEBMERCATOR/02/1/1.png`),
    fetch(`${url}/tms/1.0.0/own/EPSG900913/1/0/0.png`),
    fetch(`${url}/wmts/exact/GLOBAL_WEBMERCATOR/02/2/1.png`),
  ]);
  for (const r of [plain, own, exact]) assert.equal(r.status, 200);
  assert.equal(upstream.count(), 3);
  // MapProxy: <base_dir>/<cache>_<srs without colon>; EPSG:900913 for GLOBAL_MERCATOR.
  const stored = await readFile(join(confDir, 'cache', 'plain_cache_EPSG3857', tcPath(1, 1, 2)));
  assert.ok(stored.equals(Buffer.from(await plain.arrayBuffer())), 'plain tile on disk under conf/cache');
  // cache_dir replaces base_dir; GLOBAL_MERCATOR is sw, TMS 1/0/0 is internal (0, 0, 2).
  const ownTile = await readFile(join(confDir, 'own', 'own_cache_EPSG900913', tcPath(0, 0, 2)));
  assert.ok(ownTile.equals(Buffer.from(await own.arrayBuffer())), 'own tile under conf/own');
  // cache.directory is the cache root itself.
  const exactTile = await readFile(join(confDir, 'exact', tcPath(2, 1, 2)));
  assert.ok(exactTile.equals(Buffer.from(await exact.arrayBuffer())), 'exact tile under conf/exact');

  // Nothing at all was created in the working directory.
  assert.deepEqual(await tree(cwd), []);
  // Lock directories: created where configured, left empty (locks are removed on release).
  // MapProxy §2.7: cache.tile_lock_dir, then globals.cache.tile_lock_dir — which also wins over
  // cache.directory/tile_locks.
  assert.deepEqual(await tree(join(confDir, 'tile_locks')), []);
  assert.deepEqual(await tree(join(confDir, 'own_tile_locks')), []);
  assert.deepEqual(await tree(join(confDir, 'locks')), []);
  const top = (await readdir(confDir)).sort();
  assert.deepEqual(top, ['base', 'cache', 'exact', 'locks', 'mapproxy.yaml', 'own', 'own_tile_locks', 'tile_locks']);
  assert.deepEqual(await readdir(join(confDir, 'cache')), ['plain_cache_EPSG3857']);
  assert.deepEqual(await readdir(join(confDir, 'own')), ['own_cache_EPSG900913']);
  assert.deepEqual((await readdir(join(confDir, 'exact'))).sort(), ['02']);
});
