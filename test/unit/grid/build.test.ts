// Grids from the `grids:` section (MapProxy's GridConfiguration.tile_grid(), REFERENCE.md §2.2,
// §2.3): defaults always present, `base`, globals fallbacks, align_resolutions_with, and one
// ConfigError naming the YAML path for every invalid value or combination.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { buildGrids, GLOBAL_MERCATOR, type GridConfig } from '../../../src/grid/index.js';

const M = 20037508.342789244;

/** buildGrids must throw a ConfigError with exactly these [path, message] problems. */
function rejects(conf: Record<string, unknown>, problems: Array<[string, string]>, globals = {}): void {
  assert.throws(
    () => buildGrids(conf as Record<string, GridConfig>, globals),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.code, 'MPX_ERR_CONFIG');
      assert.deepEqual(
        err.problems.map((p) => [p.path, p.message]),
        problems,
      );
      assert.equal(err.message, `invalid configuration:\n  ${problems.map(([p, m]) => `${p}: ${m}`).join('\n  ')}`);
      return true;
    },
  );
}

test('the three default grids are always there, first, keyed by name', () => {
  for (const conf of [undefined, null, {}]) {
    const grids = buildGrids(conf);
    assert.deepEqual([...grids.keys()], ['GLOBAL_GEODETIC', 'GLOBAL_MERCATOR', 'GLOBAL_WEBMERCATOR']);
    const web = grids.get('GLOBAL_WEBMERCATOR')!;
    assert.equal(web.name, 'GLOBAL_WEBMERCATOR');
    assert.equal(web.srs.code, 'EPSG:3857');
    assert.equal(web.origin, 'ul');
    assert.deepEqual(web.resolutions, GLOBAL_MERCATOR.resolutions);
    assert.equal(grids.get('GLOBAL_MERCATOR')!.origin, 'll');
    assert.equal(grids.get('GLOBAL_GEODETIC')!.srs.code, 'EPSG:4326');
  }
});

test('globals tile_size, stretch_factor and max_shrink_factor apply to every grid without its own', () => {
  const grids = buildGrids({ own: { base: 'GLOBAL_MERCATOR', tile_size: [256, 256], stretch_factor: 1.5 } }, { tileSize: [512, 512], stretchFactor: 1.2, maxShrinkFactor: 2 });
  const merc = grids.get('GLOBAL_MERCATOR')!;
  // MapProxy: defaults go through the same configuration path, so globals reach them too.
  assert.deepEqual(merc.tileSize, [512, 512]);
  assert.equal(merc.resolutions[0], 78271.51696402048);
  assert.equal(merc.stretchFactor, 1.2);
  assert.equal(merc.maxShrinkFactor, 2);
  const own = grids.get('own')!;
  assert.deepEqual(own.tileSize, [256, 256]);
  assert.equal(own.resolutions[0], 156543.03392804097);
  assert.equal(own.stretchFactor, 1.5);
  assert.equal(own.maxShrinkFactor, 2);
});

test('a user grid: name defaults to the key; bbox as a string; origin nw', () => {
  const grids = buildGrids({
    utm: { srs: 'epsg:25832', bbox: '280000,5200000,920000,6100000', origin: 'NW', res: [1000, 100, 10] },
    named: { name: 'Named Grid', srs: 'EPSG:25832', bbox: [0, 0, 1000, 1000], num_levels: 3, threshold_res: [3] },
  });
  const utm = grids.get('utm')!;
  assert.equal(utm.name, 'utm');
  assert.equal(utm.srs.code, 'EPSG:25832');
  assert.deepEqual(utm.bbox, [280000, 5200000, 920000, 6100000]);
  assert.equal(utm.origin, 'ul');
  assert.deepEqual(utm.resolutions, [1000, 100, 10]);
  const named = grids.get('named')!;
  assert.equal(named.name, 'Named Grid');
  assert.deepEqual(named.resolutions, [3.90625, 1.953125, 0.9765625]);
  assert.deepEqual(named.thresholdRes, [3]);
  assert.deepEqual([...grids.keys()].slice(3), ['utm', 'named']);
});

