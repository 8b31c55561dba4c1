import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getSrs } from '../../../src/grid/srs.js';
import type { Bbox } from '../../../src/grid/types.js';
import { scaleImage, sourceRequestFor, transformImage, type RawImage } from '../../../src/image/index.js';
import { colorPos, makeRaw, posColor, px } from './helpers.js';

const R = 6378137;
const M = 20037508.342789244;
const WORLD_3857: Bbox = [-M, -M, M, M];
const WORLD_4326: Bbox = [-180, -90, 180, 90];
const epsg4326 = getSrs('EPSG:4326');
const epsg3857 = getSrs('EPSG:3857');

/** The source pixel a reprojected pixel came from (images made with posColor). */
function from(img: RawImage, x: number, y: number): [number, number] {
  const [r, g, b] = px(img, x, y);
  return colorPos(r, g, b);
}

test('scaleImage resizes to the exact size; the same size is passed through', async () => {
  const raw = makeRaw(2, 2, (x, y) => [x * 100, y * 100, 0, 255]);
  assert.equal(await scaleImage(raw, [2, 2], 'bicubic'), raw);
  const big = await scaleImage(raw, [4, 6], 'nearest');
  assert.equal(big.width, 4);
  assert.equal(big.height, 6);
  assert.deepEqual(px(big, 0, 0), [0, 0, 0, 255]);
  assert.deepEqual(px(big, 3, 0), [100, 0, 0, 255]);
  assert.deepEqual(px(big, 3, 5), [100, 100, 0, 255]);
  const small = await scaleImage(makeRaw(64, 64, () => [40, 50, 60, 255]), [7, 3], 'bilinear');
  assert.deepEqual(px(small, 6, 2), [40, 50, 60, 255]);
});

test('same SRS with the same resolution is an exact crop, padded with the background outside', async () => {
  const src = makeRaw(512, 512, posColor);
  const out = await transformImage(src, [0, 0, 512, 512], epsg3857, [100, 100, 356, 356], epsg3857, [256, 256], { resampling: 'bicubic', transparent: true });
  assert.deepEqual(px(out, 0, 0), posColor(100, 156));
  assert.deepEqual(px(out, 255, 255), posColor(355, 411));
  const edge = await transformImage(src, [0, 0, 512, 512], epsg3857, [-50, 400, 206, 656], epsg3857, [256, 256], { resampling: 'bicubic', transparent: false, bgcolor: [9, 8, 7] });
  assert.deepEqual(px(edge, 49, 200), [9, 8, 7, 255]);
  assert.deepEqual(px(edge, 50, 144), posColor(0, 0));
  assert.deepEqual(px(edge, 30, 100), [9, 8, 7, 255]);
  assert.equal(await transformImage(src, [0, 0, 512, 512], epsg3857, [0, 0, 512, 512], epsg3857, [512, 512], { resampling: 'nearest', transparent: true }), src);
});

test('same SRS at another resolution resamples (nearest samples pixel centres)', async () => {
  const src = makeRaw(256, 256, posColor);
  const half = await transformImage(src, [0, 0, 256, 256], epsg3857, [0, 0, 256, 256], epsg3857, [128, 128], { resampling: 'nearest', transparent: true });
  for (const [x, y] of [[0, 0], [5, 9], [127, 127]]) assert.deepEqual(px(half, x, y), posColor(2 * x + 1, 2 * y + 1));
  const smooth = await transformImage(makeRaw(64, 64, () => [200, 10, 10, 255]), [0, 0, 64, 64], epsg3857, [10, 10, 50, 50], epsg3857, [33, 33], { resampling: 'bicubic', transparent: true });
  assert.deepEqual(px(smooth, 16, 16), [200, 10, 10, 255]);
});

