// Resolution ranges and coverage geometry of sources (MapProxy's ResolutionRange and bbox_position_in_image).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getSrs } from '../../../src/grid/index.js';
import { bboxPositionInImage, coverageContains, coverageIntersects, resRangeContains } from '../../../src/source/limits.js';

const merc = getSrs('EPSG:3857');
const geo = getSrs('EPSG:4326');

test('res range: max_res ≤ r < min_res + 1e-6 on both axes', () => {
  const range = { minRes: 100, maxRes: 10 };
  assert.equal(resRangeContains(range, [0, 0, 2560, 2560], [256, 256], merc), true); // 10 m: max_res itself is in
  assert.equal(resRangeContains(range, [0, 0, 2559, 2559], [256, 256], merc), false); // just finer
  // MapProxy: min_res + 1e-6 is the bound, so exactly min_res is still in.
  assert.equal(resRangeContains(range, [0, 0, 25600, 25600], [256, 256], merc), true);
  assert.equal(resRangeContains(range, [0, 0, 25601, 25601], [256, 256], merc), false); // 100.004 m: out
  // One axis out is enough to be out.
  assert.equal(resRangeContains(range, [0, 0, 2560, 25601], [256, 256], merc), false);
  assert.equal(resRangeContains({ maxRes: 10 }, [0, 0, 1e9, 1e9], [256, 256], merc), true);
  assert.equal(resRangeContains({ minRes: 100 }, [0, 0, 1, 1], [256, 256], merc), true);
});

test('res range converts degrees to metres (deg·2π·6378137/360)', () => {
  // 1° over 1000 px = 111.32 m/px.
  assert.equal(resRangeContains({ minRes: 112 }, [0, 0, 1, 1], [1000, 1000], geo), true);
  assert.equal(resRangeContains({ minRes: 111 }, [0, 0, 1, 1], [1000, 1000], geo), false);
});

test('bboxPositionInImage matches MapProxy doctests', () => {
  assert.deepEqual(bboxPositionInImage([-180, -90, 180, 90], [600, 300], [-180, -90, 180, 90]), { size: [600, 300], offset: [0, 0], bbox: [-180, -90, 180, 90] });
  assert.deepEqual(bboxPositionInImage([-200, -100, 200, 100], [600, 300], [-180, -90, 180, 90]), { size: [540, 270], offset: [30, 15], bbox: [-180, -90, 180, 90] });
  assert.deepEqual(bboxPositionInImage([-200, -50, 200, 100], [600, 300], [-180, -90, 180, 90]), { size: [540, 280], offset: [30, 20], bbox: [-180, -50, 180, 90] });
  assert.deepEqual(bboxPositionInImage([586400, 196400, 752800, 362800], [256, 256], [586400, 196400, 752800, 350000]), {
    size: [256, 237],
    offset: [0, 19],
    bbox: [586400, 196400, 752800, 350000],
  });
});

test('coverage tests transform the coverage into the query SRS', () => {
  const cov = { bbox: [0, 0, 10, 10] as const, srs: geo };
  assert.equal(coverageIntersects(cov, [1e5, 1e5, 2e5, 2e5], merc), true);
  assert.equal(coverageIntersects(cov, [-2e5, -2e5, -1e5, -1e5], merc), false);
  assert.equal(coverageContains(cov, [1e5, 1e5, 2e5, 2e5], merc), true);
  assert.equal(coverageContains(cov, [-1e5, 1e5, 2e5, 2e5], merc), false);
  // Touching is not intersecting.
  assert.equal(coverageIntersects(cov, [10, 0, 11, 1], geo), false);
});
