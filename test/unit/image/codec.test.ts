import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ImageDecodeError } from '../../../src/errors.js';
import {
  decodeImage,
  encodedMime,
  encodeImage,
  encodeImageWithMime,
  quantize,
  UnknownImageFormatError,
  type ImageOptions,
  type RawImage,
} from '../../../src/image/index.js';
import { quantizeAsync } from '../../../src/image/quantize.js';
import { makeRaw, PNG, pngInfo, px } from './helpers.js';

const FULL: ImageOptions = { ...PNG, colors: 0, transparent: true };

/** 64 colours, some of them partly or fully transparent (fully transparent ones are black). */
function fewColours(): RawImage {
  return makeRaw(40, 30, (x, y) => {
    const a = [255, 255, 128, 0][(x + y) % 4];
    return a === 0 ? [0, 0, 0, 0] : [(x % 4) * 60, (y % 4) * 60, ((x + y) % 4) * 60, a];
  });
}

function gradient(): RawImage {
  return makeRaw(256, 128, (x, y) => [x, y * 2, (x + y) & 255, 255]);
}

function meanAbsDiff(a: RawImage, b: RawImage): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.data.length, max };
}

test('full-colour PNG round trip keeps every pixel, alpha included (colors: 0)', async () => {
  const raw = makeRaw(50, 40, (x, y) => [x * 5, y * 6, (x * y) & 255, (x * 7 + y) & 255]);
  const png = await encodeImage(raw, FULL);
  const info = pngInfo(png);
  assert.equal(info.colorType, 6);
  assert.equal(info.bitDepth, 8);
  const back = await decodeImage(png);
  assert.equal(back.width, 50);
  assert.equal(back.height, 40);
  assert.ok(back.data.equals(raw.data));
});

test('opaque full-colour PNG is RGB and flattened on bgcolor', async () => {
  const raw = makeRaw(8, 8, (x) => (x < 4 ? [0, 0, 0, 0] : [10, 20, 30, 255]));
  const png = await encodeImage(raw, { ...PNG, colors: 0, bgcolor: [200, 100, 50] });
  assert.equal(pngInfo(png).colorType, 2);
  const back = await decodeImage(png);
  assert.deepEqual(px(back, 0, 0), [200, 100, 50, 255]);
  assert.deepEqual(px(back, 7, 7), [10, 20, 30, 255]);
});

test('paletted PNG (MapProxy default: 256 colours) keeps an image of few colours exactly', async () => {
  const raw = fewColours();
  const png = await encodeImage(raw, { ...PNG, transparent: true });
  const info = pngInfo(png);
  assert.equal(info.colorType, 3);
  assert.ok(info.chunks.has('tRNS'));
  const back = await decodeImage(png);
  assert.ok(back.data.equals(raw.data));
});

test('paletted PNG of a many-coloured image: at most 256 entries, small error, opaque stays opaque', async () => {
  const raw = gradient();
  const png = await encodeImage(raw, PNG);
  const info = pngInfo(png);
  assert.equal(info.colorType, 3);
  assert.equal(info.bitDepth, 8);
  assert.ok(info.chunks.get('PLTE')!.length <= 256 * 3);
  assert.equal(info.chunks.has('tRNS'), false);
  const back = await decodeImage(png);
  // Pillow's fastoctree (MapProxy's quantiser) errs by 6.5 on average (max 40) on this image.
  const { mean, max } = meanAbsDiff(raw, back);
  assert.ok(mean < 4, `mean error ${mean}`);
  assert.ok(max <= 24, `max error ${max}`);
  for (let i = 3; i < back.data.length; i += 4) assert.equal(back.data[i], 255);
});

test('paletted PNG with alpha: opaque pixels stay opaque, transparent ones transparent', async () => {
  const raw = makeRaw(256, 64, (x, y) => (x < 32 ? [0, 0, 0, 0] : x < 64 ? [x, y, 9, 100] : [x, y * 4, 99, 255]));
  const back = await decodeImage(await encodeImage(raw, { ...PNG, transparent: true }));
  for (let y = 0; y < 64; y++) {
    assert.equal(px(back, 5, y)[3], 0);
    assert.ok(Math.abs(px(back, 40, y)[3] - 100) <= 16);
    assert.equal(px(back, 200, y)[3], 255);
  }
});

