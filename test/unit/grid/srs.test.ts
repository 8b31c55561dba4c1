// SRS registry, axis order and transformations. Expected figures come from the real MapProxy 1.15
// (pyproj backend): `/usr/bin/python3 test/unit/grid/mapproxy_reference.py`, lines "axis ne",
// "latlong", "eq", "4326->3857 pts", "bbox …" and "pt 4326->…".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import {
  TransformationError,
  UnknownSrsError,
  envelopePoints,
  getSrs,
  isKnownSrs,
  BUILTIN_SRS,
  SrsRegistry,
  type Bbox,
} from '../../../src/grid/index.js';

function near(actual: readonly number[], expected: readonly number[], tol: number, label = ''): void {
  assert.equal(actual.length, expected.length, label);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `${label}[${i}]: ${v} vs ${expected[i]} (±${tol})`));
}

test('codes are normalised: case, bare numbers; instances are cached', () => {
  const a = getSrs('epsg:3857');
  assert.equal(a.code, 'EPSG:3857');
  assert.equal(getSrs('EPSG:3857'), a);
  assert.equal(getSrs('31466').code, 'EPSG:31466');
  assert.equal(getSrs(4326).code, 'EPSG:4326');
  assert.equal(getSrs('crs:84').code, 'CRS:84');
});

test('web mercator aliases share srsKey EPSG:3857 and compare equal; CRS:84 equals EPSG:4326', () => {
  // MapProxy: SRS(3857) == SRS(900913) == SRS('EPSG:102100'); SRS(4326) == SRS('CRS:84'); 4326 != 4258.
  for (const code of ['EPSG:900913', 'EPSG:102100', 'EPSG:102113', 'EPSG:3857']) {
    const s = getSrs(code);
    assert.equal(s.srsKey, 'EPSG:3857', code);
    assert.ok(s.equals(getSrs('EPSG:3857')), code);
  }
  assert.ok(getSrs('CRS:84').equals(getSrs('EPSG:4326')));
  assert.equal(getSrs('CRS:84').srsKey, 'EPSG:4326');
  assert.ok(!getSrs('EPSG:4326').equals(getSrs('EPSG:4258')));
  assert.ok(!getSrs('EPSG:4326').equals(getSrs('EPSG:3857')));
});

test('unknown codes throw UnknownSrsError', () => {
  assert.equal(isKnownSrs('EPSG:9999'), false);
  assert.throws(() => getSrs('epsg:9999'), (err: unknown) => {
    assert.ok(err instanceof UnknownSrsError);
    assert.equal(err.code, 'MPX_ERR_UNKNOWN_SRS');
    assert.equal(err.status, 400);
    assert.equal(err.ogcCode, 'InvalidSRS');
    assert.equal(err.srsCode, 'EPSG:9999');
    assert.equal(err.message, 'unknown SRS EPSG:9999: no built-in definition and none in globals.srs.proj4_defs');
    return true;
  });
});

test('every built-in code resolves, including all WGS84 UTM zones', () => {
  const codes = ['EPSG:4326', 'EPSG:4258', 'CRS:84', 'EPSG:3857', 'EPSG:900913', 'EPSG:102100', 'EPSG:102113', 'EPSG:25831', 'EPSG:25832', 'EPSG:25833', 'EPSG:31466', 'EPSG:31467', 'EPSG:31468', 'EPSG:31469', 'EPSG:3035', 'EPSG:2056', 'EPSG:21781', 'EPSG:27700', 'EPSG:28992', 'EPSG:3067', 'EPSG:2154'];
  for (let z = 1; z <= 60; z++) codes.push(`EPSG:${32600 + z}`, `EPSG:${32700 + z}`);
  for (const c of codes) assert.equal(getSrs(c).code, c);
  assert.equal(isKnownSrs('EPSG:32661'), false);
  assert.equal(isKnownSrs('EPSG:32700'), false);
});