test('4326 → 3857: every pixel comes from where the exact projection says (within 1 px)', async () => {
  // Source: the world at 1°/px; output: the web mercator square at 512 px (0.70°/px at the equator).
  const src = makeRaw(360, 180, posColor);
  const out = await transformImage(src, WORLD_4326, epsg4326, WORLD_3857, epsg3857, [512, 512], { resampling: 'nearest', transparent: true });
  const res = (2 * M) / 512;
  let checked = 0;
  for (let y = 3; y < 512; y += 23) {
    for (let x = 5; x < 512; x += 29) {
      const mx = -M + (x + 0.5) * res;
      const my = M - (y + 0.5) * res;
      const lon = (mx / R) * (180 / Math.PI);
      const lat = (2 * Math.atan(Math.exp(my / R)) - Math.PI / 2) * (180 / Math.PI);
      const [sx, sy] = from(out, x, y);
      assert.ok(Math.abs(sx - Math.floor(lon + 180)) <= 1 && Math.abs(sy - Math.floor(90 - lat)) <= 1,
        `output (${x},${y}) = ${lon.toFixed(2)},${lat.toFixed(2)} came from ${sx},${sy}`);
      checked++;
    }
  }
  assert.ok(checked > 300);
  // A known place: 10°E 50°N is source pixel (190, 40) and lands at the forward projection.
  const fx = Math.floor(((R * 10 * Math.PI) / 180 + M) / res);
  const fy = Math.floor((M - R * Math.log(Math.tan(Math.PI / 4 + (50 * Math.PI) / 360))) / res);
  const [sx, sy] = from(out, fx, fy);
  assert.ok(Math.abs(sx - 190) <= 1 && Math.abs(sy - 40) <= 1, `${sx},${sy}`);
});

test('reprojected areas outside the source get the background, not black (MapProxy bug, §6)', async () => {
  const src = makeRaw(90, 45, () => [200, 0, 0, 255]);
  const clear = await transformImage(src, [0, 0, 90, 45], epsg4326, WORLD_3857, epsg3857, [256, 256], { resampling: 'bilinear', transparent: true });
  assert.equal(px(clear, 10, 10)[3], 0);
  assert.equal(px(clear, 10, 250)[3], 0);
  assert.deepEqual(px(clear, 160, 100), [200, 0, 0, 255]);
  const filled = await transformImage(src, [0, 0, 90, 45], epsg4326, WORLD_3857, epsg3857, [256, 256], { resampling: 'bicubic', transparent: false, bgcolor: [10, 20, 30] });
  assert.deepEqual(px(filled, 10, 10), [10, 20, 30, 255]);
  assert.deepEqual(px(filled, 160, 100), [200, 0, 0, 255]);
});

test('3857 → 4326: rows beyond the Mercator square and the poles get the background', async () => {
  const src = makeRaw(512, 512, posColor);
  const out = await transformImage(src, WORLD_3857, epsg3857, WORLD_4326, epsg4326, [360, 180], { resampling: 'nearest', transparent: true });
  assert.equal(px(out, 0, 0)[3], 0);
  assert.equal(px(out, 200, 2)[3], 0);
  assert.equal(px(out, 200, 179)[3], 0);
  // 0.5°E 0.5°N is just right of and above the centre of the source.
  const [sx, sy] = from(out, 180, 89);
  assert.ok(Math.abs(sx - 256) <= 1 && Math.abs(sy - 255) <= 1, `${sx},${sy}`);
  assert.equal(px(out, 180, 89)[3], 255);
});

test('sourceRequestFor: the transformed bbox and a size keeping one side (figures from MapProxy 1.15)', () => {
  const a = sourceRequestFor([0, 5000000, 2000000, 7000000], epsg3857, [512, 512], epsg4326);
  assert.deepEqual(a.size, [756, 512]);
  assert.ok(Math.abs(a.bbox[1] - 40.91627447067578) < 1e-9);
  assert.ok(Math.abs(a.bbox[3] - 53.09181876959621) < 1e-9);
  const b = sourceRequestFor([5, 45, 15, 50], epsg4326, [400, 300], epsg3857);
  assert.deepEqual(b.size, [405, 300]);
  assert.ok(Math.abs(b.bbox[0] - 556597.4539663679) < 1e-6);
});
