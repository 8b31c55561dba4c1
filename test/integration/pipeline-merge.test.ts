/**
 * End to end, caches with several sources and several grids: sources are merged bottom to top
 * (an opaque WMS under a WMS with `transparent: true` whose images have an alpha channel; pixels
 * checked), and one cache on GLOBAL_WEBMERCATOR and GLOBAL_MERCATOR keeps two tile pyramids in
 * `<cache>_EPSG3857` and `<cache>_EPSG900913`, both offered by WMTS and TMS (MapProxy 1.15 checked
 * on the same upstream: same requests, paths and capabilities).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  META_9_170_211_BBOX, alphaColor, expectedColor, getMapQuery, listTree, metaTiles, pixels, startAlphaWms, startPipeline,
  tcPath, tilePixelCenter, type AlphaWms, type Pipeline,
} from './pipeline-helpers.js';

let p: Pipeline;
let alpha: AlphaWms;

before(async () => {
  alpha = await startAlphaWms();
  p = await startPipeline((url) => `
services:
  tms:
  wmts:
layers:
  - {name: merged, title: merged, sources: [c_merged]}
  - {name: reversed, title: reversed, sources: [c_reversed]}
  - {name: two, title: two, sources: [c_two]}
caches:
  c_merged: {grids: [GLOBAL_WEBMERCATOR], sources: [up, top], image: {colors: 0}}
  c_reversed: {grids: [GLOBAL_WEBMERCATOR], sources: [top, up], image: {colors: 0}}
  c_two: {grids: [GLOBAL_WEBMERCATOR, GLOBAL_MERCATOR], sources: [up]}
sources:
  up:
    type: wms
    req: {url: '${url}/wms?', layers: base}
  top:
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
beforeEach(() => {
  p.up.reset();
  alpha.queries.length = 0;
});

/** Columns of tile (x, y, z) showing each kind of band of the alpha WMS. */
function columnsByAlpha(x: number, y: number, z: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let px = 0; px < 256; px++) {
    const a = alphaColor(tilePixelCenter(x, y, z, px, 0)[0])[3];
    if (!out.has(a)) out.set(a, px);
  }
  return out;
}

test('two sources are merged bottom to top: the transparent top shows the opaque bottom through', async () => {
  const res = await p.get('/wmts/merged/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(res.status, 200);
  // One meta request to each source, the top one asked for transparency (MapProxy 1.15 sends
  // `transparent=True`; §6: TRUE is the WMS spelling).
  assert.equal(p.up.count(), 1);
  assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184));
  assert.deepEqual(alpha.queries, [getMapQuery(META_9_170_211_BBOX, 1184, 1184, { layers: 'top', transparent: true })]);
  const tiles = metaTiles(170, 211, 9);
  assert.deepEqual(await listTree(join(p.dir, 'cache', 'c_merged_EPSG3857')), tiles.map((t) => tcPath(...t)).sort());

  const seen = new Set<number>();
  for (const [x, y, z] of tiles) {
    const body = x === 170 && y === 211 ? res.body : await readFile(join(p.dir, 'cache', 'c_merged_EPSG3857', tcPath(x, y, z)));
    const img = await pixels(body);
    for (const [a, px] of columnsByAlpha(x, y, z)) {
      for (const py of [0, 99, 255]) {
        const [mx, my] = tilePixelCenter(x, y, z, px, py);
        const bottom = expectedColor(mx, my);
        const top = alphaColor(mx);
        const got = img.at(px, py);
        assert.equal(got[3], 255, `tile ${x}/${y} px ${px},${py}: opaque after merging`);
        const want = bottom.map((b, i) => b + ((top[i] - b) * a) / 255);
        for (let c = 0; c < 3; c++) {
          // Exact where the top is transparent or opaque; rounding of the blend may differ by 1.
          assert.ok(Math.abs(got[c] - want[c]) <= (a === 128 ? 1 : 0), `tile ${x}/${y} px ${px},${py} channel ${c}: ${got[c]} ≈ ${want[c]} (top alpha ${a})`);
        }
        seen.add(a);
      }
    }
  }
  assert.deepEqual([...seen].sort((u, v) => u - v), [0, 128, 255], 'all three kinds of top pixel were checked');
});

test('with the sources the other way round the opaque one covers everything', async () => {
  const res = await p.get('/wmts/reversed/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(res.status, 200);
  const img = await pixels(res.body);
  for (const [, px] of columnsByAlpha(170, 211, 9)) {
    assert.deepEqual(img.at(px, 50), [...expectedColor(...tilePixelCenter(170, 211, 9, px, 50)), 255]);
  }
});

test('a cache on two grids keeps two pyramids, both offered by WMTS and TMS', async () => {
  const caps = await p.get('/wmts/1.0.0/WMTSCapabilities.xml');
  assert.equal(caps.status, 200);
  const xml = caps.body.toString();
  const at = xml.indexOf('<ows:Identifier>two</ows:Identifier>');
  const layer = xml.slice(xml.lastIndexOf('<Layer>', at), xml.indexOf('</Layer>', at));
  assert.deepEqual([...layer.matchAll(/<TileMatrixSet>([^<]+)<\/TileMatrixSet>/g)].map((m) => m[1]), ['GLOBAL_WEBMERCATOR', 'GLOBAL_MERCATOR']);
  assert.deepEqual([...xml.matchAll(/<TileMatrixSet>\s*<ows:Identifier>([^<]+)</g)].map((m) => m[1]), ['GLOBAL_WEBMERCATOR', 'GLOBAL_MERCATOR']);

  const web = await p.get('/wmts/two/GLOBAL_WEBMERCATOR/09/170/211.png');
  assert.equal(web.status, 200);
  assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184));
  // GLOBAL_MERCATOR counts rows from the south: WMTS row 211 is internal y 511-211 = 300, and its
  // bbox is computed in EPSG:900913 (MapProxy 1.15 sends exactly these numbers).
  const merc = await p.get('/wmts/two/GLOBAL_MERCATOR/09/170/211.png');
  assert.equal(merc.status, 200);
  assert.equal(p.up.count(), 2);
  assert.equal(p.up.last().rawQuery,
    getMapQuery('-6912353.341885059,3419486.897365644,-6550347.575926465,3781492.6633242397', 1184, 1184, { srs: 'EPSG:900913' }));

  const webDir = join(p.dir, 'cache', 'c_two_EPSG3857');
  const mercDir = join(p.dir, 'cache', 'c_two_EPSG900913');
  assert.deepEqual(await listTree(webDir), metaTiles(170, 211, 9).map((t) => tcPath(...t)).sort());
  assert.deepEqual(await listTree(mercDir), metaTiles(170, 300, 9).map((t) => tcPath(...t)).sort());
  assert.ok(web.body.equals(await readFile(join(webDir, tcPath(170, 211, 9)))));
  assert.ok(merc.body.equals(await readFile(join(mercDir, tcPath(170, 300, 9)))));

  // TMS: /EPSG900913 and /EPSG3857 are the two pyramids (TMS rows always count from the south).
  const tmsMerc = await p.get('/tms/1.0.0/two/EPSG900913/8/170/300.png');
  assert.ok(tmsMerc.body.equals(merc.body));
  const tmsWeb = await p.get('/tms/1.0.0/two/EPSG3857/8/170/300.png');
  assert.ok(tmsWeb.body.equals(web.body));
  assert.equal(p.up.count(), 2);
  const img = await pixels(merc.body);
  assert.deepEqual(img.at(10, 10).slice(0, 3), expectedColor(...tilePixelCenter(170, 211, 9, 10, 10)), 'the same place on both grids');
});
