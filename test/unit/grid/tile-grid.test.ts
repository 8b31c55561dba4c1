// Grid geometry (REFERENCE.md §2.2, §2.4). Every expected number was printed by the real MapProxy
// 1.15: `/usr/bin/python3 test/unit/grid/mapproxy_reference.py` (labels quoted in the comments).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GLOBAL_GEODETIC,
  GLOBAL_MERCATOR,
  GLOBAL_WEBMERCATOR,
  GridRequestError,
  TileGridImpl,
  createTileGrid,
  getSrs,
  parseOrigin,
  type TileGrid,
} from '../../../src/grid/index.js';

const M = 20037508.342789244;
const MERC_RES = [
  156543.03392804097, 78271.51696402048, 39135.75848201024, 19567.87924100512, 9783.93962050256, 4891.96981025128,
  2445.98490512564, 1222.99245256282, 611.49622628141, 305.748113140705, 152.8740565703525, 76.43702828517625,
  38.21851414258813, 19.109257071294063, 9.554628535647032, 4.777314267823516, 2.388657133911758, 1.194328566955879,
  0.5971642834779395, 0.29858214173896974,
];

function gridError(reason: string, message: string) {
  return (err: unknown) => {
    assert.ok(err instanceof GridRequestError);
    assert.equal(err.code, 'MPX_ERR_GRID_REQUEST');
    assert.equal(err.status, 400);
    assert.equal(err.reason, reason);
    assert.equal(err.message, message);
    return true;
  };
}

test('the default grids: SRS, bbox, origin, resolutions, grid sizes, profile ("GLOBAL_* res", "grid_sizes")', () => {
  assert.equal(GLOBAL_GEODETIC.name, 'GLOBAL_GEODETIC');
  assert.equal(GLOBAL_GEODETIC.srs.code, 'EPSG:4326');
  assert.deepEqual(GLOBAL_GEODETIC.bbox, [-180, -90, 180, 90]);
  assert.equal(GLOBAL_GEODETIC.origin, 'll');
  assert.equal(GLOBAL_GEODETIC.levels, 20);
  assert.equal(GLOBAL_GEODETIC.resolutions[0], 1.40625);
  assert.equal(GLOBAL_GEODETIC.resolutions[19], 2.682209014892578e-6);
  assert.deepEqual([0, 1, 2, 3, 19].map((z) => GLOBAL_GEODETIC.gridSizes[z]), [[1, 1], [2, 1], [4, 2], [8, 4], [524288, 262144]]);
  assert.equal(GLOBAL_GEODETIC.profile, 'global-geodetic');

  for (const [g, code, origin] of [[GLOBAL_MERCATOR, 'EPSG:900913', 'll'], [GLOBAL_WEBMERCATOR, 'EPSG:3857', 'ul']] as const) {
    assert.equal(g.srs.code, code);
    assert.equal(g.origin, origin);
    assert.deepEqual(g.bbox, [-M, -M, M, M]);
    assert.deepEqual(g.resolutions, MERC_RES);
    assert.deepEqual([0, 1, 2, 3, 19].map((z) => g.gridSizes[z]), [[1, 1], [2, 2], [4, 4], [8, 8], [524288, 524288]]);
    assert.deepEqual(g.tileSize, [256, 256]);
    assert.equal(g.stretchFactor, 1.15);
    assert.equal(g.maxShrinkFactor, 4);
    assert.deepEqual(g.thresholdRes, []);
    assert.equal(g.profile, 'global-mercator');
  }
});

test('profile: local for other bboxes and SRSs; CRS:84 with the world bbox is global-geodetic', () => {
  assert.equal(createTileGrid({ name: 'a', srs: 'EPSG:3857', bbox: [-M, -M, M, 0] }).profile, 'local');
  assert.equal(createTileGrid({ name: 'b', srs: 'EPSG:25832', bbox: [0, 0, 1000, 1000] }).profile, 'local');
  assert.equal(createTileGrid({ name: 'c', srs: 'EPSG:102100' }).profile, 'global-mercator');
  assert.equal(createTileGrid({ name: 'd', srs: 'CRS:84', bbox: [-180, -90, 180, 90] }).profile, 'global-geodetic');
});

test('GLOBAL_GEODETIC level 0 is one tile reaching 270° north ("geo tile_bbox")', () => {
  assert.deepEqual(GLOBAL_GEODETIC.tileBbox([0, 0, 0]), [-180, -90, 180, 270]);
  assert.deepEqual(GLOBAL_GEODETIC.tileBbox([1, 0, 1]), [0, -90, 180, 90]);
});

