// Start-up parsing shared by all sources: colours, on_error, coverages, res ranges, http options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { getSrs } from '../../../src/grid/index.js';
import { concurrentRequests, httpOptions, parseColor, parseCoverage, parseOnError, parseResRange } from '../../../src/source/config.js';
import { resolveConfigPath } from '../../../src/source/paths.js';

function configMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'MPX_ERR_CONFIG');
    return e.message;
  }
  assert.fail('no error thrown');
}

test('parseColor reads MapProxy colour forms', () => {
  assert.deepEqual(parseColor('#FF0530', 'p'), { color: [255, 5, 48, 255], hasAlpha: false });
  assert.deepEqual(parseColor('0xff0530', 'p'), { color: [255, 5, 48, 255], hasAlpha: false });
  assert.deepEqual(parseColor('#FF053080', 'p'), { color: [255, 5, 48, 128], hasAlpha: true });
  assert.deepEqual(parseColor([100, 12, 55], 'p'), { color: [100, 12, 55, 255], hasAlpha: false });
  assert.deepEqual(parseColor([100, 12, 55, 0], 'p'), { color: [100, 12, 55, 0], hasAlpha: true });
  // MapProxy: 'transparent' is (255, 255, 255, 0).
  assert.deepEqual(parseColor('transparent', 'p'), { color: [255, 255, 255, 0], hasAlpha: true });
  assert.equal(
    configMessage(() => parseColor('red', 'sources.s.on_error.500.response')),
    'invalid configuration:\n  sources.s.on_error.500.response: invalid colour "red": use "#rrggbb", "#rrggbbaa", [r, g, b(, a)] or "transparent"',
  );
  assert.match(configMessage(() => parseColor([1, 2], 'p')), /invalid colour \[1,2\]/);
  assert.match(configMessage(() => parseColor([1, 2, 300], 'p')), /invalid colour \[1,2,300\]/);
});

test('parseOnError keys are status codes or other, with MapProxy defaults', () => {
  const m = parseOnError({ 500: { response: '#ff0000', cache: true }, other: { authorize_stale: true } }, 'sources.s.on_error');
  assert.deepEqual(m?.get('500'), { color: [255, 0, 0, 255], hasAlpha: false, cacheable: true, authorizeStale: false });
  // Default response is transparent, cache false.
  assert.deepEqual(m?.get('other'), { color: [255, 255, 255, 0], hasAlpha: true, cacheable: false, authorizeStale: true });
  assert.equal(parseOnError(undefined, 'p'), undefined);
  assert.equal(
    configMessage(() => parseOnError({ timeout: { response: 'transparent' } }, 'sources.s.on_error')),
    'invalid configuration:\n  sources.s.on_error: invalid error code "timeout" in on_error (use an HTTP status code or "other")',
  );
});

test('parseCoverage takes bbox + srs (bbox_srs first), refuses other coverage kinds by name', () => {
  const c = parseCoverage({ bbox: '5,50,10,55', srs: 'EPSG:4326' }, 'sources.s.coverage', getSrs);
  assert.deepEqual(c?.bbox, [5, 50, 10, 55]);
  assert.equal(c?.srs.code, 'EPSG:4326');
  assert.deepEqual(parseCoverage({ datasource: [1, 2, 3, 4], bbox_srs: 'EPSG:3857' }, 'p', getSrs)?.bbox, [1, 2, 3, 4]);
  // MapProxy's load_coverage: `bbox_srs or srs`, so bbox_srs wins when both are set.
  assert.equal(parseCoverage({ bbox: [0, 40, 20, 60], bbox_srs: 'EPSG:4326', srs: 'EPSG:3857' }, 'p', getSrs)?.srs.code, 'EPSG:4326');
  assert.match(
    configMessage(() => parseCoverage({ bbox: [1, 2, 3, 4], bbox_srs: 'EPSG:999999', srs: 'EPSG:4326' }, 'sources.s.coverage', getSrs)),
    /sources\.s\.coverage\.bbox_srs: unknown SRS EPSG:999999/,
  );
  assert.equal(
    configMessage(() => parseCoverage({ polygons: 'x.txt', polygons_srs: 'EPSG:4326' }, 'sources.s.coverage', getSrs)),
    'invalid configuration:\n  sources.s.coverage.polygons: coverage type "polygons" is not supported for sources (only bbox coverages)',
  );
  assert.equal(configMessage(() => parseCoverage({ bbox: [1, 2, 3, 4] }, 'sources.s.coverage', getSrs)), 'invalid configuration:\n  sources.s.coverage: coverage needs srs');
  assert.equal(
    configMessage(() => parseCoverage({ bbox: [1, 2, 3, 4], srs: 'EPSG:4326', clip: true }, 'sources.s.coverage', getSrs)),
    'invalid configuration:\n  sources.s.coverage.clip: clip is not supported for source coverages',
  );
  assert.equal(
    configMessage(() => parseCoverage({ bbox: [3, 2, 1, 4], srs: 'EPSG:4326' }, 'sources.s.coverage', getSrs)),
    'invalid configuration:\n  sources.s.coverage.bbox: invalid bbox [3,2,1,4]: min must be below max',
  );
  assert.match(configMessage(() => parseCoverage({ bbox: [1, 2, 3, 4], srs: 'EPSG:999999' }, 'sources.s.coverage', getSrs)), /sources\.s\.coverage\.srs: unknown SRS EPSG:999999/);
});

