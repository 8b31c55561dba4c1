/**
 * The WGS84BoundingBox of WMTS layers follows MapProxy's layer extent: the union of the cache's
 * source coverages (sources without one do not count), else the grid; a cache used as a source
 * brings its own extent cut to the grid of the cache using it (several grids: its first grid's). Expected values are what MapProxy 1.15 wrote for this
 * configuration (run on the same file; it writes `10 50` where YAML had integers, we `10.0 50.0`,
 * and the last digit of one transformed value differs).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempConfig, startApp, get, type RunningApp } from '../helpers/server.js';

let cfg: Awaited<ReturnType<typeof tempConfig>>;
let app: RunningApp;

before(async () => {
  cfg = await tempConfig(`
services:
  wmts:
layers:
  - {name: one, title: One, sources: [c_one]}
  - {name: two, title: Two, sources: [c_two]}
  - {name: mixed, title: Mixed, sources: [c_mixed]}
  - {name: none, title: None, sources: [c_none]}
  - {name: nested, title: Nested, sources: [c_nested]}
  - {name: sub, title: Sub, sources: [c_sub]}
  - {name: multi, title: Multi, sources: [c_from_multi]}
grids:
  sub: {srs: 'EPSG:3857', bbox: [0, 0, 20037508.342789244, 20037508.342789244], origin: nw, res: [78271.51696402048, 39135.75848201024, 19567.87924100512]}
caches:
  c_one: {grids: [GLOBAL_WEBMERCATOR], sources: [w_3857], disable_storage: true}
  c_two: {grids: [GLOBAL_WEBMERCATOR], sources: [w_4326, w_utm], disable_storage: true}
  c_mixed: {grids: [GLOBAL_WEBMERCATOR], sources: [w_plain, w_4326], disable_storage: true}
  c_none: {grids: [GLOBAL_WEBMERCATOR], sources: [w_plain], disable_storage: true}
  c_nested: {grids: [GLOBAL_WEBMERCATOR], sources: [c_one], disable_storage: true}
  c_world: {grids: [GLOBAL_WEBMERCATOR], sources: [w_plain], disable_storage: true}
  c_sub: {grids: [sub], sources: [c_world], disable_storage: true}
  c_multi: {grids: [GLOBAL_GEODETIC, GLOBAL_WEBMERCATOR], sources: [w_plain], disable_storage: true}
  c_from_multi: {grids: [GLOBAL_WEBMERCATOR], sources: [c_multi], disable_storage: true}
sources:
  w_3857:
    type: wms
    req: {url: 'http://127.0.0.1:9/service', layers: a}
    coverage: {bbox: [1000000, 5000000, 2000000, 6000000], srs: 'EPSG:3857'}
  w_4326:
    type: wms
    req: {url: 'http://127.0.0.1:9/service', layers: a}
    coverage: {bbox: [5.5, 45.25, 10, 50], bbox_srs: 'EPSG:4326'}
  w_utm:
    type: wms
    req: {url: 'http://127.0.0.1:9/service', layers: a}
    coverage: {bbox: [400000, 5500000, 600000, 5700000], srs: 'EPSG:25832'}
  w_plain:
    type: wms
    req: {url: 'http://127.0.0.1:9/service', layers: a}
`);
  app = await startApp(cfg.file);
});

after(async () => {
  await app?.close();
  await cfg?.cleanup();
});

test('WMTS WGS84BoundingBox: the union of the source coverages, else the grid, as MapProxy 1.15', async () => {
  const res = await get(`${app.url}/wmts/1.0.0/WMTSCapabilities.xml`);
  assert.equal(res.status, 200);
  const boxes = [...res.body.toString().matchAll(
    /<ows:WGS84BoundingBox>\s*<ows:LowerCorner>([^<]*)<\/ows:LowerCorner>\s*<ows:UpperCorner>([^<]*)<\/ows:UpperCorner>\s*<\/ows:WGS84BoundingBox>\s*<ows:Identifier>([^<]*)</g,
  )].map((m) => `${m[3]}: ${m[1]} ${m[2]}`);
  assert.deepEqual(boxes, [
    // One coverage in EPSG:3857, transformed.
    'one: 8.983152841195214 40.91627447067578 17.966305682390427 47.353704702433106',
    // Two coverages (EPSG:4326, EPSG:25832) merged in EPSG:4326. MapProxy: …10.438876794416393.
    'two: 5.5 45.25 10.438876794416394 51.45118220677982',
    // A source without coverage does not widen the extent (MapProxy's DefaultMapExtent).
    'mixed: 5.5 45.25 10.0 50.0',
    'none: -180.0 -85.0511287798066 180.0 85.0511287798066',
    // A cache as source: its extent, cut to the grid of the cache using it.
    'nested: 8.983152841195214 40.91627447067578 17.966305682390427 47.353704702433106',
    'sub: 0.0 0.0 180.0 85.0511287798066',
    // A cache of several grids as source: its first grid's extent, uncut (MapProxy's map_layer).
    'multi: -180.0 -90.0 180.0 90.0',
  ]);
});