test('base copies the other grid, own keys win, name is never inherited', () => {
  const grids = buildGrids({
    deep: { base: 'GLOBAL_WEBMERCATOR', num_levels: 25 },
    deeper: { base: 'deep', min_res: 1000, name: 'Deeper' },
    osm: { base: 'GLOBAL_WEBMERCATOR', srs: 'EPSG:900913' },
  });
  const deep = grids.get('deep')!;
  assert.equal(deep.name, 'deep');
  assert.equal(deep.srs.code, 'EPSG:3857');
  assert.equal(deep.origin, 'ul');
  assert.equal(deep.levels, 25);
  assert.equal(deep.resolutions[24], 156543.03392804097 / 2 ** 24);
  const deeper = grids.get('deeper')!;
  assert.equal(deeper.name, 'Deeper');
  assert.equal(deeper.levels, 25);
  assert.equal(deeper.resolutions[0], 1000);
  assert.equal(deeper.origin, 'ul');
  assert.equal(grids.get('osm')!.srs.code, 'EPSG:900913');
  assert.equal(grids.get('osm')!.origin, 'ul');
});

test('a user entry named like a default replaces it', () => {
  const grids = buildGrids({ GLOBAL_MERCATOR: { srs: 'EPSG:3857', origin: 'nw', num_levels: 5 } });
  const g = grids.get('GLOBAL_MERCATOR')!;
  assert.equal(g.name, 'GLOBAL_MERCATOR');
  assert.equal(g.srs.code, 'EPSG:3857');
  assert.equal(g.origin, 'ul');
  assert.equal(g.levels, 5);
});

test('resolution keys: res_factor sqrt2, min/max_res, bbox_srs, align_resolutions_with (in any order)', () => {
  const grids = buildGrids({
    aligned: { srs: 'EPSG:3857', min_res: 10000, max_res: 1000, res_factor: 'sqrt2', align_resolutions_with: 'base2' },
    base2: { base: 'GLOBAL_MERCATOR' },
    sq: { srs: 'EPSG:3857', res_factor: 'sqrt2' },
    range: { srs: 'EPSG:25832', bbox: [0, 0, 1, 1], min_res: 0.01, max_res: 0.0025 },
    logs: { srs: 'EPSG:25832', bbox: [0, 0, 1, 1], min_res: 1000, max_res: 10, num_levels: 6 },
    viaSrs: { srs: 'EPSG:3857', bbox: [5, 50, 10, 55], bbox_srs: 'EPSG:4326' },
  });
  assert.deepEqual(grids.get('aligned')!.resolutions, [
    9783.93962050256, 6918.290052377097, 4891.96981025128, 3459.1450261885484, 2445.98490512564, 1729.5725130942742, 1222.99245256282, 864.7862565471371,
  ]);
  assert.equal(grids.get('sq')!.levels, 40);
  assert.deepEqual(grids.get('range')!.resolutions, [0.01, 0.005]);
  assert.deepEqual(grids.get('logs')!.resolutions, [1000.0, 398.1071705534973, 158.48931924611142, 63.0957344480193, 25.118864315095795, 10.0]);
  const b = grids.get('viaSrs')!.bbox;
  assert.ok(Math.abs(b[0] - 556597.4539663679) < 1e-6 && Math.abs(b[3] - 7361866.113051188) < 1e-6, b.join(','));
});

test('structure errors: not a mapping, unknown base, base cycle', () => {
  rejects({ a: null }, [['grids.a', 'must be a mapping of grid options']]);
  rejects({ a: ['x'] }, [['grids.a', 'must be a mapping of grid options']]);
  rejects({ a: { base: 'nope' } }, [['grids.a.base', "unknown base grid 'nope' (known: GLOBAL_GEODETIC, GLOBAL_MERCATOR, GLOBAL_WEBMERCATOR, a)"]]);
  rejects({ a: { base: 7 } }, [['grids.a.base', 'must be the name of another grid']]);
  rejects({ a: { base: 'b' }, b: { base: 'a' } }, [
    ['grids.a.base', 'base grids form a cycle: a -> b -> a'],
    ['grids.b.base', 'base grids form a cycle: b -> a -> b'],
  ]);
  rejects({ a: { base: 'a' } }, [['grids.a.base', 'base grids form a cycle: a -> a']]);
});

