// validateConfig: type and shape errors with YAML paths, unknown-key warnings, every problem at
// once in one ConfigError, and the normal shape of a valid configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/errors.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { validateConfig } from '../../../src/config/validate.js';
import { yaml11Number } from '../../../src/config/schema-check.js';
import { minimal, problemLines, report, warningLines, withSections } from './helpers.js';

const fixtures = fileURLToPath(new URL('../../fixtures/config/', import.meta.url));

test('the realistic full configuration (the rig config minus unsupported parts) validates clean', async () => {
  const { config, dir } = await loadConfigFile(`${fixtures}full.yaml`);
  const result = validateConfig(config, { file: `${fixtures}full.yaml`, dir });
  assert.deepEqual(result.warnings, []);
  assert.deepEqual(result.config.caches?.world_cache.grids, ['GLOBAL_WEBMERCATOR']);
  assert.equal(result.config.sources?.world_wms.type, 'wms');
  assert.deepEqual(result.config.globals?.cache?.meta_size, [4, 4]);
  assert.equal(result.config.layers?.[1].layers?.[0].name, 'osm');
});

test('the minimal configuration is valid and returned unchanged, input not modified', () => {
  const raw = minimal();
  const copy = structuredClone(raw);
  const { config, warnings } = validateConfig(raw);
  assert.deepEqual(config, copy);
  assert.deepEqual(warnings, []);
  assert.deepEqual(raw, copy);
  assert.notEqual(config, raw);
});

test('empty values where a mapping belongs become empty mappings (as MapProxy reads them)', () => {
  const { config } = validateConfig(withSections({ services: { tms: null, wmts: null }, globals: null }));
  assert.deepEqual(config.services, { tms: {}, wmts: {} });
  assert.deepEqual(config.globals, {});
});

test('caches as a list of one-key mappings become one mapping', () => {
  const { config } = validateConfig(withSections({ caches: [{ c: { sources: ['s'] } }, { d: { sources: [] } }] }));
  assert.deepEqual(config.caches, { c: { sources: ['s'] }, d: { sources: [] } });
});

test('base is accepted and not returned', () => {
  const { config } = validateConfig(withSections({ base: 'other.yaml' }));
  assert.equal(Object.hasOwn(config, 'base'), false);
});

test('type errors name the YAML path and what was expected', () => {
  const lines = problemLines(
    withSections({
      globals: {
        cache: { meta_size: [4], meta_buffer: -1, bulk_meta_tiles: 'yes please' },
        image: { jpeg_quality: 'abc', resampling_method: 'bicubc' },
        http: { client_timeout: 'abc', headers: { 'X-A': 1 } },
      },
      grids: { g: { origin: 'xx', bbox: '1,2,3', res_factor: 'sqr', tile_size: [256, 'a'] } },
      sources: { s: { type: 'debug' }, wms1: { type: 'wms', req: { url: 5 }, wms_opts: { version: '1.2' } } },
    }),
  );
  // In file order: minimal()'s sections (sources) come before the added ones.
  assert.deepEqual(lines, [
    'sources.wms1.req.url: expected a string, got 5',
    'sources.wms1.wms_opts.version: expected one of 1.0.0, 1.1.0, 1.1.1, 1.3.0, got "1.2"',
    'globals.cache.meta_size: expected a list of 2 integers >= 1, got [4]',
    'globals.cache.meta_buffer: expected an integer >= 0, got -1',
    'globals.cache.bulk_meta_tiles: expected true or false, got "yes please"',
    'globals.image.jpeg_quality: expected an integer from 1 to 100, got "abc"',
    'globals.image.resampling_method: expected one of nearest, bilinear, bicubic, got "bicubc" (did you mean bicubic?)',
    'globals.http.client_timeout: expected a number > 0, got "abc"',
    'globals.http.headers.X-A: expected a string, got 1',
    'grids.g.origin: expected one of ll, sw, ul, nw, got "xx"',
    'grids.g.bbox: expected a list of 4 numbers or a string "minx,miny,maxx,maxy", got "1,2,3"',
    'grids.g.res_factor: expected a number > 1 or "sqrt2", got "sqr"',
    'grids.g.tile_size[1]: expected an integer >= 1, got "a"',
  ]);
});

test('list items, nested layers and missing required keys', () => {
  const lines = problemLines(
    withSections({
      caches: { c: { sources: ['s', 3], grids: 'GLOBAL_MERCATOR' }, d: { grids: [] } },
      layers: [{ name: 'l', title: 'L', sources: ['c'], layers: [{ name: 'sub', sources: ['c'] }] }],
      sources: { s: { type: 'debug' }, w: { type: 'wms' }, t: { type: 'tile' }, n: {} },
    }),
  );
  assert.deepEqual(lines, [
    'layers[0].layers[0]: missing required key "title"',
    'caches.c.sources[1]: expected a string, got 3',
    'caches.c.grids: expected a list of strings, got "GLOBAL_MERCATOR"',
    'caches.d: missing required key "sources"',
    'sources.w: missing required key "req"',
    'sources.t: missing required key "url"',
    'sources.n: missing required key "type"',
  ]);
});

test('a wrong value for a whole section says what the section is', () => {
  assert.deepEqual(problemLines({ services: { tms: {} }, layers: 3, caches: 'x', sources: [], grids: { a: 3 } }), [
    'layers: expected a list of layers or a mapping, got 3',
    'caches: expected a mapping or a list of mappings, got "x"',
    'sources: expected a mapping, got []',
    'grids.a: expected a mapping, got 3',
  ]);
});

