import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blankImage,
  compositeOnto,
  decodeImage,
  encodedMime,
  mergeImages,
  solidImage,
  solidRaw,
  transparentColor,
} from '../../../src/image/index.js';
import { makeRaw, PNG, pngInfo, px } from './helpers.js';

const CLEAR = { bgcolor: [255, 255, 255] as const, transparent: true };
const WHITE = { bgcolor: [255, 255, 255] as const, transparent: false };

test('layers are alpha-composited bottom to top with the exact values MapProxy gets', async () => {
  // Expected values computed with Pillow 9.4 (Image.alpha_composite, and ImageChops.multiply for
  // opacity), which is what MapProxy's LayerMerger runs.
  const red = solidRaw([2, 2], [255, 0, 0, 255]);
  const blue = solidRaw([2, 2], [0, 0, 255, 255]);
  const r1 = await mergeImages([{ image: red }, { image: blue, opacity: 0.5 }], [2, 2], CLEAR);
  assert.deepEqual(px(r1, 1, 1), [128, 0, 127, 255]);

  const a = solidRaw([1, 1], [200, 100, 50, 128]);
  const b = solidRaw([1, 1], [10, 20, 30, 77]);
  assert.deepEqual(px(await mergeImages([{ image: a }, { image: b }], [1, 1], CLEAR), 0, 0), [112, 63, 41, 166]);
  const c = solidRaw([1, 1], [10, 20, 30, 200]);
  assert.deepEqual(px(await mergeImages([{ image: a }, { image: c, opacity: 0.7 }], [1, 1], CLEAR), 0, 0), [66, 44, 36, 197]);

  const grey = solidRaw([1, 1], [0, 0, 0, 128]);
  assert.deepEqual(px(await mergeImages([{ image: grey }], [1, 1], WHITE), 0, 0), [127, 127, 127, 255]);
  // An opaque canvas composites too (MapProxy blends RGB canvases with Image.blend, ignoring the
  // layer's alpha, which turns its transparent parts black).
  const sky = solidRaw([1, 1], [0, 128, 255, 255]);
  assert.deepEqual(px(await mergeImages([{ image: sky, opacity: 0.3 }], [1, 1], WHITE), 0, 0), [179, 217, 255, 255]);
});

test('an opaque layer hides what is below; transparent pixels let it through', async () => {
  const bottom = solidRaw([4, 4], [0, 255, 0, 255]);
  const top = makeRaw(4, 4, (x) => (x < 2 ? [0, 0, 0, 0] : [9, 9, 9, 255]));
  const out = await mergeImages([{ image: bottom }, { image: top }], [4, 4], WHITE);
  assert.deepEqual(px(out, 0, 3), [0, 255, 0, 255]);
  assert.deepEqual(px(out, 3, 3), [9, 9, 9, 255]);
});

test('a single opaque layer of the right size passes through; others get a canvas', async () => {
  const opaque = solidRaw([8, 8], [1, 2, 3, 255]);
  assert.equal(await mergeImages([{ image: opaque }], [8, 8], WHITE), opaque);
  assert.notEqual(await mergeImages([{ image: opaque }], [9, 8], WHITE), opaque);
  assert.notEqual(await mergeImages([{ image: opaque, opacity: 0.5 }], [8, 8], CLEAR), opaque);
  const clear = solidRaw([8, 8], [1, 2, 3, 0]);
  // MapProxy: a transparent layer passes through when the output is transparent...
  assert.equal(await mergeImages([{ image: clear }], [8, 8], CLEAR), clear);
  // ...and lands on the background when it is not.
  const flat = await mergeImages([{ image: clear }], [8, 8], { bgcolor: [50, 60, 70], transparent: false });
  assert.deepEqual(px(flat, 4, 4), [50, 60, 70, 255]);
});

