// The WMS source against the real test upstream: exact requests, pixels in the right place,
// failures, on_error, coverage, resolution limits, seed_only, formats and reprojection.
import { test, after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { BUILTIN_SRS, buildGrids, getSrs } from '../../src/grid/index.js';
import type { Bbox, Size } from '../../src/grid/types.js';
import { decodeImage } from '../../src/image/index.js';
import type { RawImage } from '../../src/image/types.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents, httpGet } from '../../src/source/http-client.js';
import type { SourceContext, WmsSourceConfig } from '../../src/source/config.js';
import { AuthorizeStaleError } from '../../src/source/errors.js';
import type { MapQuery, SourceImage } from '../../src/source/types.js';
import { createWmsSource } from '../../src/source/wms.js';
import { expectedColor, pixelCenter, startUpstream, type Upstream, sourceFailure } from '../helpers/upstream.js';

let up: Upstream;
let dir: string;
let ctx: SourceContext;
const merc = getSrs('EPSG:3857');
const geo = getSrs('EPSG:4326');

before(async () => {
  configureLogging({ level: 'silent' });
  up = await startUpstream();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mpx-'));
  ctx = { globals: { http: { hide_error_details: false } }, lockDir: path.join(dir, 'locks'), grids: buildGrids({}), configDir: dir, srs: BUILTIN_SRS };
});
after(async () => {
  await closeHttpAgents();
  await up.close();
  await rm(dir, { recursive: true, force: true });
  configureLogging();
});
beforeEach(() => up.reset());

function wms(extra: Partial<WmsSourceConfig> = {}, req: Record<string, unknown> = {}): ReturnType<typeof createWmsSource> {
  return createWmsSource('w', { type: 'wms', ...extra, req: { url: `${up.url}/service?`, layers: 'base', ...req } } as WmsSourceConfig, ctx);
}

function q(bbox: Bbox, size: Size = [256, 256], extra: Partial<MapQuery> = {}): MapQuery {
  return { bbox, size, srs: merc, format: 'image/png', ...extra };
}

async function pixels(img: SourceImage): Promise<RawImage> {
  const raw = await decodeImage(img.data);
  if (img.raw) assert.deepEqual(img.raw.data, raw.data, 'raw and data show the same pixels');
  return raw;
}

function px(raw: RawImage, x: number, y: number): number[] {
  const o = (y * raw.width + x) * 4;
  return [...raw.data.subarray(o, o + 4)];
}

/** Every sampled pixel has the upstream's colour for its map coordinate (alpha 255). */
function assertPlace(raw: RawImage, bbox: Bbox, srsCode = 'EPSG:3857', tol = 0): void {
  for (const [fx, fy] of [[0.1, 0.1], [0.5, 0.5], [0.9, 0.2], [0.3, 0.85], [0.97, 0.97]]) {
    const x = Math.floor(fx * raw.width);
    const y = Math.floor(fy * raw.height);
    const [mx, my] = pixelCenter(bbox, [raw.width, raw.height], x, y);
    const got = px(raw, x, y);
    const want = [...expectedColor(mx, my, srsCode), 255];
    assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= tol), `pixel ${x},${y}: got ${got} want ${want}`);
  }
}

const BBOX: Bbox = [-6912353.341885059, 3419486.8973656455, -6550347.575926465, 3781492.663324239];

test('1.1.1: the exact MapProxy query string, and the upstream bytes passed through unchanged', async () => {
  const s = wms({}, { transparent: false });
  const img = await s.getMap(q(BBOX, [1184, 1184]));
  assert.equal(up.count(), 1);
  assert.equal(up.last().path, '/service');
  assert.equal(
    up.last().rawQuery,
    'layers=base&transparent=FALSE&format=image%2Fpng&bbox=-6912353.341885059,3419486.8973656455,-6550347.575926465,3781492.663324239&width=1184&height=1184&srs=EPSG%3A3857&request=GetMap&version=1.1.1&service=WMS&styles=',
  );
  assert.equal(img.mime, 'image/png');
  assert.equal(img.cacheable, true);
  assert.equal(img.blank, undefined);
  const direct = await httpGet(`${up.url}/service?${up.last().rawQuery}`);
  assert.ok(img.data.equals(direct.body), 'bytes as received');
  assert.equal(img.raw?.width, 1184);
  assertPlace(await pixels(img), BBOX);
  assert.equal(s.supportsMetaTiles, true);
  assert.equal(s.transparent, false);
});

