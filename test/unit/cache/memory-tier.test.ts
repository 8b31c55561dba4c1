/**
 * The memory tier of the file cache: what it serves, for how long without looking at the disk,
 * that it never outgrows its byte bound, and what it takes in once full (TinyLFU admission).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileTileStorage } from '../../../src/cache/storage/file.js';
import { DEFAULT_MEMORY_TIER, FrequencySketch, MemoryTier, TierEntry, hashKey } from '../../../src/cache/storage/memory-tier.js';
import { loadConfigFile, validateConfig } from '../../../src/config/index.js';
import { buildConfig } from '../../../src/config/build.js';
import { configureLogging } from '../../../src/log/index.js';
import { tileStorageTests } from '../../conformance/tile-storage.js';

async function setup(tier: MemoryTier | null) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-tier-'));
  const storage = new FileTileStorage({ directory: dir, layout: 'tms', extension: 'png', memoryTier: tier });
  return { dir, storage, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Replace a tile file behind the storage's back, as another process or host would. */
async function replaceOnDisk(dir: string, rel: string, data: Buffer, mtime: Date): Promise<void> {
  const p = path.join(dir, rel);
  await fs.writeFile(p + '.new', data);
  await fs.utimes(p + '.new', mtime, mtime);
  await fs.rename(p + '.new', p);
}

test('within revalidateMs a tile is served from memory, even if another process replaced the file', async () => {
  const tier = new MemoryTier({ maxBytes: 1 << 20, revalidateMs: 3_600_000 });
  const { dir, storage, cleanup } = await setup(tier);
  try {
    await storage.store([1, 2, 3], Buffer.from('first version'));
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'first version');
    await replaceOnDisk(dir, '3/1/2.png', Buffer.from('second'), new Date(Date.now() + 5000));
    // The documented bound: up to revalidateMs the tier answers without touching the disk.
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'first version');
    assert.equal(tier.stats.entries, 1);
    // A store by this process drops the entry at once.
    await storage.store([1, 2, 3], Buffer.from('third'));
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'third');
  } finally {
    await cleanup();
  }
});

test('after revalidateMs one stat notices a rewritten or removed tile', async () => {
  const tier = new MemoryTier({ maxBytes: 1 << 20, revalidateMs: 0 });
  const { dir, storage, cleanup } = await setup(tier);
  try {
    await storage.store([0, 0, 1], Buffer.from('aaaa'));
    const first = await storage.load([0, 0, 1]);
    assert.equal(first?.data.toString(), 'aaaa');
    // Same size, new mtime and inode: still noticed.
    await replaceOnDisk(dir, '1/0/0.png', Buffer.from('bbbb'), new Date(Date.now() + 5000));
    const second = await storage.load([0, 0, 1]);
    assert.equal(second?.data.toString(), 'bbbb');
    assert.ok(second && first && second.mtime > first.mtime);
    await fs.unlink(path.join(dir, '1/0/0.png'));
    assert.equal(await storage.load([0, 0, 1]), null);
    assert.equal(tier.stats.entries, 0);
  } finally {
    await cleanup();
  }
});

