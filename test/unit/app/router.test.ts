// The HTTP app over a real server on 127.0.0.1: routing, proxy headers in capabilities, CORS,
// Vary, tile caching headers and 304s, HEAD, 404/405/400/500 answers. Raw node:http requests, so
// paths reach the server exactly as written (fetch would normalise `..` and bad escapes).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { GLOBAL_WEBMERCATOR } from '../../../src/grid/index.js';
import { createHandler, productVersion, type HandlerOptions } from '../../../src/app/router.js';
import { handlerFromConfig } from '../../../src/app/from-config.js';
import { createTmsService } from '../../../src/service/tms.js';
import { createWmtsService } from '../../../src/service/wmts.js';
import { toServiceMetadata } from '../../../src/service/metadata.js';
import { configureLogging } from '../../../src/log/index.js';
import type { Service } from '../../../src/service/index.js';
import { TILE_MTIME, testLayer } from '../service/helpers.js';

const logLines: string[] = [];
configureLogging({
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  }),
});

const world = testLayer('world', GLOBAL_WEBMERCATOR, { title: 'Synthetic world (MapServer upstream, cached)' });
const md = toServiceMetadata({ title: 'MapProxy reference rig', abstract: 'Reference' });
const tms = createTmsService({ layers: [world], md });
const wmts = createWmtsService({ layers: [world], md });
const boom: Service = {
  name: 'boom',
  async handle() {
    throw new TypeError('secret internals at /srv/app.js:1');
  },
};

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function start(opts: Partial<HandlerOptions> = {}): Promise<number> {
  const server = createServer(
    createHandler({ services: { tms, wmts: wmts.rest, boom }, ows: { wmts: wmts.kvp }, welcome: { demo: false }, ...opts }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

const TILE = '/tms/1.0.0/world/EPSG3857/0/0/0.png';
const LAST_MODIFIED = 'Mon, 23 Nov 2026 19:42:08 GMT';

test('a tile: status, type, length, caching headers, CORS, no Vary', async () => {
  const port = await start();
  const res = await call(port, TILE);
  assert.equal(res.status, 200);
  assert.equal(res.body, '0,1,1');
  assert.equal(res.headers['content-type'], 'image/png');
  assert.equal(res.headers['content-length'], '5');
  assert.equal(res.headers['last-modified'], LAST_MODIFIED);
  assert.match(res.headers.etag ?? '', /^"[0-9a-f]{32}"$/);
  assert.equal(res.headers['cache-control'], 'public, max-age=259200, s-maxage=259200');
  assert.equal(res.headers['access-control-allow-origin'], '*');
  assert.equal(res.headers.vary, undefined);
  assert.equal(new Date(res.headers['last-modified']!).getTime(), Math.floor(TILE_MTIME / 1000) * 1000);
});

test('conditional requests: If-None-Match and If-Modified-Since give 304 without body or type', async () => {
  const port = await start();
  const { headers } = await call(port, TILE);
  const etag = headers.etag!;
  for (const h of [
    { 'if-none-match': etag },
    { 'if-none-match': `W/${etag}` },
    { 'if-none-match': `"nope", ${etag}` },
    { 'if-none-match': '*' },
    { 'if-modified-since': LAST_MODIFIED },
    { 'if-modified-since': 'Mon, 23 Nov 2026 19:42:09 GMT' },
    { 'if-modified-since': 'Monday, 23-Nov-26 19:42:08 GMT' },
    { 'if-modified-since': 'Mon Nov 23 19:42:08 2026' },
  ] as Record<string, string>[]) {
    const res = await call(port, TILE, h);
    assert.equal(res.status, 304, JSON.stringify(h));
    assert.equal(res.body, '');
    assert.equal(res.headers['content-type'], undefined);
    assert.equal(res.headers.etag, etag);
    assert.equal(res.headers['access-control-allow-origin'], '*');
  }
  for (const h of [
    { 'if-none-match': '"nope"' },
    { 'if-modified-since': 'Mon, 23 Nov 2026 19:42:07 GMT' },
    { 'if-modified-since': 'not a date' },
    { 'if-none-match': '"nope"', 'if-modified-since': LAST_MODIFIED },
  ] as Record<string, string>[]) {
    const res = await call(port, TILE, h);
    assert.equal(res.status, 200, JSON.stringify(h));
    assert.equal(res.body, '0,1,1');
  }
});

test('HEAD sends the headers of GET and no body', async () => {
  const port = await start();
  const res = await call(port, TILE, {}, 'HEAD');
  assert.equal(res.status, 200);
  assert.equal(res.body, '');
  assert.equal(res.headers['content-length'], '5');
  assert.equal(res.headers['content-type'], 'image/png');
  assert.ok(res.headers.etag);
});

test('proxy headers appear in capabilities URLs', async () => {
  const port = await start();
  const proxied = await call(port, '/mp/tms/1.0.0/', {
    'x-script-name': '/mp',
    'x-forwarded-host': 'maps.example.com, edge.internal',
    'x-forwarded-proto': 'https',
  });
  assert.equal(proxied.status, 200);
  assert.match(proxied.body, /href="https:\/\/maps.example.com\/mp\/tms\/1.0.0\/world\/EPSG3857"/);
  const host = await call(port, '/tms/1.0.0/world/EPSG3857', { host: 'tiles.example.org:8443' });
  assert.match(host.body, /<TileSet href="http:\/\/tiles.example.org:8443\/tms\/1.0.0\/world\/EPSG3857\/0" /);
  const port80 = await call(port, '/wmts/1.0.0/WMTSCapabilities.xml', { host: 'tiles.example.org:80' });
  assert.match(port80.body, /template="http:\/\/tiles.example.org\/wmts\/world\/\{TileMatrixSet\}/);
  const kvp = await call(port, '/service?SERVICE=WMTS&REQUEST=GetCapabilities', { 'x-forwarded-host': 'kvp.example' });
  assert.match(kvp.body, /<ows:Get xlink:href="http:\/\/kvp.example\/service\?">/);
});

test('documents and errors get Vary; CORS can be changed or switched off', async () => {
  const port = await start();
  const caps = await call(port, '/tms/1.0.0/');
  assert.equal(caps.headers['content-type'], 'text/xml; charset=utf-8');
  assert.equal(caps.headers.vary, 'X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto');
  assert.equal(caps.headers['cache-control'], undefined);
  const err = await call(port, '/tms/1.0.0/world/EPSG3857/4/99/3.png');
  assert.equal(err.status, 404);
  assert.equal(err.headers.vary, 'X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto');
  assert.equal(err.headers['cache-control'], 'no-cache, no-store');
  assert.equal(err.headers.pragma, 'no-cache');
  assert.equal(err.headers.expires, '-1');
  const wmtsCaps = await call(port, '/wmts/1.0.0/WMTSCapabilities.xml');
  assert.equal(wmtsCaps.headers['content-type'], 'application/xml');
  assert.equal(wmtsCaps.headers.vary, 'X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto');

  const off = await start({ accessControlAllowOrigin: '' });
  assert.equal((await call(off, TILE)).headers['access-control-allow-origin'], undefined);
  const custom = await start({ accessControlAllowOrigin: 'https://app.example' });
  assert.equal((await call(custom, '/tms/1.0.0/')).headers['access-control-allow-origin'], 'https://app.example');
});

test('routing: /tiles and /wmts, anchored paths, unknown segments, the welcome page', async () => {
  const port = await start();
  assert.equal((await call(port, '/tiles/world/EPSG3857/0/0/0.png')).body, '0,0,0');
  assert.equal((await call(port, '/wmts/world/GLOBAL_WEBMERCATOR/08/128/80.png')).body, '128,80,8');
  assert.equal((await call(port, '/tms/1.0.0/w%6Frld/EPSG3857/0/0/0.png')).body, '0,1,1');
  const anchored = await call(port, '/tms/1.0.0/world/EPSG3857/0/0/0.png/../../x');
  assert.equal(anchored.status, 404);
  assert.equal(anchored.headers['content-type'], 'text/xml; charset=utf-8');
  const other = await call(port, '/foo/bar');
  assert.equal(other.status, 404);
  assert.equal(other.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(other.body, 'not found');
  // KML is not mounted here: its segment is unknown
  assert.equal((await call(port, '/kml/world/0/0/0.kml')).body, 'not found');
  const home = await call(port, '/');
  assert.equal(home.status, 200);
  assert.equal(home.headers['content-type'], 'text/html; charset=utf-8');
  // the version comes from package.json
  assert.match(productVersion(), /^\d+\.\d+\.\d+/);
  assert.equal(home.body, `<html><body><h1>Welcome to MapProxy-ts ${productVersion()}</h1>`);
  const demo = await start({ welcome: { demo: true, version: '9.9' } });
  assert.equal(
    (await call(demo, '/mp/', { 'x-script-name': '/mp', host: 'h' })).body,
    '<html><body><h1>Welcome to MapProxy-ts 9.9</h1><p>See all configured layers and services at: <a href="http://h/mp/demo/">demo</a>',
  );
});

test('OWS dispatcher: no SERVICE is an OWS ExceptionReport 400; without KVP services /service is 404', async () => {
  const port = await start();
  const res = await call(port, '/service?REQUEST=GetCapabilities');
  assert.equal(res.status, 400);
  assert.equal(res.headers['content-type'], 'text/xml; charset=utf-8');
  assert.match(res.body, /<ows:Exception exceptionCode="MissingParameterValue" locator="service">/);
  const wms = await call(port, '/ows?SERVICE=WMS&REQUEST=GetCapabilities');
  assert.equal(wms.status, 400);
  assert.match(wms.body, /exceptionCode="InvalidParameterValue" locator="service"/);
  // /wms exists only when WMS is on
  assert.equal((await call(port, '/wms?SERVICE=WMS')).body, 'not found');
  const none = await start({ ows: {} });
  assert.equal((await call(none, '/service?SERVICE=WMTS')).status, 404);
});

test('only GET and HEAD: other methods are 405 with Allow', async () => {
  const port = await start();
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const res = await call(port, '/tms/1.0.0/', {}, method);
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD');
    assert.equal(res.body, 'method not allowed');
  }
});

test('malformed percent-encoding in the path is a 400', async () => {
  const port = await start();
  const res = await call(port, '/tms/1.0.0/%zz/EPSG3857');
  assert.equal(res.status, 400);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.body, 'malformed percent-encoding in the request path');
});

test('an unexpected error is 500 "internal error", logged on mapproxy.wsgiapp, never shown', async () => {
  const port = await start();
  logLines.length = 0;
  const res = await call(port, '/boom/x?y=1');
  assert.equal(res.status, 500);
  assert.equal(res.headers['content-type'], 'text/plain');
  assert.equal(res.body, 'internal error');
  assert.equal(res.headers['cache-control'], 'no-cache, no-store');
  const entry = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.name === 'mapproxy.wsgiapp');
  assert.ok(entry, 'logged on mapproxy.wsgiapp');
  assert.equal(entry.level, 50);
  assert.equal(entry.url, '/boom/x?y=1');
  assert.match(JSON.stringify(entry.err), /secret internals/);
});

test('with debug (serve-develop --debug) an unexpected error is answered with its stack trace', async () => {
  const port = await start({ debug: true });
  const res = await call(port, '/boom/x?y=1');
  assert.equal(res.status, 500);
  assert.equal(res.headers['content-type'], 'text/plain');
  assert.equal(res.headers['cache-control'], 'no-cache, no-store');
  const [first, blank, error, frame] = res.body.split('\n');
  assert.deepEqual([first, blank], ['internal error', '']);
  assert.match(error, /secret internals/);
  assert.match(frame, /^ {4}at .*router\.test\.ts:\d+:\d+/);
});

test('handlerFromConfig wires TMS, /tiles, WMTS REST and KVP with the configured max-age and CORS', async () => {
  const server = createServer(
    handlerFromConfig({
      tileLayers: [world],
      services: {
        tms: { useGridNames: false, md: { title: 'T' } },
        wmts: { kvp: true, restful: true, md: { title: 'W' } },
      },
      accessControlAllowOrigin: 'https://a.example',
      tileMaxAge: 3600,
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const port = (server.address() as AddressInfo).port;
  const tile = await call(port, TILE);
  assert.equal(tile.headers['cache-control'], 'public, max-age=3600, s-maxage=3600');
  assert.equal(tile.headers['access-control-allow-origin'], 'https://a.example');
  assert.match((await call(port, '/tms/1.0.0/')).body, /<Title>T<\/Title>/);
  assert.equal((await call(port, '/tiles/world/EPSG3857/0/0/0.png')).status, 200);
  assert.match((await call(port, '/wmts/1.0.0/WMTSCapabilities.xml')).body, /<ows:Title>W<\/ows:Title>/);
  assert.match((await call(port, '/service?SERVICE=WMTS&REQUEST=GetCapabilities')).body, /<ows:Value>KVP<\/ows:Value>/);
});
