/**
 * `concurrent_requests: 1` on a WMS source holds across processes: two mapproxy-ts servers
 * sharing one `lock_dir` never have more than one request at the upstream at a time
 * (REFERENCE.md §2.7 "Source concurrency": lock files `<lock_dir>/<md5(host:port)>.lck<i>`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, startServerProcess, get, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/serve.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let servers: ServerProcess[] = [];

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(`
services:
  wmts:
layers:
  - name: l
    title: limited
    sources: [c]
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    meta_size: [1, 1]
    meta_buffer: 0
sources:
  up:
    type: wms
    req:
      url: ${upstream.url}/wms?
      layers: base
    concurrent_requests: 1
globals:
  cache:
    lock_dir: ./locks
`);
  servers = await Promise.all([startServerProcess(cfg.file), startServerProcess(cfg.file)]);
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await upstream?.close();
  await cfg?.cleanup();
});

test('concurrent_requests: 1 allows one upstream request at a time across two server processes', async () => {
  upstream.reset();
  upstream.setDelay(150);
  const tiles = [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1], [1, 1], [2, 1], [3, 1]];
  const pending = Promise.all(tiles.map(([x, y], i) => get(`${servers[i % 2].url}/wmts/l/GLOBAL_WEBMERCATOR/02/${x}/${y}.png`)));
  // While the upstream is busy, the one slot is held by one of the processes.
  await waitFor(() => upstream.count() > 0, 'the first upstream request');
  const held = await readdir(join(cfg.dir, 'locks'));
  const answers = await pending;
  upstream.setDelay(0);
  for (const a of answers) assert.equal(a.status, 200);
  // meta_size 1×1: one upstream request per tile, never two at once.
  assert.equal(upstream.count(), tiles.length);
  assert.equal(upstream.maxInFlight, 1);
  // MapProxy's slot name: md5 of the URL's host:port, slot 0 (held as proper-lockfile's .lock).
  const md5 = createHash('md5').update(`127.0.0.1:${upstream.port}`).digest('hex');
  assert.deepEqual(held, [`${md5}.lck0.lock`]);
  assert.deepEqual(await readdir(join(cfg.dir, 'locks')), [], 'the slot is released');
});