test('1.3.0 with EPSG:4326 sends lat/lon order and CRS, and the image shows the right place', async () => {
  const s = wms({ wms_opts: { version: '1.3.0' } });
  const bbox: Bbox = [5, 40, 35, 70];
  const img = await s.getMap(q(bbox, [300, 300], { srs: geo }));
  assert.equal(up.last().rawQuery, 'layers=base&format=image%2Fpng&bbox=40.0,5.0,70.0,35.0&width=300&height=300&request=GetMap&version=1.3.0&service=WMS&styles=&crs=EPSG%3A4326');
  assertPlace(await pixels(img), bbox, 'EPSG:4326');
});

test('other req keys, the URL query and dimensions are passed through; transparent=TRUE', async () => {
  const s = createWmsSource('w', { type: 'wms', req: { url: `${up.url}/ms?map=/x.map`, layers: 'a,b', styles: 'fancy', Foo: 'bar baz', transparent: true } }, ctx);
  assert.equal(s.transparent, true);
  await s.getMap(q([0, 0, 1e6, 1e6], [100, 100], { dimensions: { time: '2020-01-01' } }));
  assert.equal(
    up.last().rawQuery,
    'map=/x.map&layers=a,b&styles=fancy&Foo=bar%20baz&transparent=TRUE&format=image%2Fpng&bbox=0.0,0.0,1000000.0,1000000.0&width=100&height=100&srs=EPSG%3A3857&time=2020-01-01&request=GetMap&version=1.1.1&service=WMS',
  );
});

test('an SLD file is sent as sld_body by POST under http.method AUTO', async () => {
  await writeFile(path.join(dir, 'style.sld'), '<StyledLayerDescriptor/>');
  const s = createWmsSource('w', { type: 'wms', req: { url: `${up.url}/service?`, layers: 'l', sld: 'file://style.sld' } }, ctx);
  const img = await s.getMap(q([0, 0, 1e6, 1e6], [64, 64]));
  assert.equal(up.last().method, 'POST');
  assert.equal(up.last().rawQuery, '');
  // MapProxy 1.15 puts the file's sld_body after format (its sld.yaml sent format=…&sld_body=…&bbox=…).
  assert.equal(up.last().body, 'layers=l&format=image%2Fpng&sld_body=%3CStyledLayerDescriptor%2F%3E&bbox=0.0,0.0,1000000.0,1000000.0&width=64&height=64&srs=EPSG%3A3857&request=GetMap&version=1.1.1&service=WMS&styles=');
  assertPlace(await pixels(img), [0, 0, 1e6, 1e6]);
  assert.throws(() => createWmsSource('w', { type: 'wms', req: { url: `${up.url}/`, layers: 'l', sld: 'file://missing.sld' } }, ctx), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /^invalid configuration:\n {2}sources\.w\.req\.sld: cannot read SLD file .*missing\.sld: ENOENT/);
    return true;
  });
});

