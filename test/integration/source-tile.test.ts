// The tile source against the real test upstream and real files: URL templates, origins, magic
// bytes, failures, file:// reading and its refusal outside the template's directory.
import { test, after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { BUILTIN_SRS, buildGrids, getSrs } from '../../src/grid/index.js';
import type { TileCoord, TileGrid } from '../../src/grid/types.js';
import { decodeImage } from '../../src/image/index.js';
import type { RawImage } from '../../src/image/types.js';
import { configureLogging } from '../../src/log/index.js';
import type { SourceContext, TileSourceConfig } from '../../src/source/config.js';
import { FileUrlRefusedError, InvalidSourceQueryError } from '../../src/source/errors.js';
import { closeHttpAgents } from '../../src/source/http-client.js';
import { createTileSource } from '../../src/source/tile.js';
import { quadkey } from '../../src/source/tile-url.js';
import type { MapQuery } from '../../src/source/types.js';
import { encodePixels, expectedColor, FALLBACK_COLOR, pixelCenter, renderPixels, startUpstream, xyzTileBbox, type Upstream, sourceFailure } from '../helpers/upstream.js';

let up: Upstream;
let dir: string;
let ctx: SourceContext;
let grids: Map<string, TileGrid>;

before(async () => {
  configureLogging({ level: 'silent' });
  up = await startUpstream();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mpx-'));
  grids = buildGrids({});
  ctx = { globals: { http: { hide_error_details: false } }, lockDir: path.join(dir, 'locks'), grids, configDir: dir, srs: BUILTIN_SRS };
});
after(async () => {
  await closeHttpAgents();
  await up.close();
  await rm(dir, { recursive: true, force: true });
  configureLogging();
});
beforeEach(() => up.reset());

const webmerc = () => grids.get('GLOBAL_WEBMERCATOR') as TileGrid;
const mercator = () => grids.get('GLOBAL_MERCATOR') as TileGrid;

function tile(conf: Partial<TileSourceConfig> & { url: string }, c: SourceContext = ctx) {
  return createTileSource('t', { type: 'tile', grid: 'GLOBAL_WEBMERCATOR', ...conf }, c);
}

function tq(grid: TileGrid, coord: TileCoord, extra: Partial<MapQuery> = {}): MapQuery {
  return { bbox: grid.tileBbox(coord), size: grid.tileSize, srs: grid.srs, format: 'image/png', ...extra };
}

function px(raw: RawImage, x: number, y: number): number[] {
  const o = (y * raw.width + x) * 4;
  return [...raw.data.subarray(o, o + 4)];
}

/** The tile shows the upstream's colours for the grid tile `coord`. */
function assertTilePlace(raw: RawImage, grid: TileGrid, coord: TileCoord): void {
  const bbox = grid.tileBbox(coord);
  for (const [x, y] of [[5, 5], [128, 128], [250, 20], [30, 240]]) {
    const [mx, my] = pixelCenter(bbox, [256, 256], x, y);
    assert.deepEqual(px(raw, x, y), [...expectedColor(mx, my), 255], `pixel ${x},${y} of ${coord}`);
  }
}

test('x/y/z/format fill the template in the grid numbering; the tile shows the right place', async () => {
  const s = tile({ url: `${up.url}/tiles/%(z)s/%(x)s/%(y)s.%(format)s` });
  assert.equal(s.supportsMetaTiles, false);
  assert.equal(s.grid, webmerc());
  const img = await s.getMap(tq(webmerc(), [2, 1, 2]));
  assert.equal(up.last().path, '/tiles/2/2/1.png');
  assert.equal(img.mime, 'image/png');
  assert.equal(img.cacheable, true);
  assertTilePlace(await decodeImage(img.data), webmerc(), [2, 1, 2]);
});

test('quadkey, tc_path, tms_path, arcgiscache_path and bbox use MapProxy formulas', async () => {
  const s = tile({ url: `${up.url}/q/%(quadkey)s/%(tc_path)s/%(tms_path)s/%(arcgiscache_path)s.png?bbox=%(bbox)s` });
  const coord: TileCoord = [5, 9, 4];
  await s.getMap(tq(webmerc(), coord));
  assert.equal(up.last().path, `/q/${quadkey(coord)}/04/000/000/005/000/000/009/4/5/9/L04/R00000009/C00000005.png`);
  assert.equal(quadkey(coord), '2103');
  const b = webmerc().tileBbox(coord);
  assert.equal(up.last().rawQuery, `bbox=${b.map((v) => v.toFixed(8)).join(',')}`);
  assert.equal(up.last().rawQuery, `bbox=${xyzTileBbox(4, 5, 9, 'nw').map((v) => v.toFixed(8)).join(',')}`);
});

test('format is the extension of the wanted format; the image is converted to it', async () => {
  const s = tile({ url: `${up.url}/f/%(z)s/%(x)s/%(y)s.%(format)s` });
  const img = await s.getMap(tq(webmerc(), [0, 0, 0], { format: 'image/jpeg' }));
  assert.equal(up.last().path, '/f/0/0/0.jpeg');
  // The upstream's fallback image is a grey PNG: it comes back as JPEG, as asked.
  assert.equal(img.mime, 'image/jpeg');
  assert.deepEqual([img.data[0], img.data[1]], [0xff, 0xd8]);
  const raw = await decodeImage(img.data);
  assert.ok(px(raw, 10, 10).slice(0, 3).every((v, i) => Math.abs(v - FALLBACK_COLOR[i]) <= 2));
  // request_format fixes the URL's format.
  const fixed = tile({ url: `${up.url}/f/%(z)s/%(x)s/%(y)s.%(format)s`, request_format: 'image/png' });
  await fixed.getMap(tq(webmerc(), [0, 0, 0], { format: 'image/jpeg' }));
  assert.equal(up.last().path, '/f/0/0/0.png');
});

test('grid origin decides y: GLOBAL_MERCATOR (sw) against a TMS, origin nw against XYZ', async () => {
  const sw = tile({ url: `${up.url}/tms/%(z)s/%(x)s/%(y)s.png`, grid: 'GLOBAL_MERCATOR' });
  const img = await sw.getMap(tq(mercator(), [1, 0, 2]));
  assert.equal(up.last().path, '/tms/2/1/0.png');
  assertTilePlace(await decodeImage(img.data), mercator(), [1, 0, 2]);

  const flipped = tile({ url: `${up.url}/tiles/%(z)s/%(x)s/%(y)s.png`, grid: 'GLOBAL_MERCATOR', origin: 'nw' });
  const img2 = await flipped.getMap(tq(mercator(), [1, 0, 2]));
  assert.equal(up.last().path, '/tiles/2/1/3.png');
  assertTilePlace(await decodeImage(img2.data), mercator(), [1, 0, 2]);
});

test('a PNG body is labelled PNG whatever the Content-Type says (§6)', async () => {
  const s = tile({ url: `${up.url}/tiles/%(z)s/%(x)s/%(y)s.png` });
  up.fail({ kind: 'content-type', contentType: 'image/jpeg' });
  const img = await s.getMap(tq(webmerc(), [0, 0, 1]));
  assert.equal(img.mime, 'image/png');
  assert.deepEqual([...img.data.subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

test('failures: HTTP status, not an image, truncated; on_error substitutes', async () => {
  const s = tile({ url: `${up.url}/tiles/%(z)s/%(x)s/%(y)s.png` });
  const url = `${up.url}/tiles/1/0/1.png`;
  up.fail({ kind: 'status', status: 500 });
  let e = await sourceFailure(s.getMap(tq(webmerc(), [0, 1, 1])));
  assert.equal(e.message, `HTTP Error "${url}": 500`);
  assert.equal(e.reason, 'http');
  up.fail({ kind: 'html' });
  e = await sourceFailure(s.getMap(tq(webmerc(), [0, 1, 1])));
  assert.equal(e.message, `no image returned from source tile: ${url}`);
  assert.equal(e.reason, 'not-image');
  up.fail({ kind: 'truncated' });
  e = await sourceFailure(s.getMap(tq(webmerc(), [0, 1, 1])));
  assert.equal(e.message, `invalid image returned from source tile: ${url}`);
  assert.equal(e.reason, 'bad-image');
  assert.equal(up.count(), 3);
});

test('an image of the wrong size is a BadImageError', async () => {
  const big = await startUpstream({ tileSize: 512 });
  try {
    const s = tile({ url: `${big.url}/tiles/%(z)s/%(x)s/%(y)s.png` });
    const e = await sourceFailure(s.getMap(tq(webmerc(), [0, 0, 1])));
    assert.equal(e.message, `image of wrong size returned from source tile: ${big.url}/tiles/1/0/0.png (512x512, expected 256x256)`);
    assert.equal(e.code, 'MPX_ERR_SOURCE_BAD_IMAGE');
    assert.equal(e.reason, 'bad-image');
  } finally {
    await big.close();
  }
});

test('on_error answers a 404 tile with its colour', async () => {
  const s = tile({ url: `${up.url}/missing/%(z)s/%(x)s/%(y)s`, on_error: { 404: { response: '#102030', cache: true } } });
  const img = await s.getMap(tq(webmerc(), [0, 0, 1]));
  assert.equal(up.last().path, '/missing/1/0/0');
  assert.equal(img.cacheable, true);
  assert.deepEqual(px(await decodeImage(img.data), 100, 100), [0x10, 0x20, 0x30, 255]);
});

test('a query that is not exactly one tile of the grid is an InvalidSourceQueryError', async () => {
  const s = tile({ url: `${up.url}/tiles/%(z)s/%(x)s/%(y)s.png` });
  const g = webmerc();
  const half = g.tileBbox([0, 0, 1]);
  const cases: Array<[MapQuery, string]> = [
    [{ ...tq(g, [0, 0, 1]), size: [512, 512] }, 'tile size of cache and tile source do not match: [256, 256] != [512, 512]'],
    [{ ...tq(g, [0, 0, 1]), srs: getSrs('EPSG:4326') }, 'SRS of cache and tile source do not match: EPSG:3857 != EPSG:4326'],
    [{ ...tq(g, [0, 0, 1]), bbox: [half[0], half[1], half[2] + (half[2] - half[0]), half[3]] }, 'BBOX does not align to tile'],
    // Half a tile to the east: two tiles of the level.
    [{ ...tq(g, [0, 0, 1]), bbox: [half[0] + (half[2] - half[0]) / 2, half[1], half[2] + (half[2] - half[0]) / 2, half[3]] }, 'BBOX does not align to tile'],
    // Inside one tile at the level its resolution picks, but not that tile.
    [{ ...tq(g, [0, 0, 1]), bbox: [half[0] + 0.05 * (half[2] - half[0]), half[1] + 0.05 * (half[3] - half[1]), half[2] - 0.05 * (half[2] - half[0]), half[3] - 0.05 * (half[3] - half[1])] }, 'BBOX does not align to tile'],
  ];
  for (const [query, msg] of cases) {
    const e = await sourceFailure(s.getMap(query));
    assert.ok(e instanceof InvalidSourceQueryError);
    assert.equal(e.message, msg);
    assert.equal(e.code, 'MPX_ERR_SOURCE_INVALID_QUERY');
  }
  assert.equal(up.count(), 0);
  // MapProxy: 900913 and 3857 are the same SRS.
  await s.getMap({ ...tq(g, [0, 0, 1]), srs: getSrs('EPSG:900913') });
  assert.equal(up.count(), 1);
});

test('coverage, resolution range and seed_only answer blank without a request', async () => {
  const url = `${up.url}/tiles/%(z)s/%(x)s/%(y)s.png`;
  const cov = tile({ url, coverage: { bbox: [0, 0, 10, 10], srs: 'EPSG:4326' } });
  assert.equal((await cov.getMap(tq(webmerc(), [0, 0, 2]))).blank, true);
  const res = tile({ url, min_res: 1000 });
  assert.equal((await res.getMap(tq(webmerc(), [0, 0, 2]))).blank, true);
  const seed = tile({ url, seed_only: true });
  const img = await seed.getMap(tq(webmerc(), [0, 0, 2]));
  assert.equal(img.blank, true);
  assert.equal(img.cacheable, false);
  assert.equal(up.count(), 0);
  await seed.getMap(tq(webmerc(), [0, 0, 2], { seeding: true }));
  assert.equal(up.count(), 1);
});

test('http credentials and headers apply to tile sources', async () => {
  const s = tile({ url: `http://me:pw@127.0.0.1:${up.port}/tiles/%(z)s/%(x)s/%(y)s.png`, http: { headers: { Referer: 'https://example.org/' } } });
  await s.getMap(tq(webmerc(), [0, 0, 0]));
  assert.equal(up.last().headers.authorization, 'Basic ' + Buffer.from('me:pw').toString('base64'));
  assert.equal(up.last().headers.referer, 'https://example.org/');
});

async function writeTile(file: string, coord: TileCoord): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const bbox = webmerc().tileBbox(coord);
  await writeFile(file, await encodePixels(renderPixels(bbox, 256, 256, 'EPSG:3857'), 256, 256, 'image/png'));
}

test('file:// templates read tiles from disk, absolute or relative to the config directory', async () => {
  await writeTile(path.join(dir, 'tiles', '2', '1', '3.png'), [1, 3, 2]);
  const abs = tile({ url: `file://${dir}/tiles/%(z)s/%(x)s/%(y)s.%(format)s` });
  const img = await abs.getMap(tq(webmerc(), [1, 3, 2]));
  assertTilePlace(await decodeImage(img.data), webmerc(), [1, 3, 2]);
  const rel = tile({ url: 'file://tiles/%(z)s/%(x)s/%(y)s.png' });
  const img2 = await rel.getMap(tq(webmerc(), [1, 3, 2]));
  assert.ok(img2.data.equals(img.data));
  assert.equal(up.count(), 0);
  const e = await sourceFailure(abs.getMap(tq(webmerc(), [0, 0, 2])));
  assert.equal(e.message, `No response from URL "file://${dir}/tiles/2/0/0.png": No such file or directory`);
  assert.equal(e.code, 'MPX_ERR_SOURCE_FILE');
});

test('file:// paths that leave the template directory are refused, on_error or not', async () => {
  // A file that a `..` in the substituted path would reach.
  await writeTile(path.join(dir, 'outside', '0', '0', '0.png'), [0, 0, 0]);
  const s = tile({ url: `file://${dir}/tiles/%(format)s/%(z)s/%(x)s/%(y)s.png`, on_error: { other: { response: 'transparent' } } });
  const e = await sourceFailure(s.getMap(tq(webmerc(), [0, 0, 0], { format: '../outside' })));
  assert.ok(e instanceof FileUrlRefusedError);
  assert.equal(e.code, 'MPX_ERR_SOURCE_FILE_REFUSED');
  assert.equal(e.message, `refused file URL outside ${dir}/tiles: file://${dir}/tiles/../outside/0/0/0.png`);
  // The same file through a template that may reach it is served.
  const ok = tile({ url: `file://${dir}/%(format)s/%(z)s/%(x)s/%(y)s.png` });
  assert.equal((await ok.getMap(tq(webmerc(), [0, 0, 0], { format: 'outside' }))).mime, 'image/png');
  // The template's fixed part ends inside a name: its directory is the limit.
  await writeTile(path.join(dir, 'tiles', 'z0', '0', '0.png'), [0, 0, 0]);
  const prefixed = tile({ url: `file://${dir}/tiles/z%(z)s/%(x)s/%(y)s.png` });
  assert.equal((await prefixed.getMap(tq(webmerc(), [0, 0, 0]))).mime, 'image/png');
});

test('bad tile source options are ConfigErrors naming the YAML path', () => {
  const cases: Array<[Partial<TileSourceConfig>, string]> = [
    [{ url: '' }, 'sources.t.url: required'],
    [{ url: 'ftp://h/%(z)s' }, 'sources.t.url: must be an http://, https:// or file:// URL template (got "ftp://h/%(z)s")'],
    [{ url: 'http://h/%(zoom)s' }, 'sources.t.url: unknown placeholder %(zoom)s in tile URL; known: %(x)s %(y)s %(z)s %(format)s %(quadkey)s %(tc_path)s %(tms_path)s %(arcgiscache_path)s %(bbox)s'],
    [{ url: 'http://h/%(z)s', grid: 'nope' }, 'sources.t.grid: unknown grid "nope"'],
    [{ url: 'http://h/%(z)s', origin: 'top' }, "sources.t.origin: unknown origin value 'top' (use ll, sw, ul or nw)"],
  ];
  for (const [conf, msg] of cases) {
    assert.throws(() => createTileSource('t', { type: 'tile', ...conf } as TileSourceConfig, ctx), (e: unknown) => e instanceof ConfigError && e.message === `invalid configuration:\n  ${msg}`, msg);
  }
  // MapProxy: no grid means GLOBAL_MERCATOR.
  assert.equal(createTileSource('t', { type: 'tile', url: 'http://h/%(z)s' }, ctx).grid.name, 'GLOBAL_MERCATOR');
});
