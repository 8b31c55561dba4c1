// Which file of a configuration and its includes a YAML path comes from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyTree, originOf, pathKeys } from '../../../src/config/origins.js';

test('pathKeys: mapping keys up to the first list index, quoted keys unquoted', () => {
  assert.deepEqual(pathKeys('caches.osm.grids[0]'), ['caches', 'osm', 'grids']);
  assert.deepEqual(pathKeys('caches["a.b"].cache.type'), ['caches', 'a.b', 'cache', 'type']);
  assert.deepEqual(pathKeys('layers[2].sources[0]'), ['layers']);
  assert.deepEqual(pathKeys('services'), ['services']);
  assert.deepEqual(pathKeys(''), []);
});

test('originOf: the file setting the deepest key; of files setting the same one, the first (the winner of the merge)', () => {
  const origins = [
    { file: '/c/main.yaml', keys: keyTree({ caches: { a: { grids: ['X'] } }, layers: [{}] }) },
    { file: '/c/base.yaml', keys: keyTree({ caches: { a: { sources: [] }, b: { grids: ['Y'] } }, layers: [{}], globals: { cache: { meta_size: [1, 1] } } }) },
    { file: '/c/more.yaml', keys: keyTree({ caches: { b: { grids: ['Z'] } } }) },
  ];
  assert.equal(originOf('caches.a.grids[0]', origins), '/c/main.yaml');
  assert.equal(originOf('caches.a.sources', origins), '/c/base.yaml');
  assert.equal(originOf('caches.b.grids[0]', origins), '/c/base.yaml');
  assert.equal(originOf('globals.cache.meta_size[1]', origins), '/c/base.yaml');
  assert.equal(originOf('layers[0].title', origins), '/c/main.yaml');
  assert.equal(originOf('sources.s', origins), undefined);
  // A YAML key named __proto__ is an ordinary key.
  const odd = [{ file: '/c/main.yaml', keys: keyTree(JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>) }];
  assert.equal(originOf('["__proto__"].x', odd), '/c/main.yaml');
  assert.equal(originOf('constructor', odd), undefined);
});
