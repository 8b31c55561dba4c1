/**
 * Cache events seen from outside, through a real app: the `X-Cache: HIT|MISS` header on tile
 * answers (on by default, switchable off), and a meta tile lock held by another process until
 * the lock timeout counted in `mapproxy_lock_timeouts_total`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, get } from '../helpers/server.js';
import { createApp, type App } from '../../src/app/create-app.js';
import { createHandler } from '../../src/app/router.js';
import { createTmsService } from '../../src/service/tms.js';
import { acquireFileLock, lockPathFor } from '../../src/cache/lock.js';
import type { TileCoord } from '../../src/grid/types.js';
import { parseSamples, sample } from './metrics-helpers.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let app: App & { url: string };
let servers: Server[] = [];

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(`
services:
  tms:
  wmts:
layers:
  - name: m
    title: metrics
    sources: [m_cache]
caches:
  m_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [up]
    format: image/png
sources:
  up:
    type: wms
    req:
      url: ${upstream.url}/wms?
      layers: base
globals:
  http:
    client_timeout: 1
  cache:
    base_dir: ./cache
    lock_dir: ./locks
    tile_lock_dir: ./tile_locks
`);
  const built = await createApp(cfg.file);
  app = Object.assign(built, { url: await listen(built) });
});

after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  servers = [];
  await app?.close();
  await upstream?.close();
  await cfg?.cleanup();
});

const wmts = (x: number, y: number) => `${app.url}/wmts/m/GLOBAL_WEBMERCATOR/03/${x}/${y}.png`;

test('X-Cache: MISS for the tile that created its meta tile, HIT for it and its neighbours afterwards', async () => {
  const first = await get(wmts(0, 0));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-cache'), 'MISS');
  const again = await get(wmts(0, 0));
  assert.equal(again.headers.get('x-cache'), 'HIT');
  assert.ok(again.body.equals(first.body));
  assert.equal((await get(wmts(3, 3))).headers.get('x-cache'), 'HIT');
  assert.equal((await get(`${app.url}/tiles/m/EPSG3857/3/1/0.png?origin=nw`)).headers.get('x-cache'), 'HIT');
  const kvp = await get(`${app.url}/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=m&STYLE=&TILEMATRIXSET=GLOBAL_WEBMERCATOR` +
    '&TILEMATRIX=03&TILEROW=2&TILECOL=2&FORMAT=image/png');
  assert.equal(kvp.headers.get('x-cache'), 'HIT');
  // A conditional request answered 304 still says where the tile came from.
  const etag = again.headers.get('etag') ?? '';
  const notModified = await get(wmts(0, 0), { 'If-None-Match': etag });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get('x-cache'), 'HIT');
  // Not on documents and errors.
  assert.equal((await get(`${app.url}/tms/1.0.0/`)).headers.get('x-cache'), null);
  assert.equal((await get(wmts(99, 0))).headers.get('x-cache'), null);
  assert.equal(upstream.count(), 1);
});

test('xCacheHeader false: no X-Cache header on tiles', async () => {
  const tms = createTmsService({ layers: app.config.tileLayers, md: {}, xCacheHeader: false });
  const url = await listen(createHandler({ services: { tms } }));
  const res = await get(`${url}/tiles/m/EPSG3857/3/0/0.png?origin=nw`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-cache'), null);
});

test('a meta tile lock held past the lock timeout is counted in mapproxy_lock_timeouts_total', async () => {
  const tm = app.config.caches.get('m_cache')?.managers.get('GLOBAL_WEBMERCATOR');
  assert.ok(tm?.options.storage);
  const coord: TileCoord = [4, 4, 3];
  const meta = tm.options.metaGrid.metaTile(tm.options.metaGrid.mainTile(coord));
  // Another process's lock, as a worker holding this meta tile would leave it.
  const lock = await acquireFileLock(lockPathFor(tm.options.lockDir, tm.options.storage.lockCacheId, meta.lockCoord), {
    timeoutMs: 0,
    staleMs: 60_000,
  });
  const before = upstream.count();
  try {
    const res = await get(wmts(4, 4));
    assert.equal(res.status, 500);
  } finally {
    await lock.release();
  }
  assert.equal(upstream.count(), before, 'no upstream request while the lock was held');
  const s = parseSamples(await (await fetch(`${app.url}/metrics`)).text());
  assert.equal(sample(s, 'mapproxy_lock_timeouts_total'), 1);
  assert.equal(sample(s, 'mapproxy_lock_waits_total', { cache: 'm_cache' }), 1, 'only the first meta tile was locked and created');
});
