// Scale denominators and the number text of TMS/WMTS capabilities. Expected strings: the rig's
// recorded MapProxy 1.15 capabilities (shared/rig/samples/wmts_capabilities_kvp.xml,
// tms_layer_capabilities.xml) and `/usr/bin/python3 test/unit/grid/mapproxy_reference.py`
// ("wmts … scale_denoms", "units per pixel").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GLOBAL_GEODETIC,
  GLOBAL_WEBMERCATOR,
  METERS_PER_DEGREE,
  OGC_PIXEL_SIZE,
  createTileGrid,
  degToMeters,
  formatScaleDenominator,
  formatUnitsPerPixel,
  metersPerUnit,
  resToScale,
  scaleHint,
  scaleToRes,
  wmtsScaleDenominator,
} from '../../../src/grid/index.js';

test('WMTS ScaleDenominator text of GLOBAL_WEBMERCATOR equals MapProxy 1.15 output', () => {
  const expected = [
    '559082264.0287176', '279541132.0143588', '139770566.0071794', '69885283.0035897', '34942641.50179485',
    '17471320.750897426', '8735660.375448713', '4367830.187724357', '2183915.0938621783', '1091957.5469310891',
    '545978.7734655446', '272989.3867327723', '136494.69336638614', '68247.34668319307', '34123.673341596535',
    '17061.836670798268', '8530.918335399134', '4265.459167699567', '2132.7295838497835', '1066.3647919248917',
  ];
  const srs = GLOBAL_WEBMERCATOR.srs;
  assert.deepEqual(GLOBAL_WEBMERCATOR.resolutions.map((r) => formatScaleDenominator(wmtsScaleDenominator(r, srs))), expected);
});

test('geographic grids convert degrees with 111319.4907932736 m/°', () => {
  const g = createTileGrid({ name: 'g', srs: 'EPSG:4326', origin: 'nw' });
  assert.deepEqual(g.resolutions.slice(0, 4).map((r) => formatScaleDenominator(wmtsScaleDenominator(r, g.srs))), [
    '559082264.0287179', '279541132.01435894', '139770566.00717947', '69885283.00358973',
  ]);
  assert.equal(metersPerUnit(GLOBAL_GEODETIC.srs), METERS_PER_DEGREE);
  assert.equal(metersPerUnit(GLOBAL_WEBMERCATOR.srs), 1);
});

test("the 'rounded' style rounds to 10 decimals and strips the trailing .0", () => {
  // res / 0.00028 differs in the last digits from MapProxy 1.15's res / (0.28 / 1000).
  assert.equal(formatScaleDenominator(resToScale(156543.03392804097)), '559082264.0287178');
  assert.equal(formatScaleDenominator(156543.03392804097 / 0.00028, 'rounded'), '559082264.0287178');
  assert.equal(formatScaleDenominator(1066.3647919248917, 'rounded'), '1066.3647919249');
  assert.equal(formatScaleDenominator(5000, 'rounded'), '5000');
  assert.equal(formatScaleDenominator(5000), '5000.0');
});

test('TMS units-per-pixel is Python str(float)', () => {
  assert.deepEqual(GLOBAL_WEBMERCATOR.resolutions.slice(1, 10).map(formatUnitsPerPixel), [
    '78271.51696402048', '39135.75848201024', '19567.87924100512', '9783.93962050256', '4891.96981025128',
    '2445.98490512564', '1222.99245256282', '611.49622628141', '305.748113140705',
  ]);
  assert.equal(formatUnitsPerPixel(GLOBAL_GEODETIC.resolutions[14]), '8.58306884765625e-05');
  assert.equal(formatUnitsPerPixel(GLOBAL_GEODETIC.resolutions[19]), '2.682209014892578e-06');
  assert.equal(formatUnitsPerPixel(GLOBAL_GEODETIC.resolutions[0]), '1.40625');
});

test('res <-> scale with the OGC 0.28 mm pixel (same float operations as MapProxy)', () => {
  // Python: 0.28/0.00028, 1000*0.00028, 1/0.00028*111319.49…, 1*(6378137*2*pi)/360, sqrt(2*10**2).
  assert.equal(OGC_PIXEL_SIZE, 0.00028);
  assert.equal(resToScale(0.28), 1000.0000000000002);
  assert.equal(scaleToRes(1000), 0.27999999999999997);
  assert.equal(resToScale(1, METERS_PER_DEGREE), 397569609.9759771);
  assert.equal(scaleToRes(397569609.9759771, METERS_PER_DEGREE), 0.9999999999999999);
  assert.equal(degToMeters(1), 111319.49079327358);
  assert.equal(scaleHint(10), 14.142135623730951);
});