test('tile bboxes on ll and ul grids, rounded to 12 decimals like MapProxy', () => {
  assert.deepEqual(GLOBAL_MERCATOR.tileBbox([1, 2, 3]), [-15028131.257091932, -10018754.171394622, -10018754.17139462, -5009377.085697311]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.tileBbox([1, 2, 3]), [-15028131.257091932, 5009377.085697311, -10018754.17139462, 10018754.171394622]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.tileBbox([170, 211, 9]), [-6731350.458905762, 3443946.7464169017, -6653078.941941742, 3522218.2633809224]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.tilesBbox([[0, 0, 1], [1, 1, 1]]), [-M, -M, M, M]);
});

test('point to tile counts from miny (ll) or maxy (ul)', () => {
  assert.deepEqual(GLOBAL_MERCATOR.pointToTile(1000, 1000, 1), [1, 1, 1]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.pointToTile(1000, 1000, 1), [1, 0, 1]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.pointToTile(-1000, -1000, 2), [1, 2, 2]);
});

test('grid size uses Python floor division inside: 1 // 0.1 = 9 ("floordiv grid size")', () => {
  const g = createTileGrid({ name: 'f', srs: 'EPSG:25832', bbox: [0, 0, 1, 1], res: [0.1], tileSize: [1, 1] });
  assert.deepEqual(g.gridSizes, [[9, 9]]);
});

test('affected tiles: rows from the top, bbox of the block ("merc/web affected")', () => {
  assert.deepEqual(GLOBAL_MERCATOR.affectedTiles([-M, -M, 0, 0], [512, 512]), {
    bbox: [-M, -M, 0, 0],
    gridSize: [2, 2],
    tiles: [[0, 1, 2], [1, 1, 2], [0, 0, 2], [1, 0, 2]],
  });
  assert.deepEqual(GLOBAL_WEBMERCATOR.affectedTiles([-M, -M, 0, 0], [512, 512]), {
    bbox: [-M, -20037508.34278924, 0, 0],
    gridSize: [2, 2],
    tiles: [[0, 2, 2], [1, 2, 2], [0, 3, 2], [1, 3, 2]],
  });
  // 2000 km in 300 px: res 6666 -> level 5 (stretch 1.15), 2×2 tiles around the origin.
  assert.deepEqual(GLOBAL_WEBMERCATOR.affectedTiles([-1000000, -1000000, 1000000, 1000000], [300, 300]), {
    bbox: [-1252344.271424327, -1252344.2714243277, 1252344.2714243277, 1252344.271424327],
    gridSize: [2, 2],
    tiles: [[15, 15, 5], [16, 15, 5], [15, 16, 5], [16, 16, 5]],
  });
  assert.deepEqual(GLOBAL_MERCATOR.affectedTiles([-1000000, -1000000, 1000000, 1000000], [300, 300]).tiles, [
    [15, 16, 5], [16, 16, 5], [15, 15, 5], [16, 15, 5],
  ]);
  assert.deepEqual(GLOBAL_GEODETIC.affectedTiles([-180, -90, 180, 90], [256, 256]), {
    bbox: [-180, -90, 180, 90],
    gridSize: [2, 1],
    tiles: [[0, 0, 1], [1, 0, 1]],
  });
});

test('affected tiles outside the grid are null ("web level tiles outside")', () => {
  assert.deepEqual(GLOBAL_WEBMERCATOR.affectedLevelTiles([-30000000, 15000000, -15000000, 30000000], 2), {
    bbox: [-30056262.514183864, 10018754.171394622, -10018754.171394622, 30056262.514183864],
    gridSize: [2, 2],
    tiles: [null, null, null, [0, 0, 2]],
  });
});

test('affected tiles in another SRS transform the bbox first', () => {
  const a = GLOBAL_WEBMERCATOR.affectedTiles([-180, -85.06, 0, 0], [512, 512], getSrs('EPSG:4326'));
  assert.deepEqual(a.tiles, [[0, 2, 2], [1, 2, 2], [0, 3, 2], [1, 3, 2]]);
  const b = GLOBAL_WEBMERCATOR.affectedBboxAndLevel([-M, -M, 0, 0], [512, 512]);
  assert.deepEqual(b, { bbox: [-M, -M, 0, 0], level: 2 });
});