test('isLatLong and the WMS 1.3.0 axis order match MapProxy 1.15', () => {
  const ne: Record<string, boolean> = {
    'EPSG:4326': true, 'CRS:84': false, 'EPSG:4258': true, 'EPSG:3857': false, 'EPSG:900913': false,
    'EPSG:31466': true, 'EPSG:31468': true, 'EPSG:31469': true, 'EPSG:25832': false, 'EPSG:3035': true,
    'EPSG:2056': false, 'EPSG:21781': false, 'EPSG:27700': false, 'EPSG:28992': false, 'EPSG:3067': false,
    'EPSG:2154': false, 'EPSG:32632': false, 'EPSG:32760': false,
  };
  for (const [code, value] of Object.entries(ne)) assert.equal(getSrs(code).isAxisOrderNE, value, code);
  const latlong: Record<string, boolean> = { 'EPSG:4326': true, 'CRS:84': true, 'EPSG:4258': true, 'EPSG:3857': false, 'EPSG:25832': false };
  for (const [code, value] of Object.entries(latlong)) assert.equal(getSrs(code).isLatLong, value, code);
});

test('alignBboxAxis swaps only for NE systems', () => {
  assert.deepEqual(getSrs('EPSG:4326').alignBboxAxis([-10, 40, 10, 60]), [40, -10, 60, 10]);
  assert.deepEqual(getSrs('CRS:84').alignBboxAxis([-10, 40, 10, 60]), [-10, 40, 10, 60]);
  assert.deepEqual(getSrs('EPSG:3857').alignBboxAxis([1, 2, 3, 4]), [1, 2, 3, 4]);
});

test('axis order overrides (globals.srs.axis_order_ne/en) win over the table, in their registry only', () => {
  const srs = new SrsRegistry({ axisOrderNE: ['epsg:25832', 'EPSG:3035'], axisOrderEN: ['EPSG:4326', '3035'] });
  assert.equal(srs.get('EPSG:25832').isAxisOrderNE, true);
  assert.equal(srs.get('EPSG:4326').isAxisOrderNE, false);
  assert.equal(srs.get('EPSG:31466').isAxisOrderNE, true);
  // MapProxy: a code in both lists is NE.
  assert.equal(srs.get('EPSG:3035').isAxisOrderNE, true);
  // Another configuration's registry, and the built-in one, keep the table.
  const other = new SrsRegistry({ axisOrderEN: ['EPSG:25832'] });
  assert.deepEqual([other.get('EPSG:25832').isAxisOrderNE, other.get('EPSG:4326').isAxisOrderNE], [false, true]);
  assert.deepEqual([getSrs('EPSG:25832').isAxisOrderNE, getSrs('EPSG:4326').isAxisOrderNE], [false, true]);
  assert.equal(srs.get('EPSG:25832').isAxisOrderNE, true);
  assert.deepEqual(srs.get('EPSG:4326').alignBboxAxis([-10, 40, 10, 60]), [-10, 40, 10, 60]);
  assert.deepEqual(other.get('EPSG:4326').alignBboxAxis([-10, 40, 10, 60]), [40, -10, 60, 10]);
});

test('a registry adds user definitions (globals.srs.proj4_defs)', () => {
  const srs = new SrsRegistry({
    proj4Defs: {
      'EPSG:4269': '+proj=longlat +ellps=GRS80 +datum=NAD83 +no_defs',
      31463: '+proj=tmerc +lat_0=0 +lon_0=3 +k=1 +x_0=1500000 +y_0=0 +ellps=bessel +units=m +no_defs',
    },
  });
  const s = srs.get('epsg:4269');
  assert.equal(srs.get('EPSG:4269'), s);
  assert.equal(s.code, 'EPSG:4269');
  assert.equal(s.srsKey, 'EPSG:4269');
  assert.equal(s.isLatLong, true);
  assert.equal(s.isAxisOrderNE, true); // geographic user definitions are lat/lon
  assert.equal(srs.get('EPSG:31463').isAxisOrderNE, false);
  const p = srs.get('EPSG:4326').transformTo(srs.get('EPSG:31463'), [[3, 0]]);
  near(p[0], [1500000, 0], 1e-6);
  // Built-in codes are there too, as their own instances.
  assert.equal(srs.isKnown('EPSG:3857'), true);
  assert.notEqual(srs.get('EPSG:3857'), getSrs('EPSG:3857'));
  // The built-in registry knows none of them.
  assert.deepEqual([isKnownSrs('EPSG:4269'), BUILTIN_SRS.isKnown('EPSG:31463')], [false, false]);
  assert.throws(() => getSrs('EPSG:4269'), UnknownSrsError);
});

