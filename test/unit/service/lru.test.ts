// The capabilities documents' LRU: bounded in entries and in total size, so crafted hosts (each
// a document of its own) cannot hold more than the bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lru, LRU_MAX_SIZE } from '../../../src/service/lru.js';

test('evicts the least recently used entry beyond the entry bound', () => {
  const lru = new Lru<string>(2);
  lru.set('a', 'A');
  lru.set('b', 'B');
  assert.equal(lru.get('a'), 'A'); // a is now the most recent
  lru.set('c', 'C');
  assert.deepEqual([lru.get('a'), lru.get('b'), lru.get('c'), lru.size], ['A', undefined, 'C', 2]);
});

test('evicts the oldest entries beyond the size bound and never keeps a value larger than it', () => {
  const lru = new Lru<string>(16, 10);
  lru.set('a', 'xxxx');
  lru.set('b', 'yyyy');
  assert.equal(lru.totalSize, 8);
  lru.set('c', 'zzzz'); // 12 > 10: a goes
  assert.deepEqual([lru.get('a'), lru.get('b'), lru.get('c'), lru.totalSize], [undefined, 'yyyy', 'zzzz', 8]);
  lru.set('b', 'y'); // replacing counts the new size only
  assert.equal(lru.totalSize, 5);
  lru.set('huge', 'h'.repeat(11));
  assert.deepEqual([lru.get('huge'), lru.size, lru.totalSize], [undefined, 2, 5]);
  // 2 MB documents of crafted hosts: at most the default bound is kept.
  const docs = new Lru<string>(16);
  for (let i = 0; i < 16; i++) docs.set(`host${i}`, 'd'.repeat(2_000_000));
  assert.ok(docs.totalSize <= LRU_MAX_SIZE);
  assert.equal(docs.size, Math.floor(LRU_MAX_SIZE / 2_000_000));
});