test('a large canvas is composited in slices with the same result', async () => {
  const bottom = makeRaw(700, 400, (x, y) => [x & 255, y & 255, 9, (x + y) & 255]);
  const top = makeRaw(700, 400, (x, y) => [y & 255, 7, x & 255, (x * 3) & 255]);
  const out = await mergeImages([{ image: bottom }, { image: top, opacity: 0.6 }], [700, 400], CLEAR);
  const once = solidRaw([700, 400], [255, 255, 255, 0]);
  compositeOnto(once, bottom);
  compositeOnto(once, top, 0.6);
  assert.ok(out.data.equals(once.data));
});

test('no layers give the background; smaller layers are composited at the top left', async () => {
  const none = await mergeImages([], [3, 2], { bgcolor: [10, 20, 30], transparent: true });
  assert.equal(none.width, 3);
  assert.deepEqual(px(none, 2, 1), [10, 20, 30, 0]);
  const small = solidRaw([2, 2], [5, 5, 5, 255]);
  const out = await mergeImages([{ image: small }, { image: solidRaw([1, 1], [7, 7, 7, 255]) }], [4, 4], WHITE);
  assert.deepEqual(px(out, 0, 0), [7, 7, 7, 255]);
  assert.deepEqual(px(out, 1, 1), [5, 5, 5, 255]);
  assert.deepEqual(px(out, 2, 2), [255, 255, 255, 255]);
});

test('blankImage: a transparent PNG when transparent, else the bgcolor in the format; memoised', async () => {
  const t = await blankImage([256, 256], { ...PNG, transparent: true, format: 'image/jpeg' });
  assert.equal(encodedMime(t), 'image/png');
  assert.equal(pngInfo(t).colorType, 3);
  const td = await decodeImage(t);
  assert.equal(td.width, 256);
  assert.equal(px(td, 100, 100)[3], 0);
  assert.equal(await blankImage([256, 256], { ...PNG, transparent: true, format: 'image/jpeg' }), t);

  const j = await blankImage([64, 32], { ...PNG, format: 'image/jpeg', bgcolor: [0, 0, 255] });
  assert.equal(encodedMime(j), 'image/jpeg');
  const [r, g, b, a] = px(await decodeImage(j), 10, 10);
  assert.ok(r < 3 && g < 3 && b > 252 && a === 255, `${[r, g, b, a]}`);
  const p = await decodeImage(await blankImage([5, 5], { ...PNG, bgcolor: [12, 34, 56] }));
  assert.deepEqual(px(p, 4, 4), [12, 34, 56, 255]);
});

test('solidImage gives the pixels and their encoding (on_error response colours)', async () => {
  const s = await solidImage([16, 16], [255, 0, 0, 128], { ...PNG, transparent: true });
  assert.equal(s.mime, 'image/png');
  assert.deepEqual(px(s.raw, 0, 0), [255, 0, 0, 128]);
  assert.deepEqual(px(await decodeImage(s.data), 15, 15), [255, 0, 0, 128]);
  const mixed = await solidImage([16, 16], [0, 255, 0, 255], { ...PNG, format: 'mixed' });
  assert.equal(mixed.mime, 'image/jpeg');
});

test('transparentColor clears pixels within the tolerance (default 5) and keeps the others', () => {
  const raw = makeRaw(5, 1, (x) => [
    [255, 255, 255, 255],
    [250, 250, 250, 255],
    [249, 255, 255, 255],
    [253, 251, 255, 200],
    [0, 0, 0, 100],
  ][x]);
  const out = transparentColor(raw, [255, 255, 255]);
  assert.deepEqual([0, 1, 2, 3, 4].map((x) => px(out, x, 0)[3]), [0, 0, 255, 0, 100]);
  assert.deepEqual(px(out, 2, 0), [249, 255, 255, 255]);
  assert.equal(px(raw, 0, 0)[3], 255, 'input untouched');
  const strict = transparentColor(raw, [250, 250, 250], 0);
  assert.deepEqual([0, 1, 2, 3, 4].map((x) => px(strict, x, 0)[3]), [255, 0, 255, 200, 100]);
});