test('large images are quantised in slices with the same result', async () => {
  const many = makeRaw(640, 480, (x, y) => [x & 255, y & 255, (x ^ y) & 255, x % 3 ? 255 : 120]);
  const few = makeRaw(640, 480, (x, y) => [(x >> 6) * 20, (y >> 6) * 30, 0, 255]);
  for (const raw of [many, few]) {
    const sync = quantize(raw.data, 640 * 480, 256, true);
    const sliced = await quantizeAsync(raw.data, 640 * 480, 256, true);
    assert.equal(sliced.count, sync.count);
    assert.deepEqual(sliced.palette, sync.palette);
    assert.deepEqual(sliced.indices, sync.indices);
  }
  const back = await decodeImage(await encodeImage(few, PNG));
  assert.ok(back.data.equals(few.data));
});

test('paletted PNG bit depth follows the palette size (as Pillow writes it)', async () => {
  const two = makeRaw(9, 3, (x) => (x % 2 ? [255, 0, 0, 255] : [0, 0, 255, 255]));
  const twoPng = await encodeImage(two, PNG);
  assert.equal(pngInfo(twoPng).bitDepth, 1);
  assert.ok((await decodeImage(twoPng)).data.equals(two.data));
  const sixteen = makeRaw(13, 5, (x, y) => [((x + y) % 16) * 16, 0, 0, 255]);
  const png16 = await encodeImage(sixteen, PNG);
  assert.equal(pngInfo(png16).bitDepth, 4);
  assert.ok((await decodeImage(png16)).data.equals(sixteen.data));
  const reduced = await encodeImage(gradient(), { ...PNG, colors: 16 });
  assert.equal(pngInfo(reduced).bitDepth, 4);
  assert.ok(pngInfo(reduced).chunks.get('PLTE')!.length <= 16 * 3);
});

test('paletted opaque PNG flattens transparency on bgcolor and writes no tRNS', async () => {
  const raw = makeRaw(4, 4, (x) => (x < 2 ? [0, 0, 0, 0] : [0, 0, 0, 255]));
  const png = await encodeImage(raw, { ...PNG, bgcolor: [0, 255, 0] });
  assert.equal(pngInfo(png).colorType, 3);
  assert.equal(pngInfo(png).chunks.has('tRNS'), false);
  const back = await decodeImage(png);
  assert.deepEqual(px(back, 0, 0), [0, 255, 0, 255]);
  assert.deepEqual(px(back, 3, 3), [0, 0, 0, 255]);
});

test('mode P without colours quantises to 256; mode RGBA with colours still quantises (MapProxy)', async () => {
  assert.equal(pngInfo(await encodeImage(gradient(), { ...PNG, colors: 0, mode: 'P' })).colorType, 3);
  assert.equal(pngInfo(await encodeImage(gradient(), { ...PNG, mode: 'RGBA' })).colorType, 3);
  assert.equal(pngInfo(await encodeImage(gradient(), { ...PNG, colors: 0, mode: 'RGBA' })).colorType, 6);
  assert.equal(pngInfo(await encodeImage(gradient(), { ...PNG, colors: 0, mode: 'RGB', transparent: true })).colorType, 2);
  assert.equal(pngInfo(await encodeImage(gradient(), { ...PNG, mode: 'L' })).colorType, 0);
});

test('JPEG: pixels within tolerance, quality changes the size, transparency flattened on bgcolor', async () => {
  const raw = makeRaw(64, 64, (x, y) => [x * 4, y * 4, 128, 255]);
  const jpeg = await encodeImage(raw, { ...PNG, format: 'image/jpeg' });
  assert.equal(encodedMime(jpeg), 'image/jpeg');
  const { mean } = meanAbsDiff(raw, await decodeImage(jpeg));
  assert.ok(mean < 2, `mean error ${mean}`);
  const low = await encodeImage(gradient(), { ...PNG, format: 'image/jpeg', jpegQuality: 20 });
  const high = await encodeImage(gradient(), { ...PNG, format: 'image/jpeg', jpegQuality: 95 });
  assert.ok(low.length < high.length * 0.7, `${low.length} vs ${high.length}`);
  const clear = makeRaw(16, 16, () => [0, 0, 0, 0]);
  const red = await decodeImage(await encodeImage(clear, { ...PNG, format: 'jpeg', transparent: true, bgcolor: [255, 0, 0] }));
  const [r, g, b, a] = px(red, 8, 8);
  assert.ok(r > 250 && g < 5 && b < 5 && a === 255, `${[r, g, b, a]}`);
});

