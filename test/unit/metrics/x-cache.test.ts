// The X-Cache header of tile answers (beyond MapProxy): HIT for tiles read from the cache, MISS
// for created ones and when the origin is unknown, nothing when switched off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tileResponse } from '../../../src/service/tiles.js';
import type { TileResult } from '../../../src/service/types.js';

const tile = (fromCache?: boolean): TileResult => ({
  data: Buffer.from('png'), mime: 'image/png', mtime: 1_700_000_000_000, cacheable: true, ...(fromCache === undefined ? {} : { fromCache }),
});

test('X-Cache: HIT, MISS, MISS when unknown, absent when off', () => {
  assert.deepEqual(tileResponse(tile(true), 60).headers, { 'X-Cache': 'HIT' });
  assert.deepEqual(tileResponse(tile(false), 60).headers, { 'X-Cache': 'MISS' });
  assert.deepEqual(tileResponse(tile(), 60).headers, { 'X-Cache': 'MISS' });
  assert.equal(tileResponse(tile(true), 60, false).headers, undefined);
  // The rest of the answer is unchanged.
  assert.deepEqual(tileResponse(tile(true), 60).cache, { mtime: 1_700_000_000_000, size: 3, maxAge: 60, validators: undefined });
});
