/**
 * End to end, tile formats: a JPEG cache fed by a PNG upstream (`request_format`), `format: mixed`
 * (`.mixed` files: JPEG for opaque tiles, PNG for tiles with transparency, served with the content
 * type of their bytes), paletted PNG by default versus `image.colors: 0` and
 * `globals.image.paletted: false` (the IHDR colour type), and jpeg_quality (the JPEG quantiser).
 * Expected values were checked against MapProxy 1.15 on the same upstream.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  META_9_170_211_BBOX, alphaColor, expectedColor, expectedLumaDcQuant, getMapQuery, jpegLumaDcQuant, listTree,
  metaTiles, pixels, pngColorType, startAlphaWms, startPipeline, tcPath, tilePixelCenter, type AlphaWms, type Pipeline,
} from './pipeline-helpers.js';

let p: Pipeline;
let alpha: AlphaWms;

const cache = (name: string, body: string): string => `  c_${name}: {grids: [GLOBAL_WEBMERCATOR], ${body}}\n`;
const layer = (name: string): string => `  - {name: ${name}, title: ${name}, sources: [c_${name}]}\n`;
const NAMES = ['jpeg', 'jpegreq', 'q10', 'mixed', 'pal', 'rgb', 'rgba'];

before(async () => {
  alpha = await startAlphaWms();
  p = await startPipeline((url) => `
services:
  tms:
  wmts:
layers:
${NAMES.map(layer).join('')}caches:
${cache('jpeg', 'sources: [up], format: image/jpeg, request_format: image/png')}\
${cache('jpegreq', 'sources: [up], format: image/jpeg')}\
${cache('q10', 'sources: [up], format: image/jpeg, request_format: image/png, image: {encoding_options: {jpeg_quality: 10}}')}\
${cache('mixed', 'sources: [alpha], format: mixed, request_format: image/png')}\
${cache('pal', 'sources: [up]')}\
${cache('rgb', 'sources: [up], image: {colors: 0}')}\
${cache('rgba', 'sources: [alpha], image: {colors: 0}')}\
sources:
  up:
    type: wms
    req: {url: '${url}/wms?', layers: base}
  alpha:
    type: wms
    req: {url: '${alpha.url}/wms?', layers: top, transparent: true}
globals:
  cache: {base_dir: ./cache}
`);
});
after(async () => {
  await p?.close();
  await alpha?.close();
});
beforeEach(() => p.up.reset());

const dirOf = (name: string): string => join(p.dir, 'cache', `c_${name}_EPSG3857`);

test('format image/jpeg from a PNG upstream: .jpeg files, image/jpeg answers, quality 90', async () => {
  const res = await p.get('/wmts/jpeg/GLOBAL_WEBMERCATOR/09/170/211.jpeg');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/jpeg');
  assert.equal(p.up.count(), 1);
  assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184, { format: 'image/png' }), 'request_format is asked');
  assert.deepEqual(await listTree(dirOf('jpeg')), metaTiles(170, 211, 9).map((t) => tcPath(...t, 'jpeg')).sort());
  assert.ok(res.body.equals(await readFile(join(dirOf('jpeg'), tcPath(170, 211, 9, 'jpeg')))));
  assert.equal(res.body.readUInt16BE(0), 0xffd8, 'JPEG bytes');
  // MapProxy: globals.image.jpeg_quality defaults to 90 (libjpeg DC quantiser 3, as MapProxy's tiles have).
  assert.equal(jpegLumaDcQuant(res.body), expectedLumaDcQuant(90));
  assert.equal(expectedLumaDcQuant(90), 3);
  const img = await pixels(res.body);
  const want = expectedColor(...tilePixelCenter(170, 211, 9, 128, 128));
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(img.at(128, 128)[c] - want[c]) <= 3, `JPEG channel ${c} near ${want[c]}`);
  const tms = await p.get('/tms/1.0.0/jpeg/EPSG3857/8/170/300.jpeg');
  assert.equal(tms.headers.get('content-type'), 'image/jpeg');
  assert.ok(tms.body.equals(res.body));
  const wrong = await p.get('/wmts/jpeg/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(wrong.status, 400, 'the layer has no PNG tiles');
});

test('without request_format a JPEG cache asks the upstream for JPEG (MapProxy)', async () => {
  const res = await p.get('/wmts/jpegreq/GLOBAL_WEBMERCATOR/09/170/211.jpeg');
  assert.equal(res.status, 200);
  assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184, { format: 'image/jpeg' }));
  assert.equal(res.headers.get('content-type'), 'image/jpeg');
  assert.equal((await listTree(dirOf('jpegreq'))).length, 16);
});

test('image.encoding_options.jpeg_quality: 10 writes quality-10 JPEGs', async () => {
  const res = await p.get('/wmts/q10/GLOBAL_WEBMERCATOR/05/10/10.jpeg');
  assert.equal(res.status, 200);
  // MapProxy 1.15 on the same upstream: DC quantiser 80.
  assert.equal(jpegLumaDcQuant(res.body), 80);
  assert.equal(expectedLumaDcQuant(10), 80);
});

test('format mixed: .mixed files, JPEG where a tile is opaque, PNG where it has transparency', async () => {
  const res = await p.get('/wmts/mixed/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(res.status, 200);
  assert.equal(alpha.queries.at(-1), getMapQuery(META_9_170_211_BBOX, 1184, 1184, { layers: 'top', transparent: true }));
  const tiles = metaTiles(170, 211, 9);
  assert.deepEqual(await listTree(dirOf('mixed')), tiles.map((t) => tcPath(...t, 'mixed')).sort());
  const kinds = new Set<string>();
  for (const [x, y, z] of tiles) {
    // The alpha WMS draws vertical bands: a tile is opaque when every column is.
    let opaque = true;
    for (let px = 0; px < 256; px++) if (alphaColor(tilePixelCenter(x, y, z, px, 0)[0])[3] !== 255) opaque = false;
    const want = opaque ? 'image/jpeg' : 'image/png';
    kinds.add(want);
    const r = await p.get(`/wmts/mixed/GLOBAL_WEBMERCATOR/09/${x}/${y}.png`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), want, `tile ${x}/${y}: content type by magic`);
    const file = await readFile(join(dirOf('mixed'), tcPath(x, y, z, 'mixed')));
    assert.ok(r.body.equals(file), `tile ${x}/${y} = its .mixed file`);
    assert.equal(file.subarray(0, 2).toString('hex'), opaque ? 'ffd8' : '8950', `tile ${x}/${y} bytes`);
    if (!opaque) {
      const img = await pixels(file);
      for (const px of [0, 100, 255]) {
        const want = alphaColor(tilePixelCenter(x, y, z, px, 7)[0]);
        if (want[3] === 0) assert.equal(img.at(px, 7)[3], 0, `tile ${x}/${y} px ${px} transparent`);
        else assert.deepEqual(img.at(px, 7), want, `tile ${x}/${y} px ${px}`);
      }
    }
  }
  assert.deepEqual([...kinds].sort(), ['image/jpeg', 'image/png'], 'the meta tile holds both kinds');
  assert.equal(alpha.queries.length, 1);
});

test('PNG is paletted by default; image.colors: 0 writes full colour (RGB, or RGBA when transparent)', async () => {
  for (const [name, colorType] of [['pal', 3], ['rgb', 2], ['rgba', 6]] as const) {
    const res = await p.get(`/wmts/${name}/GLOBAL_WEBMERCATOR/05/10/10.png`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(pngColorType(res.body), colorType, `${name}: IHDR colour type`);
    assert.ok(res.body.equals(await readFile(join(dirOf(name), tcPath(10, 10, 5)))));
    const img = await pixels(res.body);
    for (const [px, py] of [[3, 3], [128, 200], [250, 40]]) {
      const [mx, my] = tilePixelCenter(10, 10, 5, px, py);
      const want = name === 'rgba' ? alphaColor(mx) : [...expectedColor(mx, my), 255];
      const got = img.at(px, py);
      if (want[3] === 0) assert.equal(got[3], 0, `${name} ${px},${py} transparent`);
      else assert.deepEqual(got, want, `${name} ${px},${py}: the colours survive the palette`);
    }
  }
});

test('globals.image.paletted: false and globals.image.jpeg_quality apply to every cache', async () => {
  const g = await startPipeline((url) => `
services:
  wmts:
layers:
  - {name: png, title: png, sources: [c_png]}
  - {name: jpg, title: jpg, sources: [c_jpg]}
caches:
  c_png: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}
  c_jpg: {grids: [GLOBAL_WEBMERCATOR], sources: [up], format: image/jpeg}
sources:
  up:
    type: wms
    req: {url: '${url}/wms?', layers: base}
globals:
  cache: {base_dir: ./cache}
  image: {paletted: false, jpeg_quality: 50}
`, p.up);
  try {
    const png = await g.get('/wmts/png/GLOBAL_WEBMERCATOR/05/10/10.png');
    assert.equal(png.status, 200);
    assert.equal(pngColorType(png.body), 2, 'full colour RGB');
    const jpg = await g.get('/wmts/jpg/GLOBAL_WEBMERCATOR/05/10/10.jpeg');
    assert.equal(jpg.status, 200);
    assert.equal(jpegLumaDcQuant(jpg.body), expectedLumaDcQuant(50));
    assert.equal(expectedLumaDcQuant(50), 16);
  } finally {
    await g.close();
  }
});