test('upstream failures give typed SourceErrors with MapProxy messages', async () => {
  const s = wms({ http: { client_timeout: 0.3 } });
  const url = () => `${up.url}/service?${up.last().rawQuery}`;

  up.fail({ kind: 'status', status: 500, body: 'internal trouble' });
  let e = await sourceFailure(s.getMap(q(BBOX)));
  assert.equal(e.message, `HTTP Error "${url()}": 500`);
  assert.equal(e.reason, 'http');
  assert.equal(e.upstreamStatus, 500);
  assert.equal(e.code, 'MPX_ERR_SOURCE_HTTP');

  up.fail({ kind: 'delay', ms: 3000 });
  e = await sourceFailure(s.getMap(q(BBOX)));
  assert.equal(e.message, `No response from URL "${url()}": timed out`);
  assert.equal(e.reason, 'timeout');
  assert.equal(e.code, 'MPX_ERR_SOURCE_TIMEOUT');

  up.fail({ kind: 'html' });
  e = await sourceFailure(s.getMap(q(BBOX)));
  assert.equal(e.message, `no image returned from source WMS: ${url()}`);
  assert.equal(e.reason, 'not-image');
  assert.equal(e.code, 'MPX_ERR_SOURCE_NOT_IMAGE');

  up.fail({ kind: 'content-type', contentType: 'application/vnd.ogc.se_xml' });
  e = await sourceFailure(s.getMap(q(BBOX)));
  assert.equal(e.message, `no image returned from source WMS: ${url()}`);
  assert.equal(e.reason, 'not-image');

  up.fail({ kind: 'truncated' });
  e = await sourceFailure(s.getMap(q(BBOX)));
  assert.equal(e.message, `invalid image returned from source WMS: ${url()}`);
  assert.equal(e.reason, 'bad-image');
  assert.equal(e.code, 'MPX_ERR_SOURCE_BAD_IMAGE');
  assert.equal(up.count(), 5);
});

test('hide_error_details (default) keeps URL and reason out of the message', async () => {
  const s = createWmsSource('w', { type: 'wms', req: { url: `${up.url}/service?`, layers: 'l' } }, { ...ctx, globals: {} });
  up.fail({ kind: 'status', status: 503 });
  const e = await sourceFailure(s.getMap(q(BBOX)));
  assert.equal(e.message, 'HTTP Error (see logs for URL and reason).');
  assert.equal(e.url, `${up.url}/service?${up.last().rawQuery}`);
});

test('on_error: a status entry, then other; colour images with the cache flag', async () => {
  const s = wms({
    http: { client_timeout: 0.3 },
    on_error: { 500: { response: '#ff0000', cache: true }, other: { response: [0, 0, 255, 128] } },
  });
  up.fail({ kind: 'status', status: 500 });
  let img = await s.getMap(q(BBOX, [64, 32]));
  assert.equal(img.cacheable, true);
  assert.equal(img.mime, 'image/png');
  const raw = await pixels(img);
  assert.deepEqual([raw.width, raw.height], [64, 32]);
  assert.deepEqual(px(raw, 0, 0), [255, 0, 0, 255]);
  assert.deepEqual(px(raw, 63, 31), [255, 0, 0, 255]);

  up.fail({ kind: 'status', status: 404 });
  img = await s.getMap(q(BBOX, [64, 32]));
  assert.equal(img.cacheable, false);
  assert.deepEqual(px(await pixels(img), 10, 10), [0, 0, 255, 128]);

  // `other` also takes timeouts and answers that are not images.
  up.fail({ kind: 'delay', ms: 3000 });
  assert.deepEqual(px(await pixels(await s.getMap(q(BBOX, [64, 32]))), 1, 1), [0, 0, 255, 128]);
  up.fail({ kind: 'html' });
  assert.deepEqual(px(await pixels(await s.getMap(q(BBOX, [64, 32]))), 5, 5), [0, 0, 255, 128]);

  // A colour with alpha asked as JPEG comes as PNG (JPEG has no alpha); opaque colours keep JPEG.
  img = await s.getMap(q(BBOX, [64, 32], { format: 'image/jpeg' }));
  assert.equal(img.mime, 'image/png');
  up.fail({ kind: 'status', status: 500 });
  img = await s.getMap(q(BBOX, [64, 32], { format: 'image/jpeg' }));
  assert.equal(img.mime, 'image/jpeg');
  assert.deepEqual([img.data[0], img.data[1]], [0xff, 0xd8]);
});

