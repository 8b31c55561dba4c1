/** The pool size a worker logs: what libuv makes of UV_THREADPOOL_SIZE (its src/threadpool.c). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libuvPoolSize } from '../../../src/worker/worker.js';

test('the pool a worker reports is the one libuv makes of UV_THREADPOOL_SIZE', () => {
  const cases: Array<[string | undefined, number]> = [
    [undefined, 4], ['2', 2], ['', 1], ['0', 1], ['abc', 1], ['3x', 3], [' 5', 5], ['2000', 1024], ['-1', 1024],
  ];
  for (const [value, threads] of cases) assert.equal(libuvPoolSize(value), threads, String(value));
});
