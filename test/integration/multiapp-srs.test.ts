/**
 * MultiMapProxy projects keep their own `globals.srs` (MapProxy runs each project's requests in its
 * own base_config): the axis-order overrides and proj4_defs of one project never reach another,
 * whichever loads first and when one reloads. Checked by the exact GetMap each project sends to the
 * real test upstream, and by the configuration error of a project that uses another's code.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { get } from '../helpers/server.js';
import { createMultiApp, type MultiApp } from '../../src/app/multiapp.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents } from '../../src/source/http-client.js';

type LogLine = { name?: string; level?: number; msg?: string; project?: string; [k: string]: unknown };
const logs: LogLine[] = [];

let upstream: Upstream;
let root: string;
const servers: Array<() => Promise<void>> = [];

const UTM32 = '+proj=utm +zone=32 +datum=WGS84 +units=m +no_defs';
/** UTM zone 32 with a false easting 1000 km larger (proj4's utm keeps x_0 at 500000). */
const UTM32_EAST = '+proj=tmerc +lat_0=0 +lon_0=9 +k=0.9996 +x_0=1500000 +y_0=0 +datum=WGS84 +units=m +no_defs';

/**
 * A project whose layer `geo` (grid in EPSG:4326) and `utm` (EPSG:25832) ask the upstream with
 * WMS 1.3.0, and whose layer `local` (EPSG:25832 grid) asks in EPSG:7777, defined by `def7777`.
 */
function project(name: string, srs: string, def7777: string): string {
  return `services:
  tms:
layers:
  - {name: geo, title: geo, sources: [c_geo]}
  - {name: utm, title: utm, sources: [c_utm]}
  - {name: local, title: local, sources: [c_local]}
caches:
  c_geo: {grids: [geo], sources: [s], disable_storage: true, meta_size: [1, 1], meta_buffer: 0}
  c_utm: {grids: [utm], sources: [s], disable_storage: true, meta_size: [1, 1], meta_buffer: 0}
  c_local: {grids: [utm], sources: [s_local], disable_storage: true, meta_size: [1, 1], meta_buffer: 0}
grids:
  # MapProxy: a global-geodetic TMS tile set starts at level 1.
  geo: {srs: 'EPSG:4326', bbox: [-180, -90, 180, 90], origin: sw, res: [1.40625, 0.703125]}
  utm: {srs: 'EPSG:25832', bbox: [200000, 5200000, 712000, 5712000], origin: sw, res: [1000]}
sources:
  s:
    type: wms
    wms_opts: {version: '1.3.0'}
    req: {url: "${upstream.url}/wms?", layers: ${name}}
  s_local:
    type: wms
    supported_srs: ['EPSG:7777']
    wms_opts: {version: '1.3.0'}
    req: {url: "${upstream.url}/wms?", layers: ${name}_local}
globals:
  cache: {base_dir: ./cache_${name}, lock_dir: ./locks_${name}, tile_lock_dir: ./tile_locks_${name}}
  srs:
${srs}
    proj4_defs:
      'EPSG:7777': '${def7777}'
`;
}

/** east: EPSG:4326 written east/north; EPSG:7777 is UTM 32N. */
const east = (): string => project('east', "    axis_order_en: ['EPSG:4326']", UTM32);
/** north: EPSG:25832 written north/east; EPSG:7777 is UTM 32N moved 1000 km east. */
const north = (): string => project('north', "    axis_order_ne: ['EPSG:25832']", UTM32_EAST);

/** What each project sends for tile 0/0/0 of its three layers: CRS and BBOX. */
const EXPECTED: Record<string, { geo: string; utm: string; local: [number, number, number, number] }> = {
  // MapProxy: axis_order_en wins over the EPSG table; 25832 stays east/north.
  east: { geo: '-180.0,-90.0,0.0,90.0', utm: '200000.0,5200000.0,456000.0,5456000.0', local: [200000, 5200000, 456000, 5456000] },
  // MapProxy: 4326 keeps its EPSG north/east order; axis_order_ne turns 25832 round.
  north: { geo: '-90.0,-180.0,90.0,0.0', utm: '5200000.0,200000.0,5456000.0,456000.0', local: [1200000, 5200000, 1456000, 5456000] },
};

async function serve(dir: string): Promise<{ url: string; app: MultiApp }> {
  const app = createMultiApp(dir, { checkIntervalMs: 0 });
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, app };
}

/** A directory with `<name>.yaml` for each entry. */
async function projectDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(root, 'projects-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, `${name}.yaml`), text);
  return dir;
}

/**
 * Ask project `name` for tile 0/0/0 of each layer (every one a miss: no storage) and check the
 * GetMap it sends upstream: layers, CRS and BBOX, exactly.
 */
