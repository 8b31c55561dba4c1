// YAML-style paths and did-you-mean suggestions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestMatch, didYouMean, editDistance, formatPath } from '../../../src/config/util.js';

test('formatPath writes paths as in the YAML', () => {
  assert.equal(formatPath([]), '');
  assert.equal(formatPath(['caches', 'osm', 'grids', 0]), 'caches.osm.grids[0]');
  assert.equal(formatPath(['layers', 1, 'layers', 0, 'name']), 'layers[1].layers[0].name');
  assert.equal(formatPath(['globals', 'srs', 'proj4_defs', 'EPSG:31467']), 'globals.srs.proj4_defs["EPSG:31467"]');
  assert.equal(formatPath(['globals', 'image', 'formats', 'image/png8']), 'globals.image.formats["image/png8"]');
});

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('grid', 'grids'), 1);
  assert.equal(editDistance('mien', 'mine'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
});

test('suggestions: typos, case, prefixes; nothing for distant words', () => {
  assert.equal(closestMatch('GLOBAL_MERCATR', ['GLOBAL_GEODETIC', 'GLOBAL_MERCATOR', 'GLOBAL_WEBMERCATOR']), 'GLOBAL_MERCATOR');
  assert.equal(closestMatch('global_mercator', ['GLOBAL_MERCATOR', 'GLOBAL_WEBMERCATOR']), 'GLOBAL_MERCATOR');
  assert.equal(closestMatch('resampling', ['resampling_method', 'paletted']), 'resampling_method');
  assert.equal(closestMatch('osm', ['osm_cache', 'world']), 'osm_cache');
  assert.equal(closestMatch('abc', ['xyz', 'world']), undefined);
  assert.equal(closestMatch('nope', ['notype']), undefined);
  assert.equal(didYouMean('grid', ['grids']), ' (did you mean grids?)');
  // A one-letter slip beats a prefix: the key the user meant, not a shorter one it starts with.
  assert.equal(closestMatch('directory_layuot', ['directory', 'directory_layout']), 'directory_layout');
  assert.equal(closestMatch('directory_lay', ['directory', 'directory_layout']), 'directory_layout');
  assert.equal(closestMatch('directory_x', ['directory', 'type']), 'directory');
  assert.equal(didYouMean('zzz', ['grids']), '');
  // The word itself is no suggestion.
  assert.equal(closestMatch('a', ['a']), undefined);
});