test('on_error without a matching entry rethrows; transparent is the default response', async () => {
  const only500 = wms({ on_error: { 500: {} } });
  up.fail({ kind: 'status', status: 502 });
  assert.equal((await sourceFailure(only500.getMap(q(BBOX)))).upstreamStatus, 502);
  up.fail({ kind: 'status', status: 500 });
  const img = await only500.getMap(q(BBOX, [8, 8]));
  assert.deepEqual(px(await pixels(img), 3, 3), [255, 255, 255, 0]);
  assert.equal(img.cacheable, false);
});

test('on_error authorize_stale throws AuthorizeStaleError carrying the substitute', async () => {
  const s = wms({ on_error: { 500: { response: '#00ff00', cache: false, authorize_stale: true } } });
  up.fail({ kind: 'status', status: 500 });
  const e = await sourceFailure(s.getMap(q(BBOX, [16, 16])));
  assert.ok(e instanceof AuthorizeStaleError);
  assert.equal(e.authorizeStale, true);
  assert.equal(e.code, 'MPX_ERR_SOURCE_HTTP');
  assert.equal(e.upstreamStatus, 500);
  assert.equal(e.message, `HTTP Error "${up.url}/service?${up.last().rawQuery}": 500`);
  assert.equal(e.substitute.cacheable, false);
  assert.deepEqual(px(await pixels(e.substitute), 0, 0), [0, 255, 0, 255]);
});

test('coverage: a query fully outside is blank without any upstream request', async () => {
  const s = wms({ coverage: { bbox: [0, 40, 20, 60], srs: 'EPSG:4326' } });
  const img = await s.getMap(q([-2e7, -2e7, -1.9e7, -1.9e7], [32, 32]));
  assert.equal(up.count(), 0);
  assert.equal(img.blank, true);
  assert.equal(img.cacheable, true);
  assert.equal(img.mime, 'image/png');
  const raw = await decodeImage(img.data);
  assert.deepEqual([raw.width, raw.height], [32, 32]);
  assert.ok(raw.data.every((v, i) => i % 4 !== 3 || v === 0), 'fully transparent');
  assert.deepEqual(s.coverage?.bbox, [0, 40, 20, 60]);
});

test('coverage with bbox_srs and srs: the bbox is in bbox_srs, as MapProxy reads it', async () => {
  // MapProxy 1.15 requested this tile (TMS 2/4/5 of GLOBAL_WEBMERCATOR) for the same coverage.
  const s = wms({ coverage: { bbox: [0, 40, 20, 60], bbox_srs: 'EPSG:4326', srs: 'EPSG:3857' } });
  await s.getMap(q([0, 5009377.085697311, 5009377.085697311, 10018754.171394622]));
  assert.equal(up.count(), 1);
  assert.equal(up.last().query.get('bbox'), '0.0,5009377.085697311,2226389.8158654715,8399737.889818357');
});

test('coverage: a query partly inside requests only the overlap and pastes it in place', async () => {
  const s = wms({ coverage: { bbox: [0, 0, 2e6, 2e6], srs: 'EPSG:3857' } });
  const bbox: Bbox = [-1e6, 0, 1e6, 2e6];
  const img = await s.getMap(q(bbox, [200, 200]));
  assert.equal(up.count(), 1);
  assert.equal(up.last().query.get('bbox'), '0.0,0.0,1000000.0,2000000.0');
  assert.equal(up.last().query.get('width'), '100');
  assert.equal(up.last().query.get('height'), '200');
  const raw = await pixels(img);
  assert.deepEqual(px(raw, 10, 100), [0, 0, 0, 0]);
  assert.deepEqual(px(raw, 99, 5), [0, 0, 0, 0]);
  for (const [x, y] of [[100, 0], [150, 50], [199, 199]]) {
    const [mx, my] = pixelCenter(bbox, [200, 200], x, y);
    assert.deepEqual(px(raw, x, y), [...expectedColor(mx, my), 255]);
  }
});