test('a hit from memory returns the same bytes and mtime as the disk read', async () => {
  const tier = new MemoryTier({ maxBytes: 1 << 20, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(tier);
  const plain = await setup(null);
  try {
    const data = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    await storage.store([5, 6, 7], data);
    const fromDisk = await storage.load([5, 6, 7]);
    const fromMemory = await storage.load([5, 6, 7]);
    assert.deepEqual(fromMemory?.data, data);
    assert.equal(fromMemory?.mtime, fromDisk?.mtime);
    assert.equal(tier.stats.hits, 1);
    // Without a tier every load reads the file.
    await plain.storage.store([5, 6, 7], data);
    assert.deepEqual((await plain.storage.load([5, 6, 7]))?.data, data);
  } finally {
    await cleanup();
    await plain.cleanup();
  }
});

test('the tier never holds more than maxBytes; least recently used tiles go first', async () => {
  const tier = new MemoryTier({ maxBytes: 1000, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(tier);
  try {
    for (let x = 0; x < 10; x++) await storage.store([x, 0, 4], Buffer.alloc(100, x));
    for (let x = 0; x < 10; x++) await storage.load([x, 0, 4]);
    assert.equal(tier.stats.bytes, 1000);
    await storage.load([0, 0, 4]); // most recently used now
    await storage.store([10, 0, 4], Buffer.alloc(100, 10));
    // Asked for once, as often as tile 1 (the least recently used): not taken in.
    await storage.load([10, 0, 4]);
    assert.deepEqual([tier.stats.bytes, tier.stats.rejected, tier.stats.evictions], [1000, 1, 0]);
    // Asked for again, more often than tile 1 now: it takes tile 1's place.
    await storage.load([10, 0, 4]);
    assert.deepEqual([tier.stats.bytes, tier.stats.rejected, tier.stats.evictions], [1000, 1, 1]);
    const before = tier.stats.hits;
    await storage.load([10, 0, 4]);
    assert.equal(tier.stats.hits, before + 1, 'tile 10 is held');
    await storage.load([0, 0, 4]);
    assert.equal(tier.stats.hits, before + 2, 'tile 0 was kept');
    await storage.load([1, 0, 4]);
    assert.equal(tier.stats.hits, before + 2, 'tile 1 was evicted');
    // A tile bigger than an eighth of the tier is never held.
    await storage.store([0, 1, 4], Buffer.alloc(200, 1));
    await storage.load([0, 1, 4]);
    await storage.load([0, 1, 4]);
    assert.ok(tier.stats.bytes <= 1000);
  } finally {
    await cleanup();
  }
});

test('tiles asked for equally often stay put: a tier smaller than the tiles in use does not churn', async () => {
  // Plain LRU replaced one tile per read here; each read made old-generation garbage for V8.
  const tier = new MemoryTier({ maxBytes: 1000, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(tier);
  try {
    for (let x = 0; x < 20; x++) await storage.store([x, 0, 4], Buffer.alloc(100, x));
    for (let round = 0; round < 5; round++) {
      for (let x = 0; x < 20; x++) {
        const tile = await storage.load([x, 0, 4]);
        assert.ok(tile?.data.equals(Buffer.alloc(100, x)));
      }
    }
    // Round 1 fills the tier with tiles 0-9; tiles 10-19 are turned away every round.
    assert.deepEqual(tier.stats, { entries: 10, bytes: 1000, hits: 40, misses: 60, evictions: 0, rejected: 50 });
  } finally {
    await cleanup();
  }
});

/** A tile version of `bytes` bytes as the tier holds it. */
const entry = (name: string, bytes: number): TierEntry => new TierEntry(`/tiles/${name}.png`, Buffer.alloc(bytes), 0, 0, bytes, 1, Date.now());

test('a tile is taken in only if asked for more often than every tile it would push out', () => {
  const tier = new MemoryTier({ maxBytes: 8000, revalidateMs: 3_600_000 });
  // Least recently used first: a (asked for twice), b (16 times), then more tiles: 50 bytes free.
  const a = entry('a', 100);
  tier.set(a);
  tier.touch(a);
  const b = entry('b', 1000);
  tier.set(b);
  for (let i = 0; i < 15; i++) assert.equal(tier.get(b.path), b);
  for (let i = 0; i < 6; i++) tier.set(entry(`c${i}`, 1000));
  tier.set(entry('c6', 850));
  assert.deepEqual([tier.stats.entries, tier.stats.bytes], [9, 7950]);
  // 1000 bytes need a and b both out: b is asked for more often, so the newcomer stays out.
  const c = entry('new', 1000);
  for (let i = 0; i < 3; i++) tier.set(c);
  assert.deepEqual([tier.stats.entries, tier.stats.bytes, tier.stats.evictions, tier.stats.rejected], [9, 7950, 0, 3]);
  assert.equal(tier.get(b.path), b);
  assert.equal(c.held, undefined, 'a tile left out is not held');
  assert.equal(c.isFresh(), false);
  // Once b is no longer among the least recently used, a (asked for twice) alone gives way.
  const d = entry('d', 100);
  for (let i = 0; i < 3; i++) tier.set(d);
  assert.equal(tier.get(a.path), undefined, 'a made room');
  assert.equal(d.held, d);
  assert.deepEqual([tier.stats.bytes, tier.stats.evictions], [7950, 1]);
});

test('hits given again from memory (touch, as the fast lane makes them) count as requests', () => {
  const tier = new MemoryTier({ maxBytes: 1000, revalidateMs: 3_600_000 });
  const tiles = Array.from({ length: 10 }, (_, i) => entry(`t${i}`, 100));
  for (const t of tiles) tier.set(t);
  // Tile 0 is asked for often, but only through replays; then the others are used after it.
  for (let i = 0; i < 5; i++) assert.equal(tiles[0].isFresh(), true);
  for (const t of tiles.slice(1)) tier.touch(t);
  const newcomer = entry('new', 100);
  tier.set(newcomer);
  tier.set(newcomer);
  tier.set(newcomer);
  assert.equal(newcomer.held, undefined, 'tile 0 (6 requests) keeps its place against 3');
  assert.equal(tiles[0].held, tiles[0]);
});

test('the frequency sketch: counts per key, capped at 15, halved every 10 × width counts', () => {
  const sketch = new FrequencySketch(1); // width 256: halved after 2560 counts
  const a = hashKey('/cache/a.png');
  const b = hashKey('/cache/b.png');
  assert.notEqual(a, b);
  for (let i = 0; i < 3; i++) sketch.increment(a);
  assert.deepEqual([sketch.frequency(a), sketch.frequency(b)], [3, 0]);
  for (let i = 0; i < 20; i++) sketch.increment(b);
  assert.equal(sketch.frequency(b), 15);
  // 23 counts so far; 2537 more of another key reach 2560 and halve every counter.
  const other = hashKey('/cache/other.png');
  for (let i = 0; i < 2536; i++) sketch.increment(other);
  assert.deepEqual([sketch.frequency(a), sketch.frequency(b), sketch.frequency(other)], [3, 15, 15]);
  sketch.increment(other);
  assert.deepEqual([sketch.frequency(a), sketch.frequency(b), sketch.frequency(other)], [1, 7, 7]);
  assert.equal(hashKey('abc'), 0x1a47e90b, 'FNV-1a of "abc"');
});

// The storage contract holds with a tier in front, stat on every hit or never within a test.
for (const revalidateMs of [0, 3_600_000]) {
  tileStorageTests(`file with a memory tier, revalidateMs ${revalidateMs}`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-tier-'));
    return {
      storage: new FileTileStorage({ directory: dir, extension: 'png', memoryTier: new MemoryTier({ maxBytes: 1 << 22, revalidateMs }) }),
      cleanup: () => fs.rm(dir, { recursive: true, force: true }),
    };
  });
}

test('globals.cache.memory_tier sizes the tier and the open files of a configuration, and says how they are read', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-tier-'));
  try {
    const yaml = (tier: string) => `
services: {tms: {}}
layers: [{name: l, title: L, sources: [c]}]
caches: {c: {grids: [GLOBAL_WEBMERCATOR], sources: [d]}}
sources: {d: {type: debug}}
globals: {cache: {base_dir: ./c${tier ? `, memory_tier: ${tier}` : ''}}}
`;
    const build = async (tier: string) => {
      const file = path.join(dir, 'mapproxy.yaml');
      await fs.writeFile(file, yaml(tier));
      const { config, dir: cdir } = await loadConfigFile(file);
      return buildConfig(validateConfig(config, { file, dir: cdir }).config, { dir: cdir, file });
    };
    // No tier by default: the open files and the page cache serve hits.
    const dflt = await build('');
    assert.equal(dflt.memoryTier, null);
    assert.equal(DEFAULT_MEMORY_TIER.maxBytes, 32 * 1048576);
    const sized = await build('{max_mb: 8, revalidate_seconds: 0.25}');
    assert.equal(sized.memoryTier?.maxBytes, 8 * 1048576);
    assert.equal(sized.memoryTier?.revalidateMs, 250);
    assert.equal((await build('{max_mb: 0}')).memoryTier, null);
    await assert.rejects(build('{max_mb: -1}'), (err: Error) => {
      assert.match(err.message, /globals\.cache\.memory_tier\.max_mb: expected a number >= 0, got -1/);
      return true;
    });
    // Open files: 4096 by default, revalidated after 1 s; sized by open_files, with the tier's bound.
    assert.equal(dflt.openFiles?.max, 4096);
    assert.equal(dflt.openFiles?.revalidateMs, 1000);
    assert.equal((await build('{open_files: 0}')).openFiles, null);
    const files = await build('{open_files: 50, revalidate_seconds: 2}');
    assert.equal(files.openFiles?.max, 50);
    assert.equal(files.openFiles?.revalidateMs, 2000);
    await assert.rejects(build('{open_files: 1.5}'), (err: Error) => {
      assert.match(err.message, /globals\.cache\.memory_tier\.open_files: expected an integer >= 0, got 1\.5/);
      return true;
    });
    // Kept-open files are read through the thread pool unless blocking_reads says so; never on
    // the event loop with a memory tier or without open files.
    const blocking = (b: typeof dflt): boolean | undefined => {
      const storage = b.caches.get('c')?.managers.values().next().value?.options.storage;
      return storage instanceof FileTileStorage ? storage.blockingReads : undefined;
    };
    assert.equal(blocking(dflt), false);
    const on = await build('{blocking_reads: true}');
    assert.equal(blocking(on), true);
    const tiered = await build('{max_mb: 8, blocking_reads: true}');
    assert.equal(blocking(tiered), false);
    const none = await build('{open_files: 0, blocking_reads: true}');
    assert.equal(blocking(none), false);
    await assert.rejects(build('{blocking_reads: sometimes}'), (err: Error) => {
      assert.equal(err.message, `invalid configuration ${path.join(dir, 'mapproxy.yaml')}:\n  globals.cache.memory_tier.blocking_reads: expected true or false, got "sometimes"`);
      return true;
    });
    await Promise.all([dflt.close(), sized.close(), files.close(), on.close(), tiered.close(), none.close()]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('blocking_reads on a cache whose file system cannot be told: one warning per cache, naming it and the price', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-tier-'));
  // A symlink loop: statfs of the cache directory fails with ELOOP, as no local disk would.
  await fs.symlink('loop', path.join(dir, 'loop'));
  const lines: Array<{ name?: string; msg?: string; level?: number }> = [];
  configureLogging({ level: 'info', destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
  try {
    const file = path.join(dir, 'mapproxy.yaml');
    await fs.writeFile(
      file,
      `
services: {tms: {}}
layers: [{name: l, title: L, sources: [c]}]
caches: {c: {grids: [GLOBAL_WEBMERCATOR, GLOBAL_GEODETIC], sources: [d]}}
sources: {d: {type: debug}}
globals: {cache: {base_dir: ./loop/cache, memory_tier: {blocking_reads: true}}}
`,
    );
    const { config, dir: cdir } = await loadConfigFile(file);
    const built = buildConfig(validateConfig(config, { file, dir: cdir }).config, { dir: cdir, file });
    await built.close();
    const warnings = lines.filter((l) => l.name === 'mapproxy.config' && String(l.msg).includes('blocking_reads'));
    assert.deepEqual(
      warnings.map((l) => [l.level, l.msg]),
      [
        [
          40,
          `globals.cache.memory_tier.blocking_reads: cache c is in ${path.join(dir, 'loop', 'cache', 'c_EPSG3857')}, on a file system statfs cannot tell: a tile read waits for the disk or server there and stops the worker's other requests meanwhile`,
        ],
      ],
    );
  } finally {
    configureLogging({ level: 'silent' });
    await fs.rm(dir, { recursive: true, force: true });
  }
});
