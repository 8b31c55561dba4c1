/**
 * The conformance suite of `TileStorage` (src/cache/types.ts): what every backend — file in each
 * layout, mbtiles, sqlite, geopackage, redis, s3 … — must do. A backend's test file calls
 * `tileStorageTests` with a factory for a fresh, empty storage, then adds its own cases.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TileCoord } from '../../src/grid/types.js';
import type { TileStorage } from '../../src/cache/types.js';

/** A fresh, empty storage and how to dispose of it. */
export interface StorageFixture {
  storage: TileStorage;
  cleanup(): Promise<void>;
}

/** Distinct, recognisable tile bodies: every byte value, a marker and a length that differs. */
function body(marker: number, length = 4096 + marker * 7): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + marker) & 0xff;
  b.writeUInt32BE(marker, 0);
  return b;
}

/**
 * Registers the shared TileStorage tests under `describe(name)`.
 *
 * @param factory makes a fresh empty storage for every test
 */
export function tileStorageTests(name: string, factory: () => Promise<StorageFixture>): void {
  describe(`TileStorage conformance: ${name}`, () => {
    const withStorage = (fn: (s: TileStorage) => Promise<void>) => async () => {
      const fx = await factory();
      try {
        await fn(fx.storage);
      } finally {
        await fx.cleanup();
      }
    };

    it('has a non-empty lockCacheId', withStorage(async (s) => {
      assert.equal(typeof s.lockCacheId, 'string');
      assert.ok(s.lockCacheId.length > 0);
    }));

    it('reports a missing tile as missing everywhere', withStorage(async (s) => {
      const c: TileCoord = [1, 2, 3];
      assert.equal(await s.load(c), null);
      assert.equal(await s.timestamp(c), null);
      assert.equal(await s.isCached(c), false);
      assert.equal(await s.remove(c), false);
    }));

    it('loads exactly the bytes it stored, with a sane mtime', withStorage(async (s) => {
      const c: TileCoord = [5, 6, 7];
      const data = randomBytes(20_000);
      const before = Date.now();
      await s.store(c, data);
      const after = Date.now();
      const got = await s.load(c);
      assert.ok(got);
      assert.deepEqual(got.data, data);
      // File systems keep mtimes to 1 ms..2 s; allow that much either side.
      assert.ok(got.mtime >= before - 2000 && got.mtime <= after + 2000, `mtime ${got.mtime} not near ${before}..${after}`);
      assert.equal(await s.isCached(c), true);
      assert.equal(await s.timestamp(c), got.mtime);
      // What a tile just stored is handed out with: the same time a load reports.
      assert.deepEqual(await s.stamp(c), { mtime: got.mtime, mtimeSec: got.mtimeSec });
    }));

    it('keeps coordinates apart', withStorage(async (s) => {
      await s.store([1, 2, 3], body(1));
      for (const other of [[2, 1, 3], [1, 2, 4], [1, 3, 3], [0, 2, 3]] as TileCoord[]) {
        assert.equal(await s.isCached(other), false, `[${other.join(',')}] must not be cached`);
        assert.equal(await s.load(other), null);
      }
      assert.deepEqual((await s.load([1, 2, 3]))?.data, body(1));
    }));

    it('overwrites a stored tile', withStorage(async (s) => {
      const c: TileCoord = [0, 0, 0];
      await s.store(c, body(1, 9000));
      await s.store(c, body(2, 100));
      assert.deepEqual((await s.load(c))?.data, body(2, 100));
    }));

    it('removes a tile', withStorage(async (s) => {
      const c: TileCoord = [3, 4, 2];
      await s.store(c, body(3));
      assert.equal(await s.remove(c), true);
      assert.equal(await s.load(c), null);
      assert.equal(await s.isCached(c), false);
      assert.equal(await s.timestamp(c), null);
      assert.equal(await s.remove(c), false);
    }));

    it('stores a whole meta tile with storeMany', withStorage(async (s) => {
      const parts: Array<{ coord: TileCoord; data: Buffer }> = [];
      for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) parts.push({ coord: [8 + x, 12 + y, 5], data: body(y * 4 + x) });
      await s.storeMany(parts);
      for (const p of parts) assert.deepEqual((await s.load(p.coord))?.data, p.data, `tile ${p.coord.join(',')}`);
      await s.storeMany([]);
    }));

    it('handles large coordinates', withStorage(async (s) => {
      const c: TileCoord = [1_000_003, 2_000_005, 21];
      await s.store(c, body(9));
      assert.deepEqual((await s.load(c))?.data, body(9));
      assert.equal(await s.isCached([1_000_003, 2_000_005, 22]), false);
    }));

    it('treats a zero-byte tile as missing', withStorage(async (s) => {
      const c: TileCoord = [2, 2, 2];
      await s.store(c, Buffer.alloc(0));
      assert.equal(await s.load(c), null);
      assert.equal(await s.isCached(c), false);
      assert.equal(await s.timestamp(c), null);
    }));

    it('never yields a torn tile under concurrent stores and loads of one coord', withStorage(async (s) => {
      const c: TileCoord = [7, 7, 7];
      const candidates = Array.from({ length: 24 }, (_, i) => body(i + 1, 50_000 + i * 3001));
      const known = new Set(candidates.map((b) => b.toString('base64')));
      let reading = true;
      const seen: Array<Buffer | null> = [];
      const reader = (async () => {
        while (reading) {
          const t = await s.load(c);
          seen.push(t ? t.data : null);
          // A backend may answer from memory without I/O; yield so the stores can progress.
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await Promise.all(candidates.map((b) => s.store(c, b)));
      reading = false;
      await reader;
      const final = await s.load(c);
      assert.ok(final && known.has(final.data.toString('base64')), 'final tile is one of the stored ones, whole');
      for (const d of seen) assert.ok(d === null || known.has(d.toString('base64')), `a load returned a torn tile of ${d?.length} bytes`);
    }));
  });
}
