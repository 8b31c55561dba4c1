// Tile URL helpers, checked with the values of MapProxy's own doctests (client/tile.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { arcgisCachePath, bboxParam, quadkey, tcPath, TileUrlTemplate, tmsPath } from '../../../src/source/tile-url.js';

test('tc_path, tms_path, arcgiscache_path and quadkey match MapProxy', () => {
  assert.equal(tcPath([1234567, 87654321, 9]), '09/001/234/567/087/654/321');
  assert.equal(tcPath([7, 4, 3]), '03/000/000/007/000/000/004');
  assert.equal(tmsPath([1234567, 87654321, 9]), '9/1234567/87654321');
  assert.equal(arcgisCachePath([1234567, 87654321, 9]), 'L09/R05397fb1/C0012d687');
  assert.equal(quadkey([0, 0, 1]), '0');
  assert.equal(quadkey([1, 0, 1]), '1');
  assert.equal(quadkey([1, 2, 2]), '21');
  assert.equal(quadkey([0, 0, 0]), '');
  assert.equal(bboxParam([0, -15, 10, -5]), '0.00000000,-15.00000000,10.00000000,-5.00000000');
});

test('a template fills every variable', () => {
  const t = new TileUrlTemplate('http://h/%(z)s/%(x)s/%(y)d.%(format)s?q=%(quadkey)s&tc=%(tc_path)s&tms=%(tms_path)s&a=%(arcgiscache_path)s&b=%(bbox)s&p=100%%', 'sources.t.url');
  assert.equal(
    t.substitute([7, 4, 3], 'png', [1, 2, 3.5, 4]),
    'http://h/3/7/4.png?q=' + quadkey([7, 4, 3]) + '&tc=03/000/000/007/000/000/004&tms=3/7/4&a=L03/R00000004/C00000007&b=1.00000000,2.00000000,3.50000000,4.00000000&p=100%',
  );
  assert.equal(t.fixedPrefix, 'http://h/');
  assert.equal(t.uses('bbox'), true);
  assert.equal(new TileUrlTemplate('http://h/%(z)s', 'x').uses('bbox'), false);
});

test('the fixed prefix ends at the first placeholder and unescapes %%', () => {
  assert.equal(new TileUrlTemplate('file:///data/100%%/tiles/z%(z)s/%(x)s.png', 'p').fixedPrefix, 'file:///data/100%/tiles/z');
  assert.equal(new TileUrlTemplate('http://h/static.png', 'p').fixedPrefix, 'http://h/static.png');
});

test('an unknown placeholder is a ConfigError at the url path', () => {
  assert.throws(() => new TileUrlTemplate('http://h/%(zoom)s/%(x)s', 'sources.t.url'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(
      e.message,
      'invalid configuration:\n  sources.t.url: unknown placeholder %(zoom)s in tile URL; known: %(x)s %(y)s %(z)s %(format)s %(quadkey)s %(tc_path)s %(tms_path)s %(arcgiscache_path)s %(bbox)s',
    );
    return true;
  });
});