test('an unknown source type lists the known ones with a did-you-mean', () => {
  assert.deepEqual(problemLines(withSections({ sources: { s: { type: 'debug' }, x: { type: 'wmss', req: { url: 'u' } } } })), [
    'sources.x.type: expected one of wms, tile, mapserver, mapnik, arcgis, debug, ogcapitiles, ogcapimaps, got "wmss" (did you mean wms?)',
  ]);
});

test('a number YAML 1.1 reads as text gets a hint with that number written the YAML 1.1 way', () => {
  const hint = (v: string) => `(YAML 1.1, as MapProxy reads it, takes this for text: write it as ${v}, with a dot and a signed exponent)`;
  assert.deepEqual(problemLines('grids:\n  g:\n    min_res: 1e-5\n    max_res: 1e5\n    stretch_factor: 2E-3\n    max_shrink_factor: 1.5e3\n'), [
    `grids.g.min_res: expected a number > 0, got "1e-5" ${hint('1.0e-5')}`,
    `grids.g.max_res: expected a number > 0, got "1e5" ${hint('1.0e+5')}`,
    `grids.g.stretch_factor: expected a number >= 1, got "2E-3" ${hint('2.0e-3')}`,
    `grids.g.max_shrink_factor: expected a number >= 1, got "1.5e3" ${hint('1.5e+3')}`,
  ]);
  // A value YAML 1.1 reads as a number already was quoted on purpose: no hint.
  assert.deepEqual(problemLines('grids:\n  g:\n    min_res: "1.0e+5"\n'), ['grids.g.min_res: expected a number > 0, got "1.0e+5"']);
});

test('yaml11Number: the user\'s number with a dot and a signed exponent, as PyYAML reads floats', () => {
  // MapProxy (PyYAML): a float needs a dot and an exponent sign; python3 -c 'import yaml; print(yaml.safe_load("1.0e+5"))' -> 100000.0
  const cases: [string, string | undefined][] = [
    ['1e5', '1.0e+5'],
    ['2E-3', '2.0e-3'],
    ['1.5e3', '1.5e+3'],
    ['-1e+5', '-1.0e+5'],
    ['.5e3', '0.5e+3'],
    ['-.5e-3', '-0.5e-3'],
    ['1.e5', '1.0e+5'],
    ['1.0e+5', undefined],
    ['.5e+3', undefined],
    ['1e', undefined],
    ['e5', undefined],
    ['.e5', undefined],
    ['abc', undefined],
  ];
  for (const [text, want] of cases) assert.equal(yaml11Number(text), want, text);
});

test('unknown keys are warnings with a did-you-mean, never errors', () => {
  const config = withSections({
    globals: { image: { resampling: 'bilinear' }, cache: { metasize: [2, 2] } },
    caches: { c: { sources: ['s'], grid: ['GLOBAL_MERCATOR'], unheard_of: 1 } },
    services: { tms: {}, wmts: { restfull: true } },
  });
  assert.deepEqual(report(config).problems, []);
  assert.deepEqual(warningLines(config), [
    'services.wmts.restfull: unknown key (did you mean restful?)',
    'caches.c.grid: unknown key (did you mean grids?)',
    'caches.c.unheard_of: unknown key',
    'globals.image.resampling: unknown key (did you mean resampling_method?)',
    'globals.cache.metasize: unknown key (did you mean meta_size?)',
  ]);
  const { warnings } = validateConfig(config);
  assert.equal(warnings.length, 5);
});

test('validateConfig throws one ConfigError listing every problem, in file order', () => {
  const raw = withSections({
    services: { tms: { origin: 'up' }, demo: {} },
    caches: { c: { sources: ['s', 'nope'], grids: ['GLOBAL_MERCATR'] } },
    grids: { g: { srs: 'EPSG:4326', origin: 1 } },
  });
  let err: unknown;
  try {
    validateConfig(raw, { file: '/etc/mapproxy.yaml', dir: '/etc' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.equal(err.code, 'MPX_ERR_CONFIG');
  assert.equal(err.file, '/etc/mapproxy.yaml');
  assert.deepEqual(err.problems, [
    { path: 'services.tms.origin', message: 'expected one of sw, nw, got "up"' },
    { path: 'services.demo', message: 'not supported yet' },
    { path: 'caches.c.sources[1]', message: 'unknown source "nope"' },
    { path: 'caches.c.grids[0]', message: 'unknown grid "GLOBAL_MERCATR" (did you mean GLOBAL_MERCATOR?)' },
    { path: 'grids.g.origin', message: 'expected one of ll, sw, ul, nw, got 1' },
  ]);
  assert.equal(
    err.message,
    [
      'invalid configuration /etc/mapproxy.yaml:',
      '  services.tms.origin: expected one of sw, nw, got "up"',
      '  services.demo: not supported yet',
      '  caches.c.sources[1]: unknown source "nope"',
      '  caches.c.grids[0]: unknown grid "GLOBAL_MERCATR" (did you mean GLOBAL_MERCATOR?)',
      '  grids.g.origin: expected one of ll, sw, ul, nw, got 1',
    ].join('\n'),
  );
});

test('keys that need quoting in paths are quoted', () => {
  assert.deepEqual(problemLines(withSections({ globals: { srs: { proj4_defs: { 'EPSG:31467': 3 } } } })), [
    'globals.srs.proj4_defs["EPSG:31467"]: expected a string, got 3',
  ]);
});