test('min_res/max_res and scales: blank outside the range, no request', async () => {
  const s = wms({ min_res: 1000, max_res: 100 });
  for (const w of [1e6 * 2.56, 1e3 * 2.56]) {
    const img = await s.getMap(q([0, 0, w, w], [256, 256]));
    assert.equal(img.blank, true);
  }
  assert.equal(up.count(), 0);
  const inside = await s.getMap(q([0, 0, 256 * 500, 256 * 500], [256, 256]));
  assert.equal(inside.blank, undefined);
  assert.equal(up.count(), 1);
  // Scales: res = scale · 0.00028; 1:1e6 → 280 m/px is inside 1:2e6 … 1:5e5.
  const byScale = wms({ max_scale: 2e6, min_scale: 5e5 });
  assert.equal((await byScale.getMap(q([0, 0, 256 * 280, 256 * 280]))).blank, undefined);
  assert.equal((await byScale.getMap(q([0, 0, 256 * 600, 256 * 600]))).blank, true);
  assert.equal(up.count(), 2);
  assert.deepEqual(s.resRange, { minRes: 1000, maxRes: 100 });
});

test('seed_only answers blank and uncacheable unless seeding', async () => {
  const s = wms({ seed_only: true });
  const img = await s.getMap(q(BBOX, [16, 16]));
  assert.equal(img.blank, true);
  assert.equal(img.cacheable, false);
  assert.equal(up.count(), 0);
  const seeded = await s.getMap(q(BBOX, [16, 16], { seeding: true }));
  assert.equal(seeded.blank, undefined);
  assert.equal(up.count(), 1);
});

test('supported_formats: asks for a supported format and converts to the wanted one', async () => {
  const s = wms({ supported_formats: ['jpeg'] });
  const img = await s.getMap(q(BBOX, [128, 128]));
  assert.equal(up.last().query.get('format'), 'image/jpeg');
  assert.equal(img.mime, 'image/png');
  assert.deepEqual([...img.data.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assertPlace(await pixels(img), BBOX, 'EPSG:3857', 8);
  // A wanted format that is supported is asked for as is.
  await s.getMap(q(BBOX, [128, 128], { format: 'image/jpeg' }));
  assert.equal(up.last().query.get('format'), 'image/jpeg');
  // req.format always wins.
  const fixed = wms({}, { format: 'image/gif' });
  const gif = await fixed.getMap(q(BBOX, [64, 64]));
  assert.equal(up.last().query.get('format'), 'image/gif');
  assert.equal(gif.mime, 'image/png');
});

test('supported_srs: an equal SRS is asked under the supported code, without reprojection', async () => {
  const s = wms({ supported_srs: ['EPSG:3857'] });
  const img = await s.getMap(q(BBOX, [64, 64], { srs: getSrs('EPSG:900913') }));
  assert.equal(up.last().query.get('srs'), 'EPSG:3857');
  assert.equal(up.last().query.get('bbox'), BBOX.join(','));
  const direct = await httpGet(`${up.url}/service?${up.last().rawQuery}`);
  assert.ok(img.data.equals(direct.body));
});

test('supported_srs: other SRSs are requested in the transformed bbox and reprojected', async () => {
  const s = wms({ supported_srs: ['EPSG:4326'] });
  const bbox: Bbox = [1e6, 4e6, 3e6, 6e6];
  const img = await s.getMap(q(bbox, [256, 256]));
  assert.equal(up.count(), 1);
  const sent = up.last().query;
  assert.equal(sent.get('srs'), 'EPSG:4326');
  const want = merc.transformBboxTo(geo, bbox, 16);
  const got = (sent.get('bbox') ?? '').split(',').map(Number);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-9, `bbox[${i}] ${v} vs ${want[i]}`));
  // MapProxy: the coarser axis keeps the destination size, the other follows the aspect ratio
  // (int(x + 0.5)); here x is coarser in degrees, so the height stays 256.
  const ratio = (want[2] - want[0]) / (want[3] - want[1]);
  assert.ok((want[2] - want[0]) / 256 > (want[3] - want[1]) / 256);
  assert.equal(sent.get('width'), String(Math.trunc(256 * ratio + 0.5)));
  assert.equal(sent.get('height'), '256');
  assert.equal(img.mime, 'image/png');
  // Pixels well inside 10° cells have the colour of the cell their centre falls in, in degrees.
  const raw = await pixels(img);
  let checked = 0;
  for (let y = 4; y < 256; y += 21) {
    for (let x = 4; x < 256; x += 21) {
      const [mx, my] = pixelCenter(bbox, [256, 256], x, y);
      const [[lon, lat]] = merc.transformTo(geo, [[mx, my]]);
      const nearEdge = Math.abs(lon / 10 - Math.round(lon / 10)) < 0.05 || Math.abs(lat / 10 - Math.round(lat / 10)) < 0.05;
      if (nearEdge) continue;
      assert.deepEqual(px(raw, x, y), [...expectedColor(lon, lat, 'EPSG:4326'), 255], `pixel ${x},${y}`);
      checked++;
    }
  }
  assert.ok(checked > 50);
});

