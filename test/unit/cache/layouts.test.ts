// Tile paths of the file cache, checked against paths produced by the real MapProxy 1.15
// (fixtures/mapproxy-paths.json, made by fixtures/gen-mapproxy-paths.py).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RequestError } from '../../../src/errors.js';
import {
  FILE_LAYOUTS,
  arcgisCachePath,
  dimensionsPart,
  isFileLayout,
  levelLocation,
  quadkey,
  tcPath,
  tilePath,
  tmsPath,
  type FileLayout,
} from '../../../src/cache/storage/layouts.js';
import type { TileCoord } from '../../../src/grid/types.js';

interface Fixture {
  tiles: Array<{ layout: FileLayout; coord: TileCoord; ext: string; path: string }>;
  dimensions: Array<{ layout: FileLayout; coord: TileCoord; ext: string; dimensions: Record<string, string>; path: string }>;
  levels: Array<{ layout: FileLayout; level: number; path: string | null }>;
  urlHelpers: Array<{ coord: TileCoord; tc_path: string; tms_path: string; arcgiscache_path: string; quadkey: string }>;
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/mapproxy-paths.json', import.meta.url), 'utf8')) as Fixture;

describe('file cache layouts', () => {
  it('match MapProxy 1.15 for every layout, coordinate and extension of the fixture', () => {
    assert.equal(fixture.tiles.length, 168);
    for (const t of fixture.tiles) {
      assert.equal(tilePath(t.layout, t.coord, t.ext), t.path, `${t.layout} ${t.coord.join(',')}`);
    }
  });

  it('match MapProxy 1.15 with dimensions (tc, mp, tms, reverse_tms)', () => {
    assert.ok(fixture.dimensions.length > 0);
    for (const t of fixture.dimensions) {
      assert.equal(tilePath(t.layout, t.coord, t.ext, t.dimensions), t.path, `${t.layout} ${JSON.stringify(t.dimensions)}`);
    }
  });

  it('give the documented examples (REFERENCE.md §2.6)', () => {
    // MapProxy: tc pads z to 2 and each group of x and y to 3 digits.
    assert.equal(tilePath('tc', [3, 4, 2], 'png'), '02/000/000/003/000/000/004.png');
    assert.equal(tilePath('mp', [3, 4, 2], 'png'), '02/0000/0003/0000/0004.png');
    assert.equal(tilePath('mp', [12345678, 98765432, 22], 'png'), '22/1234/5678/9876/5432.png');
    assert.equal(tilePath('tms', [3, 4, 2], 'png'), '2/3/4.png');
    assert.equal(tilePath('reverse_tms', [3, 4, 2], 'png'), '4/3/2.png');
    assert.equal(tilePath('quadkey', [3, 4, 2], 'png'), '11.png');
    assert.equal(tilePath('arcgis', [3, 4, 2], 'png'), 'L02/R00000004/C00000003.png');
    assert.equal(tilePath('arcgis', [1234567, 87654321, 9], 'png'), 'L09/R05397fb1/C0012d687.png');
    // format: mixed gives the extension .mixed
    assert.equal(tilePath('tc', [1, 0, 1], 'mixed'), '01/000/000/001/000/000/000.mixed');
  });

  it('widen the first group instead of truncating large coordinates', () => {
    assert.equal(tilePath('tc', [1_000_000, 999_999, 20], 'png'), '20/001/000/000/000/999/999.png');
    assert.equal(tilePath('tc', [1_000_000_000, 1_000_000_007, 30], 'png'), '30/1000/000/000/1000/000/007.png');
    assert.equal(tilePath('mp', [1_000_000_000_000, 1, 40], 'png'), '40/100000000/0000/0000/0001.png');
    assert.equal(tilePath('arcgis', [1_000_000_000_000, 1, 40], 'png'), 'L40/R00000001/Ce8d4a51000.png');
    assert.equal(quadkey([4294967301, 8589934593, 34]), '2100000000000000000000000000000103');
  });

  it('give the level directories used by cleanup', () => {
    for (const l of fixture.levels) {
      // MapProxy 1.15 pads the tms level dir ('02') although its tiles are in '2'; we name the
      // directory the tiles are really in (REFERENCE.md §2.6).
      const expected = l.layout === 'tms' ? String(l.level) : l.path;
      assert.equal(levelLocation(l.layout, l.level), expected, `${l.layout} level ${l.level}`);
    }
    assert.equal(levelLocation('tc', 2, { time: 't1' }), 'time-t1/02');
    assert.equal(levelLocation('tms', 12, { elevation: 500 }), 'elevation-500/12');
  });

  it('give the tile source URL helpers of MapProxy', () => {
    for (const h of fixture.urlHelpers) {
      assert.equal(tcPath(h.coord), h.tc_path);
      assert.equal(tmsPath(h.coord), h.tms_path);
      assert.equal(arcgisCachePath(h.coord), h.arcgiscache_path);
      assert.equal(quadkey(h.coord), h.quadkey);
    }
  });

  it('order dimensions as MapProxy: known ones first, then dim_*, keys lower case', () => {
    assert.equal(dimensionsPart(undefined), '');
    assert.equal(dimensionsPart({}), '');
    assert.equal(
      dimensionsPart({ Time: 'x', dim_B: '1', dim_a: '2', elevation: 5 }),
      'elevation-5/time-x/dim_a-2/dim_b-1',
    );
  });

  it('refuse dimension values that would leave the cache dir', () => {
    for (const value of ['../../etc', 'a/../b', '..', 'a/./b', 'a//b', 'x\\..\\y']) {
      assert.throws(
        () => tilePath('tc', [0, 0, 0], 'png', { time: value }),
        (err: unknown) => {
          assert.ok(err instanceof RequestError);
          assert.equal(err.code, 'MPX_ERR_REQUEST');
          assert.equal(err.status, 400);
          assert.equal(err.ogcCode, 'InvalidParameterValue');
          assert.equal(err.locator, 'time');
          assert.equal(err.message, `invalid value ${JSON.stringify(value)} for dimension time`);
          return true;
        },
        value,
      );
    }
  });

  it('reject dimensions for layouts that cannot hold them', () => {
    for (const layout of ['quadkey', 'arcgis'] as const) {
      assert.throws(() => tilePath(layout, [0, 0, 1], 'png', { time: 't' }), {
        name: 'RangeError',
        message: `directory_layout ${layout} does not support dimensions`,
      });
    }
  });

  it('reject coordinates that are not non-negative integers', () => {
    for (const coord of [[-1, 0, 0], [0, 1.5, 1], [0, 0, NaN]] as TileCoord[]) {
      assert.throws(() => tilePath('tc', coord, 'png'), {
        name: 'RangeError',
        message: `invalid tile coordinate [${coord.join(', ')}]: x, y and z must be integers >= 0`,
      });
    }
  });

  it('know exactly the six layouts', () => {
    assert.deepEqual([...FILE_LAYOUTS], ['tc', 'mp', 'tms', 'reverse_tms', 'quadkey', 'arcgis']);
    assert.equal(isFileLayout('tc'), true);
    assert.equal(isFileLayout('TC'), false);
    assert.equal(isFileLayout('compact'), false);
    assert.throws(() => tilePath('bogus' as FileLayout, [0, 0, 0], 'png'), {
      name: 'RangeError',
      message: 'unknown directory_layout "bogus" (expected one of tc, mp, tms, reverse_tms, quadkey, arcgis)',
    });
  });
});
