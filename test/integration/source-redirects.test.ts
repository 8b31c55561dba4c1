// Upstream redirects, followed as MapProxy's urllib follows them: which statuses, how often, what a
// POST becomes, and which headers go on to another host. Two real upstreams on 127.0.0.1.
import { test, after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BUILTIN_SRS, buildGrids, getSrs } from '../../src/grid/index.js';
import type { Bbox } from '../../src/grid/types.js';
import { decodeImage } from '../../src/image/index.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents, httpGet } from '../../src/source/http-client.js';
import type { SourceContext, WmsSourceConfig } from '../../src/source/config.js';
import { createWmsSource } from '../../src/source/wms.js';
import { expectedColor, pixelCenter, startUpstream, type Upstream, type UpstreamRequest, sourceFailure } from '../helpers/upstream.js';

let up: Upstream;
let other: Upstream;
let dir: string;
let ctx: SourceContext;
const merc = getSrs('EPSG:3857');
const BBOX: Bbox = [0, 0, 1e6, 1e6];

before(async () => {
  configureLogging({ level: 'silent' });
  up = await startUpstream();
  other = await startUpstream();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mpx-redirect-'));
  ctx = { globals: { http: { hide_error_details: false } }, lockDir: path.join(dir, 'locks'), grids: buildGrids({}), configDir: dir, srs: BUILTIN_SRS };
});
after(async () => {
  await closeHttpAgents();
  await up.close();
  await other.close();
  await rm(dir, { recursive: true, force: true });
  configureLogging();
});
beforeEach(() => {
  up.reset();
  other.reset();
});

function wms(url: string, extra: Partial<WmsSourceConfig> = {}): ReturnType<typeof createWmsSource> {
  return createWmsSource('w', { type: 'wms', ...extra, req: { url, layers: 'base' } } as WmsSourceConfig, ctx);
}

/** The centre pixel of the image shows the upstream's colour for BBOX's centre. */
async function assertImage(data: Buffer): Promise<void> {
  const raw = await decodeImage(data);
  const x = Math.floor(raw.width / 2);
  const y = Math.floor(raw.height / 2);
  const [mx, my] = pixelCenter(BBOX, [raw.width, raw.height], x, y);
  const o = (y * raw.width + x) * 4;
  assert.deepEqual([...raw.data.subarray(o, o + 4)], [...expectedColor(mx, my), 255]);
}

/** `/hop1` after any other path, then `/hop2`, … */
const nextHop = (r: UpstreamRequest): string => `/hop${(r.path.startsWith('/hop') ? Number(r.path.slice(4)) : 0) + 1}?${r.rawQuery}`;
const moved = (req: UpstreamRequest): string => `/moved?${req.rawQuery}`;

test('GET follows 301, 302, 303, 307 and 308 to the Location, relative or absolute', async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    up.reset();
    up.fail({ kind: 'redirect', status, location: moved }, 1);
    const img = await wms(`${up.url}/service?`).getMap({ bbox: BBOX, size: [64, 64], srs: merc, format: 'image/png' });
    assert.deepEqual(
      up.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /service', 'GET /moved'],
      `status ${status}`,
    );
    assert.equal(up.requests[1].rawQuery, up.requests[0].rawQuery);
    await assertImage(img.data);
  }
  up.reset();
  up.fail({ kind: 'redirect', status: 302, location: (r) => `${up.url}/abs/service?${r.rawQuery}` }, 1);
  const img = await wms(`${up.url}/service?`).getMap({ bbox: BBOX, size: [64, 64], srs: merc, format: 'image/png' });
  assert.equal(up.last().path, '/abs/service');
  await assertImage(img.data);
});

test('urllib\'s other ways: an empty Location is the same URL again, a URI header stands in for Location, bytes stay bytes', async () => {
  up.fail({ kind: 'redirect', status: 302, location: () => '' }, 1);
  assert.equal((await httpGet(`${up.url}/same.png?a=1`)).status, 200);
  assert.deepEqual(up.requests.map((r) => `${r.path}?${r.rawQuery}`), ['/same.png?a=1', '/same.png?a=1']);
  up.reset();
  up.setHeaders({ URI: '/by-uri.png' });
  up.fail({ kind: 'redirect', status: 301, location: () => undefined }, 1);
  assert.equal((await httpGet(`${up.url}/old.png`)).status, 200);
  assert.deepEqual(up.requests.map((r) => r.path), ['/old.png', '/by-uri.png']);
  up.reset();
  // A Location sent as raw UTF-8 (é is C3 A9): requested as %C3%A9, not as the UTF-8 of each byte.
  up.fail({ kind: 'redirect', status: 302, location: () => '/caf\xc3\xa9.png' }, 1);
  assert.equal((await httpGet(`${up.url}/x.png`)).status, 200);
  assert.equal(up.last().path, '/caf%C3%A9.png');
});