test('supported_srs choice: same kind first, preferred_src_proj over it', async () => {
  const s = wms({ supported_srs: ['EPSG:4326', 'EPSG:25832'] });
  await s.getMap(q([1e6, 6e6, 1.1e6, 6.1e6], [32, 32]));
  assert.equal(up.last().query.get('srs'), 'EPSG:25832');
  const pref = createWmsSource(
    'w',
    { type: 'wms', supported_srs: ['EPSG:25832', 'EPSG:4326'], req: { url: `${up.url}/service?`, layers: 'l' } },
    { ...ctx, globals: { srs: { preferred_src_proj: { 'EPSG:3857': ['EPSG:4326'] } } } },
  );
  await pref.getMap(q([1e6, 6e6, 1.1e6, 6.1e6], [32, 32]));
  assert.equal(up.last().query.get('srs'), 'EPSG:4326');
});

test('image.transparent_color makes matching pixels transparent', async () => {
  const bbox: Bbox = [0, 0, 2e6, 1e6];
  const left = expectedColor(5e5, 5e5);
  const s = wms({ image: { transparent_color: `#${left.map((v) => v.toString(16).padStart(2, '0')).join('')}`, transparent_color_tolerance: 0 } });
  assert.equal(s.transparent, true);
  const raw = await pixels(await s.getMap(q(bbox, [20, 10])));
  assert.equal(px(raw, 2, 5)[3], 0);
  assert.deepEqual(px(raw, 15, 5), [...expectedColor(1.5e6, 5e5), 255]);
});

test('bad options are ConfigErrors naming the YAML path', () => {
  const cases: Array<[Partial<WmsSourceConfig>, string]> = [
    [{ supported_srs: ['EPSG:3857', 'EPSG:123456'] }, 'sources.w.supported_srs[1]: unknown SRS "EPSG:123456"'],
    [{ supported_formats: ['png', 'bmp'] }, 'sources.w.supported_formats[1]: unknown image format "bmp"'],
    [{ image: { resampling_method: 'lanczos' } }, 'sources.w.image.resampling_method: must be nearest, bilinear or bicubic (got "lanczos")'],
    [{ on_error: { 5000: {} } }, 'sources.w.on_error: invalid error code "5000" in on_error (use an HTTP status code or "other")'],
  ];
  for (const [conf, msg] of cases) {
    assert.throws(() => wms(conf), (e: unknown) => e instanceof ConfigError && e.message === `invalid configuration:\n  ${msg}`, msg);
  }
  assert.throws(() => createWmsSource('w', { type: 'wms' } as WmsSourceConfig, ctx), { message: 'invalid configuration:\n  sources.w.req: required' });
});
