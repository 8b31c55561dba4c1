/**
 * How `serve` starts its worker processes: the libuv pool size (the flag, else the master's
 * environment, else 2) and the V8 memory options added to the master's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_THREADPOOL_SIZE, workerExecArgv, workerMallocEnv, workerThreadpoolSize } from '../../../src/master/index.js';

test('default: two threads per worker when nothing sets it', () => {
  assert.equal(DEFAULT_THREADPOOL_SIZE, 2);
  assert.equal(workerThreadpoolSize(undefined, {}), 2);
  // An empty variable counts as unset (libuv would read it as 0, that is 1 thread).
  assert.equal(workerThreadpoolSize(undefined, { UV_THREADPOOL_SIZE: '' }), 2);
});

test('UV_THREADPOOL_SIZE of the master is left to the workers as it is', () => {
  assert.equal(workerThreadpoolSize(undefined, { UV_THREADPOOL_SIZE: '8' }), undefined);
});

test('--threadpool-size wins over the environment', () => {
  assert.equal(workerThreadpoolSize(3, { UV_THREADPOOL_SIZE: '8' }), 3);
  assert.equal(workerThreadpoolSize(16, {}), 16);
});

test('workers get 1 MiB semi-spaces and --optimize-for-size after the master\'s own options', () => {
  assert.deepEqual(workerExecArgv([], ''), ['--max-semi-space-size=1', '--optimize-for-size']);
  assert.deepEqual(workerExecArgv(['--import', 'tsx'], ''), ['--import', 'tsx', '--max-semi-space-size=1', '--optimize-for-size']);
});

test('a setting the master was given, either way, is not added again', () => {
  assert.deepEqual(workerExecArgv(['--max-semi-space-size=8'], ''), ['--max-semi-space-size=8', '--optimize-for-size']);
  assert.deepEqual(workerExecArgv([], '--max-semi-space-size=4'), ['--optimize-for-size']);
  assert.deepEqual(workerExecArgv(['--no-optimize-for-size'], ''), ['--no-optimize-for-size', '--max-semi-space-size=1']);
  assert.deepEqual(workerExecArgv(['--optimize-for-size'], ''), ['--optimize-for-size', '--max-semi-space-size=1']);
  // V8's spelling with underscores counts too.
  assert.deepEqual(workerExecArgv(['--no-optimize_for_size', '--max_semi_space_size=8'], ''), ['--no-optimize_for_size', '--max_semi_space_size=8']);
});

test('workers get a fixed 128 KiB mmap threshold unless the master\'s environment tunes malloc\'s', () => {
  assert.deepEqual(workerMallocEnv({}), { MALLOC_MMAP_THRESHOLD_: '131072' });
  assert.deepEqual(workerMallocEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }), { MALLOC_MMAP_THRESHOLD_: '131072' });
  assert.deepEqual(workerMallocEnv({ MALLOC_MMAP_THRESHOLD_: '65536' }), {});
  // Empty (systemd's `Environment=MALLOC_MMAP_THRESHOLD_=`) is unset, not a threshold of 0.
  assert.deepEqual(workerMallocEnv({ MALLOC_MMAP_THRESHOLD_: '' }), { MALLOC_MMAP_THRESHOLD_: '131072' });
  assert.deepEqual(workerMallocEnv({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=1048576' }), {});
});
