import { test } from 'node:test';
import assert from 'node:assert/strict';
import { debugImage, debugLines, decodeImage, encodedMime, textImage } from '../../../src/image/index.js';
import { px } from './helpers.js';

test('debugImage: a transparent PNG of the size with a border and the text lines', async () => {
  const lines = debugLines([-20037508.342789244, 0, 0, 20037508.342789244], [256, 256]);
  const png = await debugImage([256, 256], lines);
  assert.equal(encodedMime(png), 'image/png');
  const img = await decodeImage(png);
  assert.equal(img.width, 256);
  assert.equal(img.height, 256);
  for (const [x, y] of [[0, 0], [255, 0], [0, 255], [255, 255], [128, 0], [0, 128]]) {
    assert.deepEqual(px(img, x, y), [0, 0, 0, 255], `border at ${x},${y}`);
  }
  assert.equal(px(img, 128, 200)[3], 0);
  let ink = 0;
  for (let y = 2; y < 40; y++) for (let x = 2; x < 250; x++) if (px(img, x, y)[3] > 0) ink++;
  assert.ok(ink > 100, `text pixels: ${ink}`);
  const blank = await decodeImage(await debugImage([256, 256], []));
  let none = 0;
  for (let y = 2; y < 40; y++) for (let x = 2; x < 250; x++) if (px(blank, x, y)[3] > 0) none++;
  assert.equal(none, 0);
});

test('debugLines writes the bbox and resolution as MapProxy\'s debug source does', () => {
  // MapProxy: "bbox: %r\nres: %.8f(%.8f)" with the bbox as a tuple of Python floats.
  assert.deepEqual(debugLines([-20037508.342789244, 0, 0, 20037508.342789244], [256, 256]), [
    'bbox: (-20037508.342789244, 0.0, 0.0, 20037508.342789244)',
    'res: 78271.51696402(78271.51696402)',
  ]);
});

test('textImage draws on the given background; markup in the text is drawn, not parsed', async () => {
  const img = await textImage([100, 30], ['<b>&"x"</b>'], { background: [255, 255, 255, 255], color: [255, 0, 0, 255] });
  assert.deepEqual(px(img, 99, 29), [255, 255, 255, 255]);
  let red = 0;
  for (let y = 0; y < 30; y++) for (let x = 0; x < 100; x++) {
    const [r, g, b] = px(img, x, y);
    if (r > 200 && g < 80 && b < 80) red++;
  }
  assert.ok(red > 20, `red pixels: ${red}`);
});
