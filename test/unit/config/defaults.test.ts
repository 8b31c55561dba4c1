// MapProxy's defaults (REFERENCE.md §3, config/defaults.py) and config-relative paths (§2.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DEFAULTS, DEFAULT_GRID_NAMES, defaultTileLockDir, resolvePath } from '../../../src/config/defaults.js';

test('defaults match MapProxy', () => {
  assert.equal(DEFAULTS.baseDir, './cache_data');
  assert.equal(DEFAULTS.lockDir, './cache_data/tile_locks');
  assert.deepEqual(DEFAULTS.metaSize, [4, 4]);
  assert.equal(DEFAULTS.metaBuffer, 80);
  assert.equal(DEFAULTS.clientTimeout, 60);
  assert.equal(DEFAULTS.expiresHours, 72);
  assert.equal(DEFAULTS.jpegQuality, 90);
  assert.equal(DEFAULTS.resampling, 'bicubic');
  assert.equal(DEFAULTS.paletted, true);
  assert.equal(DEFAULTS.stretchFactor, 1.15);
  assert.equal(DEFAULTS.maxShrinkFactor, 4);
  assert.deepEqual(DEFAULTS.tileSize, [256, 256]);
  assert.equal(DEFAULTS.concurrentTileCreators, 2);
  assert.equal(DEFAULTS.maxTileLimit, 500);
  assert.equal(DEFAULTS.accessControlAllowOrigin, '*');
  assert.deepEqual(DEFAULTS.cacheGrids, ['GLOBAL_MERCATOR']);
  assert.deepEqual(DEFAULT_GRID_NAMES, ['GLOBAL_GEODETIC', 'GLOBAL_MERCATOR', 'GLOBAL_WEBMERCATOR']);
  assert.ok(Object.isFrozen(DEFAULTS) && Object.isFrozen(DEFAULTS.metaSize));
});

test('relative paths are relative to the config directory, absolute ones stay', () => {
  assert.equal(resolvePath('/etc/mapproxy', './cache_data'), '/etc/mapproxy/cache_data');
  assert.equal(resolvePath('/etc/mapproxy', 'cache_data/tile_locks'), '/etc/mapproxy/cache_data/tile_locks');
  assert.equal(resolvePath('/etc/mapproxy', '../shared/cache'), '/etc/shared/cache');
  assert.equal(resolvePath('/etc/mapproxy', '/var/cache/tiles'), '/var/cache/tiles');
  assert.equal(defaultTileLockDir('/var/cache/osm'), path.join('/var/cache/osm', 'tile_locks'));
});