test('mixed: JPEG for an opaque image, PNG as soon as one pixel has alpha < 255', async () => {
  const opaque = makeRaw(16, 16, (x, y) => [x * 16, y * 16, 0, 255]);
  const one = makeRaw(16, 16, (x, y) => [x * 16, y * 16, 0, x === 15 && y === 15 ? 254 : 255]);
  const mixed = { ...PNG, format: 'mixed' };
  const j = await encodeImageWithMime(opaque, mixed);
  assert.equal(j.mime, 'image/jpeg');
  assert.equal(encodedMime(j.data), 'image/jpeg');
  const p = await encodeImageWithMime(one, mixed);
  assert.equal(p.mime, 'image/png');
  assert.deepEqual(px(await decodeImage(p.data), 15, 15), [240, 240, 0, 254]);
});

test('GIF keeps a palette image exactly, with on/off transparency', async () => {
  const raw = makeRaw(20, 10, (x, y) => (x < 5 ? [0, 0, 0, 0] : [(x % 5) * 50, y * 20, 7, 255]));
  const gif = await encodeImage(raw, { ...PNG, format: 'image/gif', transparent: true });
  assert.equal(encodedMime(gif), 'image/gif');
  const back = await decodeImage(gif);
  assert.equal(px(back, 0, 0)[3], 0);
  for (let y = 0; y < 10; y++) for (let x = 5; x < 20; x++) assert.deepEqual(px(back, x, y), px(raw, x, y));
});

test('GIF of a many-coloured image decodes to the same pixels as the paletted PNG (LZW table resets)', async () => {
  const raw = makeRaw(300, 200, (x, y) => [x & 255, (y * 3) & 255, (x * y) & 255, 255]);
  const gif = await decodeImage(await encodeImage(raw, { ...PNG, format: 'image/gif' }));
  const png = await decodeImage(await encodeImage(raw, PNG));
  assert.ok(gif.data.equals(png.data));
});

test('TIFF round trips exactly, raw and LZW, and carries GeoTIFF tags when georeferenced', async () => {
  const raw = makeRaw(30, 20, (x, y) => [x * 8, y * 12, 77, 255]);
  for (const tiffCompression of ['raw', 'tiff_lzw'] as const) {
    const tiff = await encodeImage(raw, { ...PNG, format: 'image/tiff', tiffCompression });
    assert.equal(encodedMime(tiff), 'image/tiff');
    assert.ok((await decodeImage(tiff)).data.equals(raw.data), tiffCompression);
  }
  const georef = { bbox: [8, 50, 11, 52] as const, srs: { code: 'EPSG:4326', isLatLong: true } };
  const geo = await encodeImage(raw, { ...PNG, format: 'image/GeoTIFF' }, { georef });
  assert.ok((await decodeImage(geo)).data.equals(raw.data));
  const tags = readTiffTags(geo);
  assert.deepEqual(tags.get(33550), [0.1, 0.1, 0]);
  assert.deepEqual(tags.get(33922), [0, 0, 0, 8, 52, 0]);
  assert.deepEqual(tags.get(34735), [1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]);
  assert.deepEqual(tags.get(256), [30]);
});

test('WebP and greyscale output', async () => {
  const raw = makeRaw(16, 16, (x, y) => [x * 16, y * 16, 0, 255]);
  assert.equal(encodedMime(await encodeImage(raw, { ...PNG, format: 'image/webp' })), 'image/webp');
  const grey = await decodeImage(await encodeImage(raw, { ...PNG, format: 'image/png', mode: 'L', colors: 0 }));
  const [r, g, b] = px(grey, 15, 15);
  assert.equal(r, g);
  assert.equal(g, b);
});

test('encoding to an unknown format throws UnknownImageFormatError', async () => {
  await assert.rejects(encodeImage(gradient(), { ...PNG, format: 'image/bmp' }), UnknownImageFormatError);
});

