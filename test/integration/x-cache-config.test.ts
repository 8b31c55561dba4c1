/**
 * `globals.tiles.x_cache_header` (mapproxy-ts only, default true): tiles served by TMS and WMTS
 * REST say `X-Cache: MISS` when they were created for the request and `X-Cache: HIT` when they came
 * from the cache; `false` sends no X-Cache header at all; anything but a boolean is a config error.
 * A real upstream and the real app on 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, startApp, get } from '../helpers/server.js';
import { ConfigError } from '../../src/errors.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let upstream: Upstream;
before(async () => {
  upstream = await startUpstream();
});
after(() => upstream?.close());

function yaml(tiles: string): string {
  return `
services: {tms: {}, wmts: {}}
layers: [{name: m, title: M, sources: [m_cache]}]
caches: {m_cache: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}}
sources: {up: {type: wms, req: {url: '${upstream.url}/wms?', layers: base}}}
globals: {cache: {base_dir: ./cache, tile_lock_dir: ./locks}${tiles}}
`;
}

// Two tiles in different meta tiles (4×4): TMS counts rows from the south, WMTS from the north.
const TMS_TILE = '/tms/1.0.0/m/EPSG3857/5/0/0.png';
const WMTS_TILE = '/wmts/m/GLOBAL_WEBMERCATOR/05/8/0.png';

/** Request each tile twice; resolves the X-Cache header of every answer, in order. */
async function twiceEach(tiles: string): Promise<{ xCache: Array<string | null>; upstreamRequests: number }> {
  const cfg = await tempConfig(yaml(tiles));
  const app = await startApp(cfg.file);
  const before = upstream.count();
  try {
    const xCache: Array<string | null> = [];
    for (const path of [TMS_TILE, WMTS_TILE]) {
      const first = await get(app.url + path);
      const second = await get(app.url + path);
      for (const res of [first, second]) {
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get('content-type'), 'image/png', path);
        xCache.push(res.headers.get('x-cache'));
      }
      assert.ok(first.body.equals(second.body), `${path}: the cached tile is the created one`);
    }
    return { xCache, upstreamRequests: upstream.count() - before };
  } finally {
    await app.close();
    await cfg.cleanup();
  }
}

test('default: X-Cache MISS on the request that created the tile, HIT on the next, on TMS and WMTS REST', async () => {
  assert.deepEqual(await twiceEach(''), { xCache: ['MISS', 'HIT', 'MISS', 'HIT'], upstreamRequests: 2 });
  // Said explicitly, the same.
  assert.deepEqual(await twiceEach(', tiles: {x_cache_header: true}'), { xCache: ['MISS', 'HIT', 'MISS', 'HIT'], upstreamRequests: 2 });
});

test('x_cache_header: false: no X-Cache header at all (the cache still works)', async () => {
  assert.deepEqual(await twiceEach(', tiles: {x_cache_header: false}'), { xCache: [null, null, null, null], upstreamRequests: 2 });
  // MapProxy reads YAML 1.1, where an unquoted `no` is false.
  assert.deepEqual(await twiceEach(', tiles: {x_cache_header: no}'), { xCache: [null, null, null, null], upstreamRequests: 2 });
});

test("x_cache_header: 'yes' (a string): the exact error check-config prints, and the app refuses to start", async () => {
  const cfg = await tempConfig(yaml(", tiles: {x_cache_header: 'yes'}"));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/cli.ts'), 'check-config', cfg.file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const [code] = (await once(child, 'close')) as [number | null];
    assert.deepEqual({ code, stdout, stderr }, {
      code: 1,
      stdout: '',
      stderr: `${cfg.file}: 1 problem\n  globals.tiles.x_cache_header: expected true or false, got "yes"\n`,
    });
    await assert.rejects(startApp(cfg.file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'MPX_ERR_CONFIG');
      assert.equal(err.message, `invalid configuration ${cfg.file}:\n  globals.tiles.x_cache_header: expected true or false, got "yes"`);
      return true;
    });
  } finally {
    await cfg.cleanup();
  }
});
