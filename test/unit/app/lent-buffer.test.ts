/**
 * The buffers a worker lends for hits read from kept-open files: given back after a write the
 * kernel took whole and lent again, never again after a write the socket kept (so a queued answer
 * is never overwritten), grown for a larger tile, none for a tile past 1 MiB, and only so many
 * kept free.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LentBuffers } from '../../../src/app/hot-answers.js';

test('a buffer given back after a sent write is lent again; one the socket kept never is', () => {
  const lent = new LentBuffers();
  const first = lent.take(20_001);
  assert.ok(first && first.length >= 64 * 1024);
  // Two loans at once (two reads in flight) are two buffers.
  const other = lent.take(300);
  assert.ok(other);
  assert.notEqual(other.buffer, first.buffer);
  lent.give(first.subarray(0, 20_000), true);
  lent.give(other.subarray(0, 299), false);
  assert.equal(lent.kept, 1);
  assert.equal(lent.take(300)?.buffer, first.buffer);
  const next = lent.take(300);
  assert.ok(next);
  assert.notEqual(next.buffer, other.buffer);
  assert.notEqual(next.buffer, first.buffer);
});

test('a larger tile gets a larger buffer; past 1 MiB none is lent; a pool slice or a large own buffer is never kept', () => {
  const lent = new LentBuffers();
  const large = lent.take(200_001);
  assert.ok(large && large.length >= 200_001);
  lent.give(large.subarray(0, 200_000), true);
  assert.equal(lent.take(100)?.buffer, large.buffer);
  assert.equal(lent.take(1024 * 1024 + 1), undefined);
  // A large tile's own buffer (read when none was lent) is not kept either.
  const own = Buffer.allocUnsafeSlow(1536 * 1024);
  lent.give(own, true);
  assert.notEqual(lent.take(100)?.buffer, own.buffer);
  const pooled = Buffer.allocUnsafe(100);
  assert.ok(pooled.buffer.byteLength < 64 * 1024);
  lent.give(pooled, true);
  assert.notEqual(lent.take(100)?.buffer, pooled.buffer);
});

test('free buffers are kept up to 2 MiB; more given back are let go of', () => {
  const lent = new LentBuffers();
  const loans = Array.from({ length: 40 }, () => lent.take(1000));
  for (const b of loans) lent.give((b as Buffer).subarray(0, 1000), true);
  // 32 of 64 KiB fit in 2 MiB: those come back, then new ones.
  const again = new Set(loans.map((b) => (b as Buffer).buffer));
  let reused = 0;
  for (let i = 0; i < 40; i++) if (again.has((lent.take(1000) as Buffer).buffer)) reused++;
  assert.equal(reused, 32);
});