test('parseResRange: res or scale (scale · 0.00028), min above max', () => {
  assert.deepEqual(parseResRange({ type: 'wms', min_res: 100, max_res: 10 }, 'p'), { minRes: 100, maxRes: 10 });
  const r = parseResRange({ type: 'wms', max_scale: 1e6, min_scale: 1e4 }, 'p');
  assert.ok(Math.abs((r?.minRes ?? 0) - 280) < 1e-9 && Math.abs((r?.maxRes ?? 0) - 2.8) < 1e-9);
  assert.equal(parseResRange({ type: 'wms' }, 'p'), undefined);
  assert.equal(configMessage(() => parseResRange({ type: 'wms', min_res: 10, max_res: 100 }, 'sources.s')), 'invalid configuration:\n  sources.s: min_res must be larger than max_res');
  assert.equal(
    configMessage(() => parseResRange({ type: 'wms', min_res: 10, max_scale: 100 }, 'sources.s')),
    'invalid configuration:\n  sources.s: use either min_res/max_res or min_scale/max_scale, not both',
  );
});

test('httpOptions: source http wins over globals.http, headers merge, defaults', () => {
  const o = httpOptions(
    { http: { client_timeout: 30, headers: { A: '1', B: '2' }, hide_error_details: false, ssl_ca_certs: 'ca.pem' } },
    { type: 'wms', http: { client_timeout: 5, headers: { B: '3' } } },
    '/etc/mp',
    resolveConfigPath,
  );
  assert.deepEqual(o, { clientTimeout: 5, headers: { A: '1', B: '3' }, hideErrorDetails: false, sslNoCertChecks: false, sslCaCerts: '/etc/mp/ca.pem', method: 'AUTO' });
  assert.deepEqual(httpOptions({}, { type: 'wms' }, '/x', resolveConfigPath), {
    clientTimeout: 60,
    headers: {},
    hideErrorDetails: true,
    sslNoCertChecks: false,
    sslCaCerts: undefined,
    method: 'AUTO',
  });
});

test('httpOptions: manage_cookies gives the source its own cookie jar', () => {
  const a = httpOptions({ http: { manage_cookies: true } }, { type: 'wms' }, '/x', resolveConfigPath);
  const b = httpOptions({ http: { manage_cookies: true } }, { type: 'wms' }, '/x', resolveConfigPath);
  assert.ok(a.cookies instanceof Map);
  assert.notEqual(a.cookies, b.cookies);
  assert.equal(httpOptions({ http: { manage_cookies: true } }, { type: 'wms', http: { manage_cookies: false } }, '/x', resolveConfigPath).cookies, undefined);
});

test('concurrentRequests: source, then globals.http, else 0', () => {
  assert.equal(concurrentRequests({ http: { concurrent_requests: 4 } }, { type: 'wms', concurrent_requests: 2 }, 'p'), 2);
  assert.equal(concurrentRequests({ http: { concurrent_requests: 4 } }, { type: 'wms' }, 'p'), 4);
  assert.equal(concurrentRequests({}, { type: 'wms' }, 'p'), 0);
  assert.equal(
    configMessage(() => concurrentRequests({}, { type: 'wms', concurrent_requests: -1 }, 'sources.s')),
    'invalid configuration:\n  sources.s.concurrent_requests: must be a whole number ≥ 0, got -1',
  );
});