async function assertRequests(url: string, name: 'east' | 'north'): Promise<void> {
  const want = EXPECTED[name];
  const cases = [
    ['geo', 'EPSG4326', name, 'EPSG:4326', want.geo],
    ['utm', 'EPSG25832', name, 'EPSG:25832', want.utm],
  ] as const;
  for (const [layer, tileSet, wmsLayers, crs, bbox] of cases) {
    const from = upstream.count();
    const r = await get(`${url}/${name}/tms/1.0.0/${layer}/${tileSet}/0/0/0.png`);
    assert.equal(r.status, 200, `${name} ${layer}: ${r.body.toString()}`);
    assert.equal(upstream.count(), from + 1, `${name} ${layer}`);
    const q = upstream.last().query;
    assert.deepEqual([q.get('layers'), q.get('version'), q.get('crs'), q.get('bbox')], [wmsLayers, '1.3.0', crs, bbox], `${name} ${layer}`);
  }
  // EPSG:7777 is this project's own definition: the tile of the 25832 grid reprojected into it.
  const from = upstream.count();
  const r = await get(`${url}/${name}/tms/1.0.0/local/EPSG25832/0/0/0.png`);
  assert.equal(r.status, 200, `${name} local: ${r.body.toString()}`);
  assert.equal(upstream.count(), from + 1, `${name} local`);
  const q = upstream.last().query;
  assert.deepEqual([q.get('layers'), q.get('crs')], [`${name}_local`, 'EPSG:7777'], `${name} local`);
  const got = (q.get('bbox') ?? '').split(',').map(Number);
  assert.equal(got.length, 4, `${name} local bbox ${q.get('bbox')}`);
  // GRS80 (25832) and WGS84 (7777) differ by far less than a millimetre here.
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i] - want.local[i]) < 1e-3, `${name} local bbox ${q.get('bbox')}, want ${want.local.join(',')}`);
}

before(async () => {
  configureLogging({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } });
  upstream = await startUpstream();
  root = await mkdtemp(join(tmpdir(), 'mpx-srs-'));
});

beforeEach(() => {
  upstream.reset();
  logs.length = 0;
});

after(async () => {
  for (const stop of servers) await stop();
  await upstream.close();
  await closeHttpAgents();
  await rm(root, { recursive: true, force: true });
  configureLogging({ level: 'silent' });
});

test('each project sends BBOXes in its own axis order and its own proj4_defs, whichever project loads first', async () => {
  for (const order of [['east', 'north'], ['north', 'east']] as const) {
    // A new server per order: its projects load on their first request, in this order.
    const { url, app } = await serve(await projectDir({ east: east(), north: north() }));
    for (const name of [...order, ...order]) await assertRequests(url, name);
    assert.deepEqual(app.loaded(), [...order], order.join(' then '));
  }
});

test('a reloaded project does not change the SRS settings of the other projects', async () => {
  const dir = await projectDir({ east: east(), north: north() });
  const { url } = await serve(dir);
  await assertRequests(url, 'north');
  await assertRequests(url, 'east');
  // north's file changes (a comment only): north is rebuilt while east keeps serving.
  await writeFile(join(dir, 'north.yaml.tmp'), `${north()}# edited\n`);
  await rename(join(dir, 'north.yaml.tmp'), join(dir, 'north.yaml'));
  for (let i = 0; !logs.some((l) => l.name === 'mapproxy.config' && l.msg === 'configuration reloaded'); i++) {
    assert.ok(i < 1500, 'north was not reloaded');
    await get(`${url}/north/tms/1.0.0/`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await assertRequests(url, 'east');
  await assertRequests(url, 'north');
});

/** A project with a grid in EPSG:7777, defined here only when `defines`. */
function user7777(name: string, defines: boolean): string {
  return `services:
  tms:
layers:
  - {name: l, title: l, sources: [c]}
caches:
  c: {grids: [local], sources: [s], disable_storage: true, meta_size: [1, 1], meta_buffer: 0}
grids:
  local: {srs: 'EPSG:7777', bbox: [200000, 5200000, 712000, 5712000], origin: sw, res: [1000]}
sources:
  s:
    type: wms
    req: {url: "${upstream.url}/wms?", layers: ${name}}
globals:
  cache: {base_dir: ./cache_${name}, lock_dir: ./locks_${name}, tile_lock_dir: ./tile_locks_${name}}
${defines ? `  srs:\n    proj4_defs:\n      'EPSG:7777': '${UTM32}'\n` : ''}`;
}

test('a code only another project defines is unknown: the project does not load, whichever loads first', async () => {
  for (const order of [['owner', 'other'], ['other', 'owner']] as const) {
    const dir = await projectDir({ owner: user7777('owner', true), other: user7777('other', false) });
    const { url, app } = await serve(dir);
    logs.length = 0;
    for (const name of [...order, ...order]) {
      const r = await get(`${url}/${name}/tms/1.0.0/l/EPSG7777/0/0/0.png`);
      if (name === 'owner') {
        assert.equal(r.status, 200, `owner after ${order.join(' then ')}: ${r.body.toString()}`);
        const q = upstream.last().query;
        assert.deepEqual([q.get('layers'), q.get('srs'), q.get('bbox')], ['owner', 'EPSG:7777', '200000.0,5200000.0,456000.0,5456000.0']);
        continue;
      }
      // MapProxy: an SRS the project's configuration cannot resolve is a configuration error.
      assert.equal(r.status, 500, `other after ${order.join(' then ')}`);
      assert.equal(r.body.toString(), 'project other: configuration error');
    }
    const errors = logs.filter((l) => l.name === 'mapproxy.config' && l.level === 50 && l.project === 'other');
    assert.ok(errors.length >= 1, order.join(' then '));
    for (const e of errors) {
      assert.equal(
        e.msg,
        `project other: configuration error: invalid configuration ${join(dir, 'other.yaml')}:\n` +
          '  grids.local.srs: unknown SRS "EPSG:7777": not built in; define it in globals.srs.proj4_defs',
      );
    }
    assert.deepEqual(app.loaded(), ['owner']);
  }
});
