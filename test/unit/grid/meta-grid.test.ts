// Meta tiles (REFERENCE.md §2.5). Expected bboxes, sizes and offsets were printed by the real
// MapProxy 1.15 MetaGrid: `/usr/bin/python3 test/unit/grid/mapproxy_reference.py` ("… meta …",
// "… minimal …", "… meta affected"); the level 9 request also matches the rig's recorded upstream
// GetMap (bbox=-6912353.341885059,3419486.8973656455,-6550347.575926465,3781492.663324239, 1184×1184).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GLOBAL_GEODETIC,
  GLOBAL_MERCATOR,
  GLOBAL_WEBMERCATOR,
  GridRequestError,
  MetaGridImpl,
  metaGrid,
  type MetaTile,
  type TileCoord,
} from '../../../src/grid/index.js';

const M = 20037508.342789244;

/** [coord, offset] pairs as MapProxy's tile_patterns print them, out-of-grid tiles dropped. */
function patterns(t: MetaTile): Array<[TileCoord, readonly [number, number]]> {
  return t.parts.map((p) => [p.coord, p.offset]);
}

function block(xs: number[], ys: number[], z: number, offX: number[], offY: number[]): Array<[TileCoord, [number, number]]> {
  const out: Array<[TileCoord, [number, number]]> = [];
  ys.forEach((y, i) => xs.forEach((x, j) => out.push([[x, y, z], [offX[j], offY[i]]])));
  return out;
}

test('GLOBAL_WEBMERCATOR 4×4 + 80 px at level 4: 1184×1184', () => {
  const t = metaGrid(GLOBAL_WEBMERCATOR, [4, 4], 80).metaTile([5, 5, 4]);
  assert.deepEqual(t.main, [4, 4, 4]);
  assert.deepEqual(t.lockCoord, [4, 4, 4]);
  assert.deepEqual(t.bbox, [-10801469.341034826, -782715.1696402063, 782715.1696402063, 10801469.341034826]);
  assert.deepEqual(t.size, [1184, 1184]);
  assert.deepEqual(t.gridSize, [4, 4]);
  assert.deepEqual(t.buffers, [80, 80, 80, 80]);
  assert.deepEqual(patterns(t), block([4, 5, 6, 7], [4, 5, 6, 7], 4, [80, 336, 592, 848], [80, 336, 592, 848]));
});

test('the rig sample: level 9 meta tile of x=170, y=211', () => {
  const t = metaGrid(GLOBAL_WEBMERCATOR, [4, 4], 80).metaTile([170, 211, 9]);
  assert.deepEqual(t.bbox, [-6912353.341885059, 3419486.8973656455, -6550347.575926465, 3781492.663324239]);
  assert.deepEqual(t.size, [1184, 1184]);
  assert.deepEqual(t.main, [168, 208, 9]);
  assert.deepEqual(t.lockCoord, [168, 208, 9]);
  assert.deepEqual(t.parts[15], { coord: [171, 211, 9], offset: [848, 848] });
});

test('a corner meta tile at level 3 loses the buffer on two sides: 1104×1104', () => {
  const t = metaGrid(GLOBAL_WEBMERCATOR, [4, 4], 80).metaTile([0, 0, 3]);
  assert.deepEqual(t.bbox, [-M, -1565430.3392804088, 1565430.3392804088, M]);
  assert.deepEqual(t.size, [1104, 1104]);
  assert.deepEqual(t.buffers, [0, 80, 80, 0]);
  assert.deepEqual(patterns(t), block([0, 1, 2, 3], [0, 1, 2, 3], 3, [0, 256, 512, 768], [0, 256, 512, 768]));
});

test('level 1: the meta size shrinks to the 2×2 grid and the buffer vanishes: 512×512', () => {
  const t = metaGrid(GLOBAL_WEBMERCATOR, [4, 4], 80).metaTile([1, 1, 1]);
  assert.deepEqual(t.bbox, [-M, -M, M, M]);
  assert.deepEqual(t.size, [512, 512]);
  assert.deepEqual(t.gridSize, [2, 2]);
  assert.deepEqual(t.main, [0, 0, 1]);
  assert.deepEqual(patterns(t), block([0, 1], [0, 1], 1, [0, 256], [0, 256]));
});

