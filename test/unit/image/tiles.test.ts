import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetaTilePart, TileCoord } from '../../../src/grid/types.js';
import { cutMetaTile, decodeImage, encodedMime, singleColor, splitMetaTile, type RawImage } from '../../../src/image/index.js';
import { makeRaw, PNG, posColor, px } from './helpers.js';

const LOSSLESS = { ...PNG, colors: 0 };

function parts4x4(buf: { left: number; top: number }, z = 4): MetaTilePart[] {
  const out: MetaTilePart[] = [];
  for (let row = 0; row < 4; row++) {
    for (let col = 0; col < 4; col++) {
      const coord: TileCoord = [col, 3 - row, z];
      out.push({ coord, offset: [col * 256 + buf.left, row * 256 + buf.top] });
    }
  }
  return out;
}

test('a 1184×1184 meta tile with buffer 80 splits into 16 tiles cut at the right pixels', async () => {
  // MapProxy: 4×4 meta tiles with meta_buffer 80 are 1184 px; tile (col j, row i) is cropped at
  // (j·256 + 80, i·256 + 80) (REFERENCE §2.5).
  const meta = makeRaw(1184, 1184, posColor);
  const parts = parts4x4({ left: 80, top: 80 });
  const tiles = await splitMetaTile(meta, parts, [256, 256], LOSSLESS);
  assert.equal(tiles.length, 16);
  for (const [i, t] of tiles.entries()) {
    assert.deepEqual(t.coord, parts[i].coord);
    const img = await decodeImage(t.data);
    assert.equal(img.width, 256);
    assert.equal(img.height, 256);
    const [ox, oy] = parts[i].offset;
    assert.deepEqual(px(img, 0, 0), posColor(ox, oy), `tile ${i} first pixel`);
    assert.deepEqual(px(img, 255, 255), posColor(ox + 255, oy + 255), `tile ${i} last pixel`);
    assert.deepEqual(px(img, 17, 200), posColor(ox + 17, oy + 200));
  }
});

test('a clamped corner meta tile (buffer only on two sides) and tiles padded with the background', async () => {
  // MapProxy: a corner meta tile at z3 is 1104 px, the buffer shrinks to 0 on the clamped sides.
  const meta = makeRaw(1104, 1104, posColor);
  const tiles = await splitMetaTile(meta, parts4x4({ left: 0, top: 80 }, 3), [256, 256], LOSSLESS);
  const t = await decodeImage(tiles[0].data);
  assert.deepEqual(px(t, 0, 0), posColor(0, 80));
  const last = await decodeImage(tiles[15].data);
  assert.deepEqual(px(last, 0, 0), posColor(768, 848));
  // Column 3 of a 1104 px image ends at 1024: the 80 px right of it are no tile's business but
  // the tile itself lies inside. A smaller image (the grid ends inside the meta tile) pads.
  const small = makeRaw(900, 700, posColor);
  const padded = await splitMetaTile(small, [{ coord: [3, 0, 3], offset: [768, 512] }], [256, 256], { ...LOSSLESS, bgcolor: [1, 2, 3] });
  const p = await decodeImage(padded[0].data);
  assert.deepEqual(px(p, 131, 187), posColor(899, 699));
  assert.deepEqual(px(p, 132, 0), [1, 2, 3, 255]);
  assert.deepEqual(px(p, 0, 188), [1, 2, 3, 255]);
  assert.deepEqual(px(p, 255, 255), [1, 2, 3, 255]);
  const clear = await splitMetaTile(small, [{ coord: [3, 0, 3], offset: [768, 512] }], [256, 256], { ...LOSSLESS, transparent: true });
  const c = await decodeImage(clear[0].data);
  assert.equal(px(c, 200, 200)[3], 0);
  assert.deepEqual(px(c, 0, 0), posColor(768, 512));
});

test('offsets left of or above the image pad on that side', async () => {
  const meta = makeRaw(300, 300, posColor);
  const [t] = await splitMetaTile(meta, [{ coord: [0, 0, 0], offset: [-10, -20] }], [256, 256], { ...LOSSLESS, transparent: true });
  const img = await decodeImage(t.data);
  assert.equal(px(img, 9, 30)[3], 0);
  assert.equal(px(img, 30, 19)[3], 0);
  assert.deepEqual(px(img, 10, 20), posColor(0, 0));
});

test('tiles are encoded in the cache format (JPEG, paletted PNG)', async () => {
  const meta = makeRaw(512, 512, (x, y) => [x >> 1, y >> 1, 40, 255]);
  const parts: MetaTilePart[] = [{ coord: [0, 1, 1], offset: [0, 0] }, { coord: [1, 0, 1], offset: [256, 256] }];
  const jpeg = await splitMetaTile(meta, parts, [256, 256], { ...PNG, format: 'image/jpeg' });
  assert.deepEqual(jpeg.map((t) => encodedMime(t.data)), ['image/jpeg', 'image/jpeg']);
  const png = await splitMetaTile(meta, parts, [256, 256], PNG);
  assert.equal(png[1].data[25], 3);
  assert.deepEqual(png.map((t) => t.coord), [[0, 1, 1], [1, 0, 1]]);
});

test('cutMetaTile returns the pixels of each part', () => {
  const meta = makeRaw(600, 600, posColor);
  const [a, b] = cutMetaTile(meta, [{ coord: [0, 0, 1], offset: [80, 80] }, { coord: [1, 0, 1], offset: [336, 80] }], [256, 256], PNG);
  assert.deepEqual(px(a.image, 0, 0), posColor(80, 80));
  assert.deepEqual(px(b.image, 255, 0), posColor(591, 80));
  assert.deepEqual(b.coord, [1, 0, 1]);
});

test('singleColor finds one-colour images and nothing else', () => {
  const solid = (w: number, h: number, c: number[]): RawImage => makeRaw(w, h, () => c);
  assert.deepEqual(singleColor(solid(256, 256, [10, 20, 30, 255])), [10, 20, 30, 255]);
  assert.deepEqual(singleColor(solid(3, 1, [0, 0, 0, 0])), [0, 0, 0, 0]);
  const lastDiffers = makeRaw(256, 256, (x, y) => (x === 255 && y === 255 ? [10, 20, 31, 255] : [10, 20, 30, 255]));
  assert.equal(singleColor(lastDiffers), null);
  const alphaDiffers = makeRaw(4, 4, (x) => (x === 2 ? [10, 20, 30, 254] : [10, 20, 30, 255]));
  assert.equal(singleColor(alphaDiffers), null);
});
