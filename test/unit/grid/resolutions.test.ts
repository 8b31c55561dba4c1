// Resolution list rules of MapProxy's tile_grid() (REFERENCE.md §2.3). Expected lists were printed
// by the real MapProxy 1.15: `/usr/bin/python3 test/unit/grid/mapproxy_reference.py` ("res …",
// "sqrt2 …", "factor 3 res", "tile 512 res", "res list …", "align …", "bbox_srs …").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GLOBAL_MERCATOR,
  alignedResolutions,
  computeResolutions,
  createTileGrid,
  initialResolution,
  sortedResolutions,
} from '../../../src/grid/index.js';

const unit = { bbox: [0, 0, 1, 1] as const, tileSize: [256, 256] as const };

test('min_res + max_res + num_levels: log spacing (1000 -> 10 in 6 levels)', () => {
  assert.deepEqual(computeResolutions({ ...unit, minRes: 1000, maxRes: 10, numLevels: 6 }), [
    1000.0, 398.1071705534973, 158.48931924611142, 63.0957344480193, 25.118864315095795, 10.0,
  ]);
});

test('max_res without num_levels excludes max_res even on an exact hit', () => {
  // MapProxy: the loop stops when max_res >= next, so 0.0025 is left out.
  assert.deepEqual(computeResolutions({ ...unit, minRes: 0.01, maxRes: 0.0025 }), [0.01, 0.005]);
  assert.deepEqual(computeResolutions({ ...unit, minRes: 1000, maxRes: 100 }), [1000, 500, 250, 125]);
});

test('default: 20 levels halving from the one-tile resolution', () => {
  const res = computeResolutions({ bbox: GLOBAL_MERCATOR.bbox, tileSize: [256, 256] });
  assert.equal(res.length, 20);
  assert.equal(res[0], 156543.03392804097);
  assert.equal(res[19], 0.29858214173896974);
  assert.equal(initialResolution([0, 0, 1000000, 500000], [256, 256]), 3906.25);
});

test("res_factor 'sqrt2' gives 40 levels by repeated division", () => {
  const g = createTileGrid({ name: 's', srs: 'EPSG:25832', bbox: [0, 0, 1000000, 500000], resFactor: 'sqrt2' });
  assert.equal(g.levels, 40);
  assert.deepEqual(g.resolutions.slice(0, 4), [3906.25, 2762.135864009951, 1953.1249999999998, 1381.0679320049753]);
  assert.equal(g.resolutions[39], 0.005268356063861737);
  assert.deepEqual(g.gridSizes.slice(0, 3), [[1, 1], [2, 1], [2, 1]]);
});

test('res_factor 3 with num_levels 5; tile_size 512 halves min_res', () => {
  const g = createTileGrid({ name: 'f3', srs: 'EPSG:25832', bbox: [0, 0, 1000000, 500000], resFactor: 3, numLevels: 5 });
  assert.deepEqual(g.resolutions, [3906.25, 1302.0833333333333, 434.02777777777777, 144.67592592592592, 48.22530864197531]);
  const t = createTileGrid({ name: 't', srs: 'EPSG:25832', bbox: [0, 0, 1000000, 500000], tileSize: [512, 512], numLevels: 3 });
  assert.deepEqual(t.resolutions, [1953.125, 976.5625, 488.28125]);
});

test('an explicit res list is sorted coarse to fine', () => {
  assert.deepEqual(sortedResolutions([10, 1000, 100]), [1000, 100, 10]);
  const g = createTileGrid({ name: 'r', srs: 'EPSG:25832', bbox: [280000, 5200000, 920000, 6100000], res: [10, 1000, 100] });
  assert.deepEqual(g.resolutions, [1000, 100, 10]);
  assert.deepEqual(g.gridSizes, [[3, 4], [25, 36], [250, 352]]);
});

test('align_resolutions_with: factor 2 grid seen as sqrt2 interleaves r/√2', () => {
  assert.deepEqual(
    alignedResolutions(GLOBAL_MERCATOR.resolutions, { bbox: GLOBAL_MERCATOR.bbox, tileSize: [256, 256], minRes: 10000, maxRes: 1000, resFactor: 'sqrt2' }),
    [9783.93962050256, 6918.290052377097, 4891.96981025128, 3459.1450261885484, 2445.98490512564, 1729.5725130942742, 1222.99245256282, 864.7862565471371],
  );
});

test('align_resolutions_with: sqrt2 grid seen as factor 2 keeps every second level', () => {
  const sq = createTileGrid({ name: 'sq', srs: 'EPSG:3857', resFactor: 'sqrt2' });
  assert.deepEqual(alignedResolutions(sq.resolutions, { bbox: GLOBAL_MERCATOR.bbox, tileSize: [256, 256], numLevels: 8, resFactor: 2 }), [
    156543.03392804097, 78271.51696402048, 39135.75848201024, 19567.87924100512,
  ]);
});

test('align_resolutions_with: other factors just take the range', () => {
  assert.deepEqual(
    alignedResolutions(GLOBAL_MERCATOR.resolutions, { bbox: GLOBAL_MERCATOR.bbox, tileSize: [256, 256], minRes: 50000, maxRes: 1000, resFactor: 3 }),
    [39135.75848201024, 19567.87924100512, 9783.93962050256, 4891.96981025128, 2445.98490512564, 1222.99245256282],
  );
  assert.deepEqual(alignedResolutions(GLOBAL_MERCATOR.resolutions, { bbox: GLOBAL_MERCATOR.bbox, tileSize: [256, 256], minRes: 0.5, maxRes: 0.35 }), []);
});

test('bbox_srs: the bbox is transformed into the grid SRS before min_res is derived', () => {
  const g = createTileGrid({ name: 'b', srs: 'EPSG:3857', bbox: [5, 50, 10, 55], bboxSrs: 'EPSG:4326' });
  const expected = [556597.4539663679, 6446275.841017161, 1113194.9079327357, 7361866.113051188];
  g.bbox.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `bbox[${i}] ${v}`));
  assert.ok(Math.abs(g.resolutions[0] - 3576.5245001329204) < 1e-9);
  assert.deepEqual(g.gridSizes.slice(0, 3), [[1, 1], [2, 2], [3, 4]]);
});