test('ll grid: rows from the top are the highest y first; the lock tile is the top-left one', () => {
  const mg = metaGrid(GLOBAL_MERCATOR, [4, 4], 80);
  const t = mg.metaTile([5, 5, 4]);
  assert.deepEqual(t.bbox, [-10801469.341034826, -10801469.341034826, 782715.1696402063, 782715.1696402063]);
  assert.deepEqual(t.size, [1184, 1184]);
  assert.deepEqual(t.main, [4, 4, 4]);
  // MapProxy locks on main_tile_coord, the first listed tile: (4, 7, 4) here.
  assert.deepEqual(t.lockCoord, [4, 7, 4]);
  assert.deepEqual(patterns(t), block([4, 5, 6, 7], [7, 6, 5, 4], 4, [80, 336, 592, 848], [80, 336, 592, 848]));

  const c = mg.metaTile([7, 7, 3]);
  assert.deepEqual(c.bbox, [-1565430.3392804097, -1565430.3392804097, M, M]);
  assert.deepEqual(c.size, [1104, 1104]);
  assert.deepEqual(patterns(c), block([4, 5, 6, 7], [7, 6, 5, 4], 3, [80, 336, 592, 848], [0, 256, 512, 768]));
});

test('GLOBAL_GEODETIC level 0: bbox clamped to 90°N, negative top buffer (256×128)', () => {
  const t = metaGrid(GLOBAL_GEODETIC, [4, 4], 80).metaTile([0, 0, 0]);
  assert.deepEqual(t.bbox, [-180, -90, 180, 90]);
  assert.deepEqual(t.size, [256, 128]);
  assert.deepEqual(t.buffers, [0, 0, 0, -128]);
  assert.deepEqual(patterns(t), [[[0, 0, 0], [0, -128]]]);
});

test('a meta tile entirely outside the grid has no parts ("geo meta z2 (7,3,2)")', () => {
  const t = metaGrid(GLOBAL_GEODETIC, [4, 4], 80).metaTile([7, 3, 2]);
  assert.deepEqual(t.bbox, [151.875, 61.875, 180, 90]);
  assert.deepEqual(t.size, [80, 80]);
  assert.deepEqual(t.gridSize, [4, 2]);
  assert.deepEqual(t.parts, []);
});

test('meta_buffer 0: no clamping, bbox kept as the tiles give it', () => {
  const t = metaGrid(GLOBAL_WEBMERCATOR, [2, 2], 0).metaTile([3, 3, 3]);
  assert.deepEqual(t.bbox, [-10018754.171394622, 9.313225746154785e-10, -9.313225746154785e-10, 10018754.171394622]);
  assert.deepEqual(t.size, [512, 512]);
  assert.deepEqual(t.buffers, [0, 0, 0, 0]);
  assert.deepEqual(patterns(t), block([2, 3], [2, 3], 3, [0, 256], [0, 256]));
});

test('meta_buffer 10 in the lower-left corner of an ll grid', () => {
  const t = metaGrid(GLOBAL_MERCATOR, [4, 4], 10).metaTile([0, 0, 5]);
  assert.deepEqual(t.bbox, [-M, -M, -14979211.55898942, -14979211.55898942]);
  assert.deepEqual(t.size, [1034, 1034]);
  assert.deepEqual(t.lockCoord, [0, 3, 5]);
  assert.deepEqual(patterns(t), block([0, 1, 2, 3], [3, 2, 1, 0], 5, [0, 256, 512, 768], [10, 266, 522, 778]));
});