test('decoding greyscale, grey+alpha and 16-bit PNGs gives 8-bit RGBA', async () => {
  const grey = await sharp(Buffer.alloc(12, 0x40), { raw: { width: 4, height: 3, channels: 1 } }).png().toBuffer();
  assert.deepEqual(px(await decodeImage(grey), 3, 2), [0x40, 0x40, 0x40, 255]);
  const greyA = await sharp(Buffer.from([10, 20, 30, 40]), { raw: { width: 2, height: 1, channels: 2 } }).png().toBuffer();
  assert.deepEqual(px(await decodeImage(greyA), 1, 0), [30, 30, 30, 40]);
  const deep = await sharp({ create: { width: 2, height: 2, channels: 3, background: { r: 200, g: 100, b: 50 } } })
    .toColourspace('rgb16').png().toBuffer();
  assert.equal(pngInfo(deep).bitDepth, 16);
  const d = await decodeImage(deep);
  assert.equal(d.data.length, 16);
  assert.deepEqual(px(d, 1, 1), [200, 100, 50, 255]);
});

test('a PNG cut in half is an ImageDecodeError (libvips would accept it silently)', async () => {
  const png = await encodeImage(gradient(), FULL);
  const half = png.subarray(0, png.length >> 1);
  await assert.rejects(decodeImage(half), (err: unknown) => {
    assert.ok(err instanceof ImageDecodeError);
    assert.equal(err.code, 'MPX_ERR_IMAGE_DECODE');
    assert.equal(err.status, 500);
    assert.match(err.message, new RegExp(`^cannot decode image/png \\(${half.length} bytes\\): \\S`));
    return true;
  });
  const jpeg = await encodeImage(gradient(), { ...PNG, format: 'image/jpeg' });
  await assert.rejects(decodeImage(jpeg.subarray(0, jpeg.length >> 1)), {
    name: 'ImageDecodeError',
    code: 'MPX_ERR_IMAGE_DECODE',
    message: `cannot decode image/jpeg (${jpeg.length >> 1} bytes): VipsJpeg: premature end of JPEG image`,
  });
});

test('an HTML page or an empty body is an ImageDecodeError naming what came', async () => {
  const html = Buffer.from('<html><body>Service unavailable</body></html>');
  await assert.rejects(decodeImage(html), {
    name: 'ImageDecodeError',
    code: 'MPX_ERR_IMAGE_DECODE',
    message: 'cannot decode image: not an image (45 bytes starting with "<html><body>Service unavailable</body></")',
  });
  await assert.rejects(decodeImage(Buffer.alloc(0)), {
    name: 'ImageDecodeError',
    code: 'MPX_ERR_IMAGE_DECODE',
    message: 'cannot decode image: the data is empty',
  });
  const garbage = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]);
  await assert.rejects(decodeImage(garbage), { name: 'ImageDecodeError', code: 'MPX_ERR_IMAGE_DECODE' });
});

/** Tag → values of the first IFD of a little-endian TIFF (SHORT, LONG and DOUBLE only). */
function readTiffTags(buf: Buffer): Map<number, number[]> {
  assert.equal(buf.toString('latin1', 0, 2), 'II');
  const tags = new Map<number, number[]>();
  const ifd = buf.readUInt32LE(4);
  const n = buf.readUInt16LE(ifd);
  let last = 0;
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    const tag = buf.readUInt16LE(e);
    assert.ok(tag > last, 'IFD entries sorted by tag');
    last = tag;
    const type = buf.readUInt16LE(e + 2);
    const count = buf.readUInt32LE(e + 4);
    const size = type === 3 ? 2 : type === 4 ? 4 : type === 12 ? 8 : 0;
    if (!size) continue;
    const at = size * count <= 4 ? e + 8 : buf.readUInt32LE(e + 8);
    const vals: number[] = [];
    for (let k = 0; k < count; k++) {
      const o = at + k * size;
      vals.push(type === 3 ? buf.readUInt16LE(o) : type === 4 ? buf.readUInt32LE(o) : buf.readDoubleLE(o));
    }
    tags.set(tag, vals);
  }
  return tags;
}