test('a redirect to another host keeps configured headers but not the credentials of the source URL', async () => {
  // Same host first: the credentials go along.
  up.fail({ kind: 'redirect', status: 302, location: () => '/moved.png' }, 1);
  await httpGet(`http://user:secret@127.0.0.1:${up.port}/tile.png`, { headers: { 'X-Api-Key': 'k1' } });
  assert.equal(up.count(), 2);
  for (const r of up.requests) {
    assert.equal(r.headers.authorization, 'Basic ' + Buffer.from('user:secret').toString('base64'));
    assert.equal(r.headers['x-api-key'], 'k1');
  }
  up.reset();
  up.fail({ kind: 'redirect', status: 302, location: () => `${other.url}/elsewhere.png` }, 1);
  const res = await httpGet(`http://user:secret@127.0.0.1:${up.port}/tile.png`, { headers: { 'X-Api-Key': 'k1' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'image/png');
  assert.equal(res.url, `http://127.0.0.1:${up.port}/tile.png`, 'the URL asked for, without credentials');
  assert.equal(up.count(), 1);
  assert.equal(other.count(), 1);
  assert.equal(other.last().path, '/elsewhere.png');
  assert.equal(other.last().headers.authorization, undefined);
  assert.equal(other.last().headers['x-api-key'], 'k1');
  // Back to the first host: the credentials go along again.
  up.reset();
  other.reset();
  up.fail({ kind: 'redirect', status: 302, location: () => `${other.url}/elsewhere.png` }, 1);
  other.fail({ kind: 'redirect', status: 302, location: () => `${up.url}/back.png` }, 1);
  await httpGet(`http://user:secret@127.0.0.1:${up.port}/tile.png`);
  assert.deepEqual(
    [...up.requests, ...other.requests].map((r) => `${r.path} ${r.headers.authorization ?? '-'}`),
    [`/tile.png Basic ${Buffer.from('user:secret').toString('base64')}`, `/back.png Basic ${Buffer.from('user:secret').toString('base64')}`, '/elsewhere.png -'],
  );
  // Credentials written into a Location are not sent (undici would not send them either; the log
  // line, checked in log-lines.test.ts, does not show them).
  up.reset();
  other.reset();
  up.fail({ kind: 'redirect', status: 302, location: () => `http://mallory:pw@127.0.0.1:${other.port}/x.png` }, 1);
  await httpGet(`${up.url}/tile.png`);
  assert.equal(other.last().headers.authorization, undefined);
});

test('manage_cookies: a cookie set by a redirect goes with the next request to the same host, not to another', async () => {
  const jar = new Map<string, string>();
  up.setHeaders({ 'Set-Cookie': 'sid=abc; Path=/' });
  up.fail({ kind: 'redirect', status: 302, location: (r) => (r.path === '/a.png' ? '/b.png' : `${other.url}/c.png`) }, 2);
  await httpGet(`${up.url}/a.png`, { cookies: jar });
  assert.deepEqual(jar, new Map([['sid', 'abc']]));
  assert.deepEqual(
    [...up.requests, ...other.requests].map((r) => `${r.path} ${r.headers.cookie ?? '-'}`),
    ['/a.png -', '/b.png sid=abc', '/c.png -'],
  );
  // Cookies another host sets are not kept.
  other.setHeaders({ 'Set-Cookie': 'tracker=1' });
  await httpGet(`${other.url}/d.png`, { cookies: new Map() });
  up.reset();
  up.fail({ kind: 'redirect', status: 302, location: () => `${other.url}/e.png` }, 1);
  await httpGet(`${up.url}/a.png`, { cookies: jar });
  assert.deepEqual(jar, new Map([['sid', 'abc']]));
});

test('a POST redirected by 301/302/303 goes on as a GET without its form; by 307/308 it fails as MapProxy does', async () => {
  await writeFile(path.join(dir, 'style.sld'), '<StyledLayerDescriptor/>');
  const sld = (): ReturnType<typeof createWmsSource> => createWmsSource('w', { type: 'wms', req: { url: `${up.url}/service?`, layers: 'base', sld: 'file://style.sld' } }, ctx);
  for (const status of [301, 302, 303]) {
    up.reset();
    up.fail({ kind: 'redirect', status, location: (r) => `/get?${r.body}` }, 1);
    const img = await sld().getMap({ bbox: BBOX, size: [64, 64], srs: merc, format: 'image/png' });
    const [first, second] = up.requests;
    assert.equal(first.method, 'POST');
    assert.equal(second.method, 'GET', `status ${status}`);
    assert.equal(second.path, '/get');
    assert.equal(second.body, '');
    assert.equal(second.headers['content-type'], undefined);
    assert.equal(second.headers['content-length'], undefined);
    await assertImage(img.data);
  }
  for (const status of [307, 308]) {
    up.reset();
    up.fail({ kind: 'redirect', status, location: (r) => `/get?${r.body}` }, 1);
    const e = await sourceFailure(sld().getMap({ bbox: BBOX, size: [64, 64], srs: merc, format: 'image/png' }));
    assert.equal(e.message, `HTTP Error "${up.url}/service": ${status}`);
    assert.equal(e.upstreamStatus, status);
    assert.equal(e.code, 'MPX_ERR_SOURCE_HTTP');
    assert.equal(up.count(), 1, 'not sent on');
  }
});

test('redirects that cannot be followed are HTTP errors with their status', async () => {
  const s = wms(`${up.url}/service?`);
  const query = { bbox: BBOX, size: [64, 64] as const, srs: merc, format: 'image/png' };
  const url = (): string => `${up.url}/service?${up.requests[0].rawQuery}`;

  // A loop: urllib visits one URL at most 4 times more, then gives up.
  up.fail({ kind: 'redirect', status: 302, location: (r) => `/service?${r.rawQuery}` });
  let e = await sourceFailure(s.getMap({ ...query, size: [64, 64] }));
  assert.equal(e.message, `HTTP Error "${url()}": 302`);
  assert.equal(e.upstreamStatus, 302);
  assert.equal(up.count(), 5);

  // A chain of new URLs: at most 10 of them.
  up.reset();
  up.fail({ kind: 'redirect', status: 301, location: nextHop });
  e = await sourceFailure(s.getMap({ ...query, size: [64, 64] }));
  assert.equal(e.message, `HTTP Error "${url()}": 301`);
  assert.deepEqual(
    up.requests.map((r) => r.path),
    ['/service', '/hop1', '/hop2', '/hop3', '/hop4', '/hop5', '/hop6', '/hop7', '/hop8', '/hop9', '/hop10'],
  );
  // Ten are followed.
  up.reset();
  up.fail({ kind: 'redirect', status: 301, location: nextHop }, 10);
  await assertImage((await s.getMap({ ...query, size: [64, 64] })).data);
  assert.equal(up.count(), 11);

  // No Location, another scheme, an unparsable Location, or a 3xx that is no redirect.
  for (const [status, location] of [
    [302, undefined],
    [302, 'ftp://127.0.0.1/x.png'],
    [302, 'file:///etc/passwd'],
    [302, 'http://[::1'],
    [300, '/moved'],
    [305, '/moved'],
  ] as const) {
    up.reset();
    up.fail({ kind: 'redirect', status, location: () => location }, 1);
    e = await sourceFailure(s.getMap({ ...query, size: [64, 64] }));
    assert.equal(e.message, `HTTP Error "${url()}": ${status}`, `${status} ${location}`);
    assert.equal(e.upstreamStatus, status);
    assert.equal(up.count(), 1);
  }
});

test('hide_error_details: a redirect error names neither URL nor status', async () => {
  const s = createWmsSource('w', { type: 'wms', req: { url: `${up.url}/service?`, layers: 'base' } }, { ...ctx, globals: {} });
  up.fail({ kind: 'redirect', status: 302, location: () => undefined }, 1);
  const e = await sourceFailure(s.getMap({ bbox: BBOX, size: [64, 64], srs: merc, format: 'image/png' }));
  assert.equal(e.message, 'HTTP Error (see logs for URL and reason).');
});