test('srs and bbox errors', () => {
  rejects({ a: { srs: 'EPSG:9999', bbox: [0, 0, 1, 1] } }, [['grids.a.srs', "unknown SRS 'EPSG:9999' (define it in globals.srs.proj4_defs)"]]);
  rejects({ a: { srs: ['EPSG:3857'] } }, [['grids.a.srs', 'must be an SRS code such as EPSG:3857']]);
  rejects({ a: { srs: 'EPSG:25832' } }, [
    ['grids.a.bbox', 'is required for a grid in EPSG:25832 (only EPSG:4326, EPSG:900913, EPSG:3857, EPSG:102100 and EPSG:102113 have a default bbox)'],
  ]);
  rejects({ a: { srs: 'CRS:84' } }, [
    ['grids.a.bbox', 'is required for a grid in CRS:84 (only EPSG:4326, EPSG:900913, EPSG:3857, EPSG:102100 and EPSG:102113 have a default bbox)'],
  ]);
  const shape = "must be four numbers [minx, miny, maxx, maxy] or a string 'minx,miny,maxx,maxy'";
  rejects({ a: { bbox: '1,2,3' } }, [['grids.a.bbox', shape]]);
  rejects({ a: { bbox: [1, 2, 'x', 4] } }, [['grids.a.bbox', shape]]);
  rejects({ a: { bbox: '1,2,,4' } }, [['grids.a.bbox', shape]]);
  rejects({ a: { bbox: [10, 0, 0, 10] } }, [['grids.a.bbox', 'minx must be less than maxx and miny less than maxy, got 10,0,0,10']]);
  rejects({ a: { bbox_srs: 'EPSG:4326' } }, [['grids.a.bbox_srs', 'is set but bbox is not']]);
  rejects({ a: { bbox: [0, 0, 1, 1], bbox_srs: 'EPSG:1' } }, [['grids.a.bbox_srs', "unknown SRS 'EPSG:1' (define it in globals.srs.proj4_defs)"]]);
  rejects({ a: { bbox: [0, 0, 1, 1], bbox_srs: {} } }, [['grids.a.bbox_srs', 'must be an SRS code such as EPSG:4326']]);
  // Around the antipode of the LAEA Europe centre no point projects.
  rejects({ a: { srs: 'EPSG:3035', bbox: [-170.0001, -52.0001, -169.9999, -51.9999], bbox_srs: 'EPSG:4326' } }, [
    ['grids.a.bbox_srs', 'cannot transform bbox -170.0001,-52.0001,-169.9999,-51.9999 from EPSG:4326 to EPSG:3035'],
  ]);
});

test('resolution errors', () => {
  rejects({ a: { res: [100, 10], min_res: 100 } }, [['grids.a.res', 'cannot be combined with min_res']]);
  rejects({ a: { res: [100, 10], max_res: 1, align_resolutions_with: 'GLOBAL_MERCATOR' } }, [
    ['grids.a.res', 'cannot be combined with max_res'],
    ['grids.a.res', 'cannot be combined with align_resolutions_with'],
  ]);
  rejects({ a: { res: [] } }, [['grids.a.res', 'must be a non-empty list of positive numbers']]);
  rejects({ a: { res: [10, -1] } }, [['grids.a.res', 'must be a non-empty list of positive numbers']]);
  rejects({ a: { res: 10 } }, [['grids.a.res', 'must be a non-empty list of positive numbers']]);
  rejects({ a: { res_factor: 1 } }, [['grids.a.res_factor', "must be a number greater than 1 or 'sqrt2'"]]);
  rejects({ a: { res_factor: 'sqrt3' } }, [['grids.a.res_factor', "must be a number greater than 1 or 'sqrt2'"]]);
  rejects({ a: { num_levels: 0 } }, [['grids.a.num_levels', 'must be an integer of at least 1']]);
  rejects({ a: { num_levels: 2.5 } }, [['grids.a.num_levels', 'must be an integer of at least 1']]);
  rejects({ a: { min_res: -1 } }, [['grids.a.min_res', 'must be a positive number']]);
  rejects({ a: { max_res: '5' } }, [['grids.a.max_res', 'must be a positive number']]);
  rejects({ a: { min_res: 10, max_res: 10 } }, [['grids.a.max_res', 'must be smaller than min_res (10), got 10']]);
  rejects({ a: { max_res: 10, num_levels: 1 } }, [['grids.a.num_levels', 'must be at least 2 when max_res is set (levels are spaced from min_res to max_res)']]);
  rejects({ a: { threshold_res: [10, 0] } }, [['grids.a.threshold_res', 'must be a list of positive numbers']]);
  rejects({ a: { threshold_res: 10 } }, [['grids.a.threshold_res', 'must be a list of positive numbers']]);
});

