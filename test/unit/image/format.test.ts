import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import {
  extensionForMime,
  mimeFromMagic,
  parseImageFormat,
  tryParseImageFormat,
  UnknownImageFormatError,
} from '../../../src/image/index.js';

test('MapProxy format names resolve to mime, extension and content type', () => {
  const cases: Array<[string, string, string, string]> = [
    ['image/png', 'image/png', 'png', 'image/png'],
    ['png', 'image/png', 'png', 'image/png'],
    // MapProxy answers `image/png; mode=8bit` requests with that Content-Type (test_wms.py).
    ['image/png; mode=8bit', 'image/png', 'png', 'image/png; mode=8bit'],
    // MapProxy: the extension is the subtype as written (a png8a cache stores `.png8a` files);
    // the encoder treats every png* name as PNG (REFERENCE §5).
    ['png8', 'image/png', 'png8', 'image/png'],
    ['png24', 'image/png', 'png24', 'image/png'],
    ['png8a', 'image/png', 'png8a', 'image/png'],
    ['jpeg', 'image/jpeg', 'jpeg', 'image/jpeg'],
    ['image/jpeg', 'image/jpeg', 'jpeg', 'image/jpeg'],
    ['image/jpg', 'image/jpeg', 'jpg', 'image/jpg'],
    ['gif', 'image/gif', 'gif', 'image/gif'],
    ['tiff', 'image/tiff', 'tiff', 'image/tiff'],
    ['image/GeoTIFF', 'image/tiff', 'GeoTIFF', 'image/GeoTIFF'],
    ['image/webp', 'image/webp', 'webp', 'image/webp'],
    ['mixed', 'mixed', 'mixed', 'image/png'],
    ['  IMAGE/PNG ', 'image/png', 'PNG', 'IMAGE/PNG'],
  ];
  for (const [name, mime, extension, contentType] of cases) {
    const f = parseImageFormat(name);
    assert.deepEqual({ mime: f.mime, extension: f.extension, contentType: f.contentType }, { mime, extension, contentType }, name);
  }
});

test('unknown format names: null from tryParseImageFormat, UnknownImageFormatError from parseImageFormat', () => {
  for (const name of ['image/bmp', 'svg', '', 'image/', 'text/html']) {
    assert.equal(tryParseImageFormat(name), null, name);
  }
  assert.throws(() => parseImageFormat('image/bmp'), (err: unknown) => {
    assert.ok(err instanceof UnknownImageFormatError);
    assert.equal(err.code, 'MPX_ERR_IMAGE_FORMAT');
    assert.equal(err.status, 400);
    assert.equal(err.ogcCode, 'InvalidFormat');
    assert.equal(err.message, 'unknown image format "image/bmp" (known: png, jpeg, gif, tiff, webp, mixed and png variants like png8)');
    return true;
  });
});

test('extensionForMime gives the usual extension', () => {
  assert.equal(extensionForMime('image/png'), 'png');
  assert.equal(extensionForMime('image/jpeg'), 'jpeg');
  assert.equal(extensionForMime('image/jpg'), 'jpeg');
  assert.equal(extensionForMime('image/GeoTIFF'), 'tiff');
  assert.equal(extensionForMime('image/gif'), 'gif');
  assert.equal(extensionForMime('mixed'), 'mixed');
  assert.equal(extensionForMime('text/html'), null);
});

test('mimeFromMagic recognises PNG, JPEG, GIF, TIFF and WebP bytes and nothing else', async () => {
  const img = sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } });
  assert.equal(mimeFromMagic(await img.clone().png().toBuffer()), 'image/png');
  assert.equal(mimeFromMagic(await img.clone().jpeg().toBuffer()), 'image/jpeg');
  assert.equal(mimeFromMagic(await img.clone().gif().toBuffer()), 'image/gif');
  assert.equal(mimeFromMagic(await img.clone().tiff().toBuffer()), 'image/tiff');
  assert.equal(mimeFromMagic(Buffer.from('MM\x00\x2a\x00\x00\x00\x08', 'latin1')), 'image/tiff');
  assert.equal(mimeFromMagic(await img.clone().webp().toBuffer()), 'image/webp');
  assert.equal(mimeFromMagic(Buffer.from('<html><body>Service unavailable</body></html>')), null);
  assert.equal(mimeFromMagic(Buffer.alloc(0)), null);
  assert.equal(mimeFromMagic(Buffer.from([0x89, 0x50, 0x4e])), null);
});
