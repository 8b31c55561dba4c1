/**
 * TileManager.ensureTiles, the multi-tile path seeding and the WMS use: meta tiles grouped and
 * created with concurrent_tile_creators, or, with minimize_meta_requests, one request per level
 * for exactly the missing tiles plus the buffer (MapProxy's minimal meta tile).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadConfigFile, validateConfig } from '../../src/config/index.js';
import { buildConfig, type BuiltConfig } from '../../src/config/build.js';
import type { TileCoord } from '../../src/grid/types.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig } from '../helpers/server.js';
import { waitFor } from '../helpers/serve.js';
import { FileTileStorage } from '../../src/cache/storage/file.js';
import { LOCK_SUFFIX, lockPathFor } from '../../src/cache/lock.js';

let upstream: Upstream;
before(async () => { upstream = await startUpstream(); });
after(async () => { await upstream.close(); });

async function build(minimize: boolean): Promise<{ built: BuiltConfig; dir: string; cleanup(): Promise<void> }> {
  const cfg = await tempConfig(`
services: {tms: {}}
layers: [{name: l, title: L, sources: [c]}]
caches: {c: {grids: [GLOBAL_WEBMERCATOR], sources: [up], minimize_meta_requests: ${minimize}}}
sources: {up: {type: wms, req: {url: '${upstream.url}/wms?', layers: base}}}
globals: {cache: {base_dir: ./cache, tile_lock_dir: ./tile_locks}}
`);
  const { config, dir } = await loadConfigFile(cfg.file);
  const built = buildConfig(validateConfig(config, { file: cfg.file, dir }).config, { dir, file: cfg.file });
  return { built, dir: cfg.dir, cleanup: async () => { await built.close(); await cfg.cleanup(); } };
}

// Level 5, columns 3-5 and rows 2-3: the block straddles the meta tiles of columns 0-3 and 4-7.
const coords: TileCoord[] = [];
for (const y of [2, 3]) for (const x of [3, 4, 5]) coords.push([x, y, 5]);

const tcFile = (dir: string, [x, y, z]: TileCoord) =>
  join(dir, 'cache', 'c_EPSG3857', String(z).padStart(2, '0'), '000', '000', String(x).padStart(3, '0'), '000', '000', `${String(y).padStart(3, '0')}.png`);

test('without minimize_meta_requests: one request per meta tile, whole meta tiles stored', async () => {
  const b = await build(false);
  try {
    upstream.reset();
    await b.built.caches.get('c')!.managers.get('GLOBAL_WEBMERCATOR')!.ensureTiles(coords);
    assert.equal(upstream.count(), 2);
    // The meta tile at the world's west edge has its buffer clamped on that side (MapProxy).
    assert.deepEqual(upstream.requests.map((r) => r.query.get('width')).sort(), ['1104', '1184']);
    await stat(tcFile(b.dir, [0, 0, 5])); // a tile of the first meta tile nobody asked for
  } finally {
    await b.cleanup();
  }
});

test('with minimize_meta_requests: one request for exactly the 3x2 tiles plus the 80 px buffer', async () => {
  const b = await build(true);
  try {
    upstream.reset();
    const tm = b.built.caches.get('c')!.managers.get('GLOBAL_WEBMERCATOR')!;
    await tm.ensureTiles(coords);
    assert.equal(upstream.count(), 1);
    assert.equal(upstream.last().query.get('width'), String(3 * 256 + 160));
    assert.equal(upstream.last().query.get('height'), String(2 * 256 + 160));
    for (const c of coords) await stat(tcFile(b.dir, c));
    await assert.rejects(stat(tcFile(b.dir, [0, 0, 5])), { code: 'ENOENT' });
    // Everything is there now: no further request.
    await tm.ensureTiles(coords);
    assert.equal(upstream.count(), 1);
  } finally {
    await b.cleanup();
  }
});

test('with minimize_meta_requests, after a dead holder: its temp files of these tiles are removed', async () => {
  const b = await build(true);
  try {
    upstream.reset();
    const tm = b.built.caches.get('c')!.managers.get('GLOBAL_WEBMERCATOR')!;
    // What a process killed while creating this minimal meta tile leaves: its lock, no longer
    // refreshed (named after the block's first tile from the top), and the temp file of a tile.
    const storage = new FileTileStorage({ directory: join(b.dir, 'cache', 'c_EPSG3857'), extension: 'png' });
    const lockDir = lockPathFor(join(b.dir, 'tile_locks'), storage.lockCacheId, [3, 2, 5]) + LOCK_SUFFIX;
    const leftover = `${tcFile(b.dir, [4, 3, 5])}.4242-3-abcdef0123.tmp`;
    const outside = `${tcFile(b.dir, [4, 1, 5])}.4242-4-abcdef0123.tmp`; // a tile not in the block
    const old = new Date(Date.now() - 60_000);
    for (const p of [lockDir, dirname(leftover)]) await mkdir(p, { recursive: true });
    for (const f of [leftover, outside]) await writeFile(f, 'half a tile');
    for (const p of [lockDir, leftover, outside]) await utimes(p, old, old);
    await tm.ensureTiles(coords);
    assert.equal(upstream.count(), 1);
    // Removed in the background, after the lock was taken over.
    await waitFor(async () => !(await stat(leftover).then(() => true, () => false)), 'the leftover to be removed');
    await assert.rejects(stat(leftover), { code: 'ENOENT' });
    assert.equal(await readFile(outside, 'utf8'), 'half a tile');
    for (const c of coords) await stat(tcFile(b.dir, c));
    await assert.rejects(stat(lockDir), { code: 'ENOENT' });
  } finally {
    await b.cleanup();
  }
});
