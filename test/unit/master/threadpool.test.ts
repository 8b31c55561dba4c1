/** The libuv pool size `serve` gives its workers: the flag, else the master's environment, else 1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_THREADPOOL_SIZE, workerThreadpoolSize } from '../../../src/master/index.js';

test('default: one thread per worker when nothing sets it', () => {
  assert.equal(DEFAULT_THREADPOOL_SIZE, 1);
  assert.equal(workerThreadpoolSize(undefined, {}), 1);
  // An empty variable counts as unset (libuv would read it as 0 and clamp it to 1 anyway).
  assert.equal(workerThreadpoolSize(undefined, { UV_THREADPOOL_SIZE: '' }), 1);
});

test('UV_THREADPOOL_SIZE of the master is left to the workers as it is', () => {
  assert.equal(workerThreadpoolSize(undefined, { UV_THREADPOOL_SIZE: '8' }), undefined);
});

test('--threadpool-size wins over the environment', () => {
  assert.equal(workerThreadpoolSize(3, { UV_THREADPOOL_SIZE: '8' }), 3);
  assert.equal(workerThreadpoolSize(16, {}), 16);
});