test('two registries keep their own definition of a code, also when one SRS is shared by both', () => {
  const a = new SrsRegistry({ proj4Defs: { 'EPSG:7777': '+proj=utm +zone=32 +datum=WGS84 +units=m +no_defs' } });
  const b = new SrsRegistry({ proj4Defs: { 'EPSG:7777': '+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs' } });
  assert.equal(new SrsRegistry().isKnown('EPSG:7777'), false);
  near([a.get('EPSG:7777').transformTo(a.get('EPSG:4326'), [[500000, 0]])[0][0], b.get('EPSG:7777').transformTo(b.get('EPSG:4326'), [[500000, 0]])[0][0]], [9, 15], 1e-9);
  // A built-in SRS transforms into each one's own definition: its converter to a's EPSG:7777 is
  // not reused for b's (15°E is the central meridian of zone 33 only).
  const geo = getSrs('EPSG:4326');
  near([geo.transformTo(a.get('EPSG:7777'), [[9, 0]])[0][0], geo.transformTo(b.get('EPSG:7777'), [[15, 0]])[0][0]], [500000, 500000], 1e-6);
});

test('an unparsable proj4 definition is a ConfigError naming globals.srs.proj4_defs, with every bad one', () => {
  const defs = { 'EPSG:8888': '+proj=nonsense', 'EPSG:4269': '+proj=longlat +datum=NAD83 +no_defs', 8889: '+proj=alsononsense' };
  assert.throws(() => new SrsRegistry({ proj4Defs: defs }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'MPX_ERR_CONFIG');
    assert.deepEqual(err.problems, [
      { path: 'globals.srs.proj4_defs.8889', message: 'invalid proj4 definition "+proj=alsononsense"' },
      { path: 'globals.srs.proj4_defs["EPSG:8888"]', message: 'invalid proj4 definition "+proj=nonsense"' },
    ]);
    return true;
  });
  assert.equal(isKnownSrs('EPSG:8888'), false);
});

test('point transformations 4326 <-> 3857', () => {
  const s4326 = getSrs('EPSG:4326');
  const s3857 = getSrs('EPSG:3857');
  const pts = s4326.transformTo(s3857, [[8.22, 53.15], [-180, 0], [180, 85.0511287798066]]);
  near(pts.flat(), [915046.2143207088, 7010792.201710816, -20037508.342789244, 0, 20037508.342789244, 20037508.342789248], 1e-6);
  near(s3857.transformTo(s4326, [[915046.2143207088, 7010792.201710816]])[0], [8.22, 53.15], 1e-9);
  // Same CRS: points come back unchanged (copied).
  assert.deepEqual(getSrs('EPSG:900913').transformTo(s3857, [[1.5, 2.5]]), [[1.5, 2.5]]);
});

test('transformBboxTo: MapProxy pins 4326 -> 3857 to the Mercator square at ±180°/±85.06°', () => {
  const s4326 = getSrs('EPSG:4326');
  const s3857 = getSrs('EPSG:3857');
  const m = 20037508.342789244;
  assert.deepEqual(s4326.transformBboxTo(s3857, [-180, -90, 180, 90]), [-m, -m, m, m]);
  assert.deepEqual(s4326.transformBboxTo(getSrs('EPSG:900913'), [-180, -85.06, 0, 0]), [-m, -m, 0, 0]);
  assert.deepEqual(s3857.transformBboxTo(s4326, [-m, -m, m, m]), [-180, -85.0511287798066, 180, 85.0511287798066]);
  // 85.055 is below the 85.06 threshold: not pinned, so maxy exceeds the square.
  near(s4326.transformBboxTo(s3857, [-10, 40, 10, 85.055]), [-1113194.9079327357, 4865942.279503175, 1113194.9079327357, 20042505.75532945], 1e-5);
  near(s4326.transformBboxTo(s3857, [8.2, 53.1, 8.3, 53.2]), [912819.8245048431, 7001516.677450222, 923951.7735841707, 7020078.532642098], 1e-6);
  near(s3857.transformBboxTo(s4326, [-m, -m, m, m]), [-180, -85.0511287798066, 180, 85.0511287798066], 1e-9);
});

test('transformBboxTo uses an envelope of points: 16 by default, 4 = corners only', () => {
  const s4326 = getSrs('EPSG:4326');
  const utm = getSrs('EPSG:25832');
  near(s4326.transformBboxTo(utm, [6, 47, 15, 55]), [271930.4349336657, 5205437.050709649, 956095.0727166161, 6111268.070079633], 1e-5);
  near(s4326.transformBboxTo(utm, [6, 47, 15, 55], 4), [271930.4349336657, 5209532.848010845, 956095.0727166161, 6111268.070079633], 1e-5);
  near(utm.transformBboxTo(s4326, [280000, 5200000, 920000, 6100000]), [5.560259235058208, 46.820886895849696, 15.54943005819843, 55.04318512509313], 1e-10);
  const same: Bbox = [1, 2, 3, 4];
  assert.equal(getSrs('CRS:84').transformBboxTo(s4326, same), same);
});