test('minimalMetaTile covers exactly the given tiles plus buffer', () => {
  const web = metaGrid(GLOBAL_WEBMERCATOR, [4, 4], 80).minimalMetaTile([[5, 6, 4], [6, 6, 4], [5, 7, 4]]);
  assert.deepEqual(web.bbox, [-8296780.798186171, -782715.1696402063, -1721973.3732084516, 5792092.255337517]);
  assert.deepEqual(web.size, [672, 672]);
  assert.deepEqual(web.gridSize, [2, 2]);
  assert.deepEqual(web.lockCoord, [5, 6, 4]);
  assert.deepEqual(patterns(web), block([5, 6], [6, 7], 4, [80, 336], [80, 336]));

  const merc = metaGrid(GLOBAL_MERCATOR, [4, 4], 80).minimalMetaTile([[5, 6, 4], [6, 6, 4], [5, 7, 4]]);
  assert.deepEqual(merc.bbox, [-8296780.798186171, -5792092.255337517, -1721973.3732084516, 782715.1696402063]);
  assert.deepEqual(merc.lockCoord, [5, 7, 4]);
  assert.deepEqual(patterns(merc), block([5, 6], [7, 6], 4, [80, 336], [80, 336]));

  const corner = metaGrid(GLOBAL_WEBMERCATOR, [4, 4], 80).minimalMetaTile([[0, 0, 3], [1, 0, 3]]);
  assert.deepEqual(corner.bbox, [-M, 13462700.917811522, -8453323.83211421, M]);
  assert.deepEqual(corner.size, [592, 336]);
  assert.deepEqual(patterns(corner), block([0, 1], [0], 3, [0, 256], [0]));
});

test('affected meta tiles of a level (seeding): main tiles, rows from the top', () => {
  assert.deepEqual(metaGrid(GLOBAL_WEBMERCATOR, [4, 4], 80).affectedLevelTiles([-1000000, -1000000, 1000000, 1000000], 5), {
    bbox: [-5009377.085697312, -1252344.2714243277, 5009377.085697313, 1252344.271424327],
    gridSize: [2, 2],
    tiles: [[12, 12, 5], [16, 12, 5], [12, 16, 5], [16, 16, 5]],
  });
  assert.deepEqual(metaGrid(GLOBAL_MERCATOR, [4, 4], 80).affectedLevelTiles([-1000000, -1000000, 1000000, 1000000], 5), {
    bbox: [-5009377.085697312, -5009377.085697312, 5009377.085697313, 5009377.085697313],
    gridSize: [2, 2],
    tiles: [[12, 16, 5], [16, 16, 5], [12, 12, 5], [16, 12, 5]],
  });
});

test('mainTile and metaSizeAt', () => {
  const mg = metaGrid(GLOBAL_WEBMERCATOR);
  assert.deepEqual(mg.metaSize, [4, 4]);
  assert.equal(mg.metaBuffer, 80);
  assert.deepEqual(mg.mainTile([170, 211, 9]), [168, 208, 9]);
  assert.deepEqual(mg.metaSizeAt(1), [2, 2]);
  assert.deepEqual(metaGrid(GLOBAL_GEODETIC, [4, 4], 0).metaSizeAt(2), [4, 2]);
});

test('bad meta tile input', () => {
  assert.throws(() => new MetaGridImpl(GLOBAL_WEBMERCATOR, [0, 4], 80), { name: 'RangeError', message: 'meta_size must be two integers ≥ 1, got 0,4' });
  assert.throws(() => new MetaGridImpl(GLOBAL_WEBMERCATOR, [4, 4], -1), { name: 'RangeError', message: 'meta_buffer must be ≥ 0, got -1' });
  assert.throws(() => metaGrid(GLOBAL_WEBMERCATOR).minimalMetaTile([]), { name: 'RangeError', message: 'minimalMetaTile needs at least one tile' });
  assert.throws(() => metaGrid(GLOBAL_WEBMERCATOR).metaTile([0, 0, 25]), (err: unknown) => {
    assert.ok(err instanceof GridRequestError);
    assert.equal(err.reason, 'invalid-level');
    assert.equal(err.message, 'level 25 is outside grid GLOBAL_WEBMERCATOR (0-19)');
    return true;
  });
  assert.throws(() => metaGrid(GLOBAL_WEBMERCATOR).affectedLevelTiles([10, 10, 0, 0], 5), (err: unknown) => {
    assert.ok(err instanceof GridRequestError);
    assert.equal(err.reason, 'invalid-bbox');
    return true;
  });
});