test('other option errors: tile_size, factors, origin, name', () => {
  rejects({ a: { tile_size: [256] } }, [['grids.a.tile_size', 'must be two positive integers [width, height]']]);
  rejects({ a: { tile_size: [256, 0] } }, [['grids.a.tile_size', 'must be two positive integers [width, height]']]);
  rejects({ a: { stretch_factor: 0 } }, [['grids.a.stretch_factor', 'must be a positive number']]);
  rejects({ a: { max_shrink_factor: 'big' } }, [['grids.a.max_shrink_factor', 'must be a positive number']]);
  rejects({ a: { origin: 'top' } }, [['grids.a.origin', 'must be one of ll, sw, ul, nw, got "top"']]);
  rejects({ a: { origin: 1 } }, [['grids.a.origin', 'must be one of ll, sw, ul, nw, got 1']]);
  rejects({ a: { name: '' } }, [['grids.a.name', 'must be a non-empty string']]);
});

test('align_resolutions_with errors: unknown grid, cycle, invalid target, too few levels', () => {
  rejects({ a: { align_resolutions_with: 'nope' } }, [['grids.a.align_resolutions_with', "unknown grid 'nope'"]]);
  rejects({ a: { align_resolutions_with: 5 } }, [['grids.a.align_resolutions_with', 'must be the name of another grid']]);
  rejects({ a: { align_resolutions_with: 'b' }, b: { align_resolutions_with: 'a' } }, [
    ['grids.b.align_resolutions_with', 'grids align with each other in a cycle: a -> b -> a'],
    ['grids.a.align_resolutions_with', "grid 'b' is invalid"],
  ]);
  rejects({ a: { align_resolutions_with: 'b' }, b: { origin: 'x' } }, [
    ['grids.b.origin', 'must be one of ll, sw, ul, nw, got "x"'],
    ['grids.a.align_resolutions_with', "grid 'b' is invalid"],
  ]);
  const few = "keeps fewer than 2 resolutions of grid 'GLOBAL_MERCATOR' (check min_res, max_res and num_levels)";
  rejects({ a: { align_resolutions_with: 'GLOBAL_MERCATOR', min_res: 0.5, max_res: 0.35 } }, [['grids.a.align_resolutions_with', few]]);
  rejects({ a: { align_resolutions_with: 'GLOBAL_MERCATOR', min_res: 1, max_res: 0.5 } }, [['grids.a.align_resolutions_with', few]]);
});

test('an invalid key inherited from a base is reported once, at the base', () => {
  rejects({ a: { srs: 'EPSG:3857', origin: 'x' }, b: { base: 'a' }, c: { base: 'b' } }, [['grids.a.origin', 'must be one of ll, sw, ul, nw, got "x"']]);
});

test('all problems of all grids come in one ConfigError', () => {
  rejects({ a: { srs: 'EPSG:25832' }, b: { res_factor: 0.5, tile_size: 'big' } }, [
    ['grids.a.bbox', 'is required for a grid in EPSG:25832 (only EPSG:4326, EPSG:900913, EPSG:3857, EPSG:102100 and EPSG:102113 have a default bbox)'],
    ['grids.b.tile_size', 'must be two positive integers [width, height]'],
    ['grids.b.res_factor', "must be a number greater than 1 or 'sqrt2'"],
  ]);
});

test('the Mercator default bbox is used for EPSG:102100 grids without bbox', () => {
  const g = buildGrids({ esri: { srs: 'EPSG:102100' } }).get('esri')!;
  assert.deepEqual(g.bbox, [-M, -M, M, M]);
  assert.equal(g.profile, 'global-mercator');
});