test('a bbox with no transformable point throws TransformationError', () => {
  // (-170, -52) is the antipode of the LAEA Europe centre: no projected point exists.
  assert.throws(() => getSrs('EPSG:4326').transformBboxTo(getSrs('EPSG:3035'), [-170, -52, -170, -52]), (err: unknown) => {
    assert.ok(err instanceof TransformationError);
    assert.equal(err.code, 'MPX_ERR_TRANSFORMATION');
    assert.equal(err.message, 'cannot transform bbox -170,-52,-170,-52 from EPSG:4326 to EPSG:3035');
    return true;
  });
});

test('4326 <-> 3857 follow PROJ webmerc: exact zero, ±180° and finite poles', () => {
  // MapProxy (pyproj): (0, 90) -> (0.0, 242528680.94374272); (-20037508.342789244, 0) -> (-180.0, 0.0);
  // (915046.2143207088, 7010792.201710816) -> (8.219999999999999, 53.15).
  const s4326 = getSrs('EPSG:4326');
  const s3857 = getSrs('EPSG:3857');
  assert.deepEqual(s4326.transformTo(s3857, [[0, 90], [0, 0], [-180, 0]]), [[0, 242528680.94374272], [0, 0], [-20037508.342789244, 0]]);
  assert.deepEqual(s3857.transformTo(s4326, [[915046.2143207088, 7010792.201710816], [-20037508.342789244, 0]]), [[8.219999999999999, 53.15], [-180, 0]]);
  // Longitudes beyond 180° wrap as PROJ's adjlon does: 200° -> -160°.
  near(s4326.transformTo(s3857, [[200, 10]])[0], [-17811118.526923772, 1118889.9748579594], 1e-6);
  assert.deepEqual(s4326.transformBboxTo(s3857, [-180, -90, 180, 0]), [-20037508.342789244, -20037508.342789244, 20037508.342789244, 0]);
});

test('built-in projected definitions agree with PROJ (as used by MapProxy)', () => {
  const s4326 = getSrs('EPSG:4326');
  // [code, lon/lat, PROJ result, tolerance in m]. DHDN: PROJ picks another Helmert set than the
  // common towgs84 parameters used here, so 31467 agrees to about half a metre only.
  const cases: Array<[string, [number, number], [number, number], number]> = [
    ['EPSG:31467', [9.5, 50.5], [3535549.1176124196, 5596143.72240241], 0.6],
    ['EPSG:28992', [5.1, 52.1], [135321.21812639205, 456900.4281491477], 0.01],
    ['EPSG:2056', [7.4, 46.9], [2597056.20281252, 1194321.8764795235], 0.01],
    ['EPSG:21781', [7.4, 46.9], [597056.2028125199, 194321.87647952358], 0.01],
    ['EPSG:27700', [-1.5, 52.0], [434423.00723593397, 233624.3747866071], 0.01],
    ['EPSG:3035', [10, 52], [4321000.0, 3210000.0], 0.001],
    ['EPSG:2154', [2.35, 48.85], [652301.5648305281, 6861302.725899576], 0.001],
    ['EPSG:3067', [25, 61], [391839.9655187505, 6764438.658975508], 0.001],
    ['EPSG:32633', [15, 52], [500000.0000000011, 5761038.212590415], 0.001],
    ['EPSG:32733', [15, -30], [500000.0000000015, 6681214.647418793], 0.001],
    ['EPSG:4258', [10, 50], [10, 50], 1e-9],
  ];
  for (const [code, p, expected, tol] of cases) near(s4326.transformTo(getSrs(code), [p])[0], expected, tol, code);
});

test('envelopePoints: MapProxy generate_envelope_points', () => {
  assert.deepEqual(envelopePoints([10, 5, 20, 15], 4), [[10, 5], [20, 5], [20, 15], [10, 15]]);
  assert.deepEqual(envelopePoints([10, 5, 20, 15], 8), [[10, 5], [15, 5], [20, 5], [20, 10], [20, 15], [15, 15], [10, 15], [10, 10]]);
  assert.equal(envelopePoints([0, 0, 1, 1], 16).length, 16);
});
