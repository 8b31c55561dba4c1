/** The master's restart policy: exponential backoff and crash-loop detection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LostConnectionPolicy, RestartPolicy } from '../../../src/master/backoff.js';

test('restart delays double from 100 ms per crash in the window, up to 10 s', () => {
  const p = new RestartPolicy();
  const delays = [];
  for (let i = 0; i < 10; i++) {
    p.ready();
    delays.push(p.crashed(1_000 + i, false));
  }
  assert.deepEqual(delays.map((d) => ('restartInMs' in d ? d.restartInMs : d.giveUp)), [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
});

test('crashes older than the window no longer count', () => {
  const p = new RestartPolicy({ windowMs: 30_000 });
  p.crashed(0, false);
  p.crashed(1_000, false);
  assert.deepEqual(p.crashed(2_000, false), { restartInMs: 400 });
  assert.deepEqual(p.crashed(31_500, false), { restartInMs: 200 }, 'only the crashes at 2 s and 31.5 s count');
});

test('five workers in a row dying before they listen is a crash loop', () => {
  const p = new RestartPolicy();
  for (let i = 0; i < 4; i++) assert.ok('restartInMs' in p.crashed(i, true));
  assert.deepEqual(p.crashed(4, true), { giveUp: '5 workers in a row exited before they were listening' });
});

test('a worker that listens ends the series; crashes of serving workers never give up', () => {
  const p = new RestartPolicy({ maxStartFailures: 3 });
  p.crashed(0, true);
  p.crashed(1, true);
  p.ready();
  assert.ok('restartInMs' in p.crashed(2, true));
  assert.ok('restartInMs' in p.crashed(3, true));
  assert.ok('giveUp' in p.crashed(4, true));
  const q = new RestartPolicy({ maxStartFailures: 3 });
  for (let i = 0; i < 20; i++) assert.ok('restartInMs' in q.crashed(i, false));
});

test('lost hand-overs: 5 within 5 minutes is a loop; fewer, spread out, are replaced until the total bound', () => {
  const p = new LostConnectionPolicy();
  const min = 60_000;
  // One every 2 minutes: never 5 in a window.
  for (let i = 0; i < 15; i++) assert.equal(p.lost(i * 2 * min), undefined, `loss ${i + 1}`);
  // The 16th (the least total bound) ends it, however spread out.
  assert.equal(p.lost(40 * min), '16 connections could not be handed to a worker since the start');

  const loop = new LostConnectionPolicy({ maxTotal: 128 });
  for (let i = 0; i < 4; i++) assert.equal(loop.lost(i * 2000), undefined);
  assert.equal(loop.lost(8000), '5 connections could not be handed to a worker within 5 minutes');

  const big = new LostConnectionPolicy({ maxTotal: 128 });
  for (let i = 0; i < 127; i++) assert.equal(big.lost(i * 2 * min), undefined);
  assert.equal(big.lost(300 * min), '128 connections could not be handed to a worker since the start');
  // A limit too small for an eighth to mean anything still allows 16.
  const small = new LostConnectionPolicy({ maxTotal: 3 });
  for (let i = 0; i < 15; i++) assert.equal(small.lost(i * 2 * min), undefined);
  assert.match(small.lost(100 * min) ?? '', /^16 connections/);
});
