// Merging a file with its `base:` includes, as MapProxy 7's loader does (REFERENCE.md §2.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeConfig, mergeLayers } from '../../../src/config/merge.js';

test('the including file wins; mappings merge deeply', () => {
  const base = { globals: { cache: { base_dir: './a', meta_buffer: 10 }, image: { paletted: true } }, x: 1 };
  const conf = { globals: { cache: { meta_buffer: 20 } }, x: 2, y: 3 };
  assert.deepEqual(mergeConfig(conf, base), {
    globals: { cache: { base_dir: './a', meta_buffer: 20 }, image: { paletted: true } },
    x: 2,
    y: 3,
  });
});

test('lists are concatenated, base first', () => {
  // MapProxy: base[k] + v
  const merged = mergeConfig({ services: { wms: { srs: ['EPSG:3857'] } } }, { services: { wms: { srs: ['EPSG:4326'] } } });
  assert.deepEqual(merged, { services: { wms: { srs: ['EPSG:4326', 'EPSG:3857'] } } });
});

test('bbox, tile_size, max_output_pixels, sources, grids and res are replaced', () => {
  const base = {
    bbox: [0, 0, 1, 1],
    tile_size: [256, 256],
    max_output_pixels: [100, 100],
    sources: ['a', 'b'],
    grids: ['G1'],
    res: [10, 5],
  };
  const conf = { bbox: [1, 1, 2, 2], tile_size: [512, 512], max_output_pixels: [9, 9], sources: ['c'], grids: [], res: [1] };
  assert.deepEqual(mergeConfig(conf, base), conf);
});

test('an empty list deletes the key; an empty list is kept where the base has none', () => {
  assert.deepEqual(mergeConfig({ srs: [] }, { srs: ['EPSG:4326'], other: 1 }), { other: 1 });
  assert.deepEqual(mergeConfig({ srs: [] }, { other: 1 }), { other: 1, srs: [] });
});

test('null keeps a base mapping or list, replaces a scalar', () => {
  // MapProxy: `if v is not None` for dicts and lists; plain assignment otherwise.
  assert.deepEqual(mergeConfig({ a: null, b: null, c: null }, { a: { x: 1 }, b: [1], c: 'text' }), {
    a: { x: 1 },
    b: [1],
    c: null,
  });
});

test('a value of another kind replaces the base value', () => {
  assert.deepEqual(mergeConfig({ bbox: '0,0,1,1', x: { y: 1 }, z: [1] }, { bbox: [0, 0, 2, 2], x: 3, z: { a: 1 } }), {
    bbox: '0,0,1,1',
    x: { y: 1 },
    z: [1],
  });
});

test('layers merge by name, recursively; new layers follow in their order', () => {
  const base = [
    { name: 'a', title: 'A', sources: ['c1'], layers: [{ name: 'a1', title: 'A1', sources: ['x'] }] },
    { name: 'b', title: 'B' },
    { title: 'unnamed group' },
  ];
  const conf = [
    { name: 'new', title: 'New' },
    { name: 'a', title: 'A2', sources: ['c2'], layers: [{ name: 'a1', md: { abstract: 'z' } }, { name: 'a2', title: 'A2' }] },
  ];
  assert.deepEqual(mergeLayers(conf, base), [
    {
      name: 'a',
      title: 'A2',
      sources: ['c2'],
      layers: [
        { name: 'a1', title: 'A1', sources: ['x'], md: { abstract: 'z' } },
        { name: 'a2', title: 'A2' },
      ],
    },
    { name: 'b', title: 'B' },
    { title: 'unnamed group' },
    { name: 'new', title: 'New' },
  ]);
});

test('an empty layers list keeps the base layers (MapProxy merges by name, nothing to merge)', () => {
  assert.deepEqual(mergeConfig({ layers: [] }, { layers: [{ name: 'a', title: 'A' }] }), { layers: [{ name: 'a', title: 'A' }] });
});