test('no tiles: outside the grid, too coarse, inverted bbox, bad level', () => {
  assert.throws(
    () => GLOBAL_WEBMERCATOR.affectedTiles([M, 0, M + 1000, 1000], [256, 256]),
    gridError('no-intersection', `bbox ${M},0,${M + 1000},1000 does not intersect grid GLOBAL_WEBMERCATOR`),
  );
  // MapProxy: res > res[0] · max_shrink_factor (4) is blank; 4·156543 = 626172 still works.
  assert.equal(GLOBAL_WEBMERCATOR.affectedTiles([-M, -M, M, M], [64, 64]).tiles.length, 1);
  assert.throws(
    () => GLOBAL_WEBMERCATOR.affectedTiles([-M, -M, M, M], [63, 63]),
    gridError('too-coarse', 'request resolution 636111.3759615633 is coarser than 4× level 0 of grid GLOBAL_WEBMERCATOR'),
  );
  assert.throws(
    () => GLOBAL_WEBMERCATOR.affectedLevelTiles([1000, 1000, 0, 0], 3),
    gridError('invalid-bbox', 'invalid bbox for grid GLOBAL_WEBMERCATOR at level 3'),
  );
  assert.throws(() => GLOBAL_WEBMERCATOR.tileBbox([0, 0, 20]), gridError('invalid-level', 'level 20 is outside grid GLOBAL_WEBMERCATOR (0-19)'));
  assert.throws(() => GLOBAL_WEBMERCATOR.resolution(-1), gridError('invalid-level', 'level -1 is outside grid GLOBAL_WEBMERCATOR (0-19)'));
});

test('closest_level with stretch_factor 1.15 ("closest 10/5", "web closest …")', () => {
  const g = createTileGrid({ name: 'g', srs: 'EPSG:25832', bbox: [0, 0, 10000, 10000], res: [10, 5] });
  // MapProxy: request 9 m -> the 10 m level (within 1.15), 8 m -> the 5 m level.
  assert.deepEqual([12, 10, 9, 8, 5, 4, 2].map((r) => g.closestLevel(r)), [0, 0, 0, 1, 1, 1, 1]);
  assert.equal(GLOBAL_WEBMERCATOR.closestLevel(136000), 1);
  assert.deepEqual(
    [400000, 160000, 156543.03392804097, 136000, 136100, 78271.51696402048, 70000, 0.1].map((r) => GLOBAL_WEBMERCATOR.closestLevel(r)),
    [0, 0, 0, 1, 1, 1, 1, 19],
  );
});

test('threshold_res switches to the coarser level above each threshold ("threshold levels")', () => {
  const g = createTileGrid({ name: 't', srs: 'EPSG:25832', bbox: [0, 0, 100000, 100000], res: [100, 50, 25, 10, 5], thresholdRes: [12, 30] });
  assert.deepEqual(g.thresholdRes, [30, 12]);
  assert.deepEqual(
    [110, 100, 60, 50, 40, 31, 30, 29, 25, 20, 13, 12, 11, 10, 9, 5.5, 1].map((r) => g.closestLevel(r)),
    [0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4],
  );
  const h = createTileGrid({ name: 'h', srs: 'EPSG:25832', bbox: [0, 0, 100000, 100000], res: [100, 50, 25, 10, 5], thresholdRes: [500, 30, 12] });
  assert.deepEqual([110, 60, 31, 29].map((r) => h.closestLevel(r)), [0, 1, 1, 2]);
});

test('origin flips and the nw-compatibility test ("nw ok", "flip", "origin tile")', () => {
  assert.equal(GLOBAL_GEODETIC.supportsAccessWithOrigin('ul'), false);
  assert.equal(GLOBAL_GEODETIC.supportsAccessWithOrigin('ll'), true);
  assert.equal(GLOBAL_MERCATOR.supportsAccessWithOrigin('ul'), true);
  assert.equal(GLOBAL_WEBMERCATOR.supportsAccessWithOrigin('ll'), true);
  const local = createTileGrid({ name: 'l', srs: 'EPSG:25832', bbox: [0, 0, 1000, 700], res: [1, 0.5], origin: 'sw' });
  assert.deepEqual(local.gridSizes, [[4, 3], [8, 6]]);
  assert.equal(local.supportsAccessWithOrigin('ul'), false);
  const exact = createTileGrid({ name: 'e', srs: 'EPSG:25832', bbox: [0, 0, 1024, 512], res: [2, 1], origin: 'sw' });
  assert.equal(exact.supportsAccessWithOrigin('ul'), true);

  assert.deepEqual(GLOBAL_MERCATOR.flipTileCoord([0, 1, 1]), [0, 0, 1]);
  assert.deepEqual(GLOBAL_MERCATOR.flipTileCoord([1, 3, 2]), [1, 0, 2]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.originTile(2, 'ul'), [0, 0, 2]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.originTile(2, 'll'), [0, 3, 2]);
  assert.throws(() => GLOBAL_GEODETIC.originTile(0, 'ul'), { name: 'RangeError', message: 'grid GLOBAL_GEODETIC cannot be addressed with origin ul' });
  // TMS (sw) 0/0 on GLOBAL_WEBMERCATOR level 1 is stored as y=1.
  assert.deepEqual(GLOBAL_WEBMERCATOR.coordFromOrigin([0, 0, 1], 'll'), [0, 1, 1]);
  assert.deepEqual(GLOBAL_WEBMERCATOR.coordFromOrigin([0, 0, 1], 'ul'), [0, 0, 1]);
});

