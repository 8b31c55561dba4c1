// proj4 is loaded on the first transformation that needs it: web mercator and WGS84 grids, their
// bboxes and the 4326 <-> 3857 transformations never load it (a worker serving them saves a few MiB).
// Its own file: node:test runs each file in a fresh process, so nothing else has loaded proj4 here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { buildGrids } from '../../../src/grid/index.js';
import { SrsRegistry, builtinSrsDefinitions, getSrs, proj4IsLoaded } from '../../../src/grid/srs.js';

test('the default grids and 4326 <-> 3857 work without loading proj4', () => {
  const grids = buildGrids({ own: { base: 'GLOBAL_WEBMERCATOR', bbox: [-20, -10, 30, 40], bbox_srs: 'EPSG:4326' } });
  for (const name of ['GLOBAL_WEBMERCATOR', 'GLOBAL_GEODETIC', 'GLOBAL_MERCATOR', 'own']) assert.ok(grids.has(name), name);
  const merc = getSrs('EPSG:900913');
  const geo = getSrs('CRS:84');
  assert.deepEqual([merc.isLatLong, geo.isLatLong, geo.isAxisOrderNE, getSrs('EPSG:4326').isAxisOrderNE], [false, true, false, true]);
  assert.ok(geo.transformBboxTo(merc, [-180, -80, 180, 80])[3] > 15e6);
  assert.deepEqual(getSrs('EPSG:4326').transformBboxTo(merc, [-180, -85.06, 180, 85.06]), [-20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244]);
  assert.deepEqual(merc.transformTo(getSrs('EPSG:4326'), [[20037508.342789244, 0]]), [[180, 0]]);
  assert.equal(proj4IsLoaded(), false);
  // Nor did any module of the grid code import it statically.
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/node_modules/proj4/'));
  assert.deepEqual(loaded, []);
});

test('isLatLong of every built-in definition is what proj4 says of it', async () => {
  const { default: proj4 } = await import('proj4');
  for (const [code, def] of builtinSrsDefinitions()) {
    const name = (proj4.Proj(def) as unknown as { projName: string }).projName;
    assert.equal(getSrs(code).isLatLong, ['longlat', 'latlong', 'lonlat', 'latlon', 'identity'].includes(name), `${code} (${name})`);
  }
  // Loaded by this test, not by the SRS code.
  assert.equal(proj4IsLoaded(), false);
});

test('another pair, or a user definition, loads proj4 when it is needed', () => {
  const utm = getSrs('EPSG:25832');
  assert.equal(proj4IsLoaded(), false);
  const [x, y] = getSrs('EPSG:4326').transformTo(utm, [[9, 0]])[0];
  assert.ok(Math.abs(x - 500000) < 1e-6 && Math.abs(y) < 1e-6, `${x} ${y}`);
  assert.equal(proj4IsLoaded(), true);
  // A user definition is parsed (and so checked) when its registry is made.
  assert.throws(() => new SrsRegistry({ proj4Defs: { 'EPSG:99999': '+proj=nonsense' } }), /invalid proj4 definition/);
  assert.equal(new SrsRegistry({ proj4Defs: { 'EPSG:99998': '+proj=longlat +ellps=WGS84 +no_defs' } }).get('EPSG:99998').isLatLong, true);
});