test('parseOrigin accepts ll/sw/ul/nw in any case', () => {
  assert.deepEqual(['ll', 'SW', 'ul', 'NW', undefined].map((o) => parseOrigin(o)), ['ll', 'll', 'ul', 'ul', 'll']);
  assert.throws(() => parseOrigin('top'), { name: 'RangeError', message: "unknown origin value 'top' (use ll, sw, ul or nw)" });
});

test('limitTile ("merc limit")', () => {
  assert.deepEqual([[-1, 0, 2], [1, 2, 1], [1, 2, 2], [0, 0, 20], [0, 0, -1]].map((c) => GLOBAL_MERCATOR.limitTile(c as [number, number, number])), [
    null, null, [1, 2, 2], null, null,
  ]);
});

test('isSubsetOf ("subset …")', () => {
  const sub = createTileGrid({ name: 's', srs: 'EPSG:3857', bbox: [0, 0, M, M], minRes: GLOBAL_WEBMERCATOR.resolutions[3], numLevels: 5, origin: 'nw' });
  assert.equal(sub.isSubsetOf(GLOBAL_WEBMERCATOR), true);
  assert.equal(GLOBAL_WEBMERCATOR.isSubsetOf(sub), false);
  assert.equal(sub.isSubsetOf(GLOBAL_MERCATOR), true);
  assert.equal(GLOBAL_GEODETIC.isSubsetOf(GLOBAL_WEBMERCATOR), false);
  const off = createTileGrid({ name: 'o', srs: 'EPSG:3857', bbox: [1000, 0, M, M], minRes: GLOBAL_WEBMERCATOR.resolutions[3], numLevels: 5 });
  assert.equal(off.isSubsetOf(GLOBAL_WEBMERCATOR), false);
  const big = createTileGrid({ name: 'b', srs: 'EPSG:3857', tileSize: [512, 512] });
  assert.equal(big.isSubsetOf(GLOBAL_WEBMERCATOR), false);
  // 20 levels: listing every tile (4^19 at the last level) would never finish; corners suffice.
  assert.equal(GLOBAL_WEBMERCATOR.isSubsetOf(GLOBAL_WEBMERCATOR), true);
  assert.equal(GLOBAL_MERCATOR.isSubsetOf(GLOBAL_WEBMERCATOR), true);
  const shifted = createTileGrid({ name: 'h', srs: 'EPSG:3857', bbox: [-M + 1, -M, M + 1, M], origin: 'nw' });
  assert.equal(shifted.isSubsetOf(GLOBAL_WEBMERCATOR), false);
});

test('TileGridImpl needs at least one resolution', () => {
  assert.throws(
    () => new TileGridImpl({ name: 'x', srs: getSrs('EPSG:3857'), bbox: [0, 0, 1, 1], resolutions: [] }),
    { name: 'RangeError', message: 'grid x has no resolutions' },
  );
  const g: TileGrid = new TileGridImpl({ name: 'y', srs: getSrs('EPSG:3857'), bbox: [0, 0, 512, 512], resolutions: [1] });
  assert.deepEqual(g.gridSizes, [[2, 2]]);
});

test('createTileGrid needs a bbox outside the global SRSs', () => {
  assert.throws(() => createTileGrid({ name: 'u', srs: 'EPSG:25832' }), { name: 'RangeError', message: 'need a bbox for grid u with EPSG:25832' });
  assert.equal(createTileGrid({ name: 'd' }).srs.code, 'EPSG:900913');
});
