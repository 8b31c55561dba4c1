// WMTS KVP and RESTful: capabilities against the real MapProxy 1.15 (rig samples and
// fixtures/mapproxy/b_wmts_*.xml from fixtures/mapproxy/b.yaml), tile addressing, every error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { GLOBAL_GEODETIC, GLOBAL_MERCATOR, GLOBAL_WEBMERCATOR, buildGrids } from '../../../src/grid/index.js';
import { createWmtsService } from '../../../src/service/wmts.js';
import { parseRestTemplate } from '../../../src/service/wmts-template.js';
import { toServiceMetadata } from '../../../src/service/metadata.js';
import { ConfigError, SourceError } from '../../../src/errors.js';
import { configureLogging } from '../../../src/log/index.js';
import type { Service, ServiceResponse } from '../../../src/service/index.js';
import { TILE_MTIME, serviceRequest, testLayer, text } from './helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

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

const RIG_MD = toServiceMetadata({
  title: 'MapProxy reference rig',
  abstract: 'Reference MapProxy in front of a local MapServer, for side-by-side benchmarking.',
  online_resource: 'http://127.0.0.1:8080/service?',
  contact: { person: 'Rig', organization: 'Benchmark rig', email: 'rig@example.invalid' },
  access_constraints: 'None',
  fees: 'None',
});

function rig() {
  const world = testLayer('world', GLOBAL_WEBMERCATOR, { title: 'Synthetic world (MapServer upstream, cached)' });
  const merc = testLayer('merc', GLOBAL_MERCATOR);
  const { kvp, rest } = createWmtsService({ layers: [world, merc], md: RIG_MD });
  assert.ok(kvp && rest);
  return { world, merc, kvp, rest };
}

async function get(service: Service, path: string, query = '', baseUrl?: string): Promise<ServiceResponse> {
  const res = await service.handle(serviceRequest(path, query, baseUrl));
  assert.ok(res, `no answer for ${path}?${query}`);
  return res;
}

/** The OWS exception report as MapProxy lays it out (locator added where a parameter is at fault). */
function owsReport(code: string, message: string, locator?: string): string {
  return (
    '<?xml version="1.0"?>\n<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1"\n' +
    '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n' +
    '  xsi:schemaLocation="http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd"\n' +
    '  version="1.0.0" xml:lang="en">\n' +
    `  <ows:Exception exceptionCode="${code}"${locator ? ` locator="${locator}"` : ''}>\n` +
    `    <ows:ExceptionText>${message}</ows:ExceptionText>\n  </ows:Exception>\n</ows:ExceptionReport>\n`
  );
}

async function assertOwsError(res: ServiceResponse, status: number, code: string, message: string, locator?: string) {
  assert.equal(res.status, status);
  assert.equal(res.contentType, 'text/xml');
  assert.equal(res.cache, 'no-cache');
  assert.equal(text(res.body), owsReport(code, message, locator));
}

const RIG_KVP_TILE =
  'SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=world&STYLE=default&FORMAT=image/png' +
  '&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=08&TILEROW=80&TILECOL=128';

test('WMTS capabilities (KVP and RESTful) equal the rig samples of MapProxy', async () => {
  const world = testLayer('world', GLOBAL_WEBMERCATOR, { title: 'Synthetic world (MapServer upstream, cached)' });
  const { kvp, rest } = createWmtsService({ layers: [world], md: RIG_MD });
  const k = await get(kvp!, '/service', 'SERVICE=WMTS&REQUEST=GetCapabilities&VERSION=1.0.0');
  assert.equal(k.status, 200);
  assert.equal(k.contentType, 'application/xml');
  assert.equal(text(k.body), fixture('rig/wmts_capabilities_kvp.xml'));
  const r = await get(rest!, '/wmts/1.0.0/WMTSCapabilities.xml');
  assert.equal(r.status, 200);
  assert.equal(r.contentType, 'application/xml');
  assert.equal(text(r.body), fixture('rig/wmts_capabilities_rest.xml'));
});

test('WMTS capabilities of several grids, keywords and a custom template equal MapProxy\'s (b.yaml)', async () => {
  const grids = buildGrids({ geo_nw: { srs: 'EPSG:4326', bbox: [-180, -90, 180, 90], origin: 'nw', num_levels: 4 } });
  const world4326: [number, number, number, number] = [-180, -90, 180, 90];
  const layers = [
    testLayer('merc', GLOBAL_MERCATOR, { title: 'Mercator layer' }),
    testLayer('merc', GLOBAL_WEBMERCATOR, { title: 'Mercator layer' }),
    testLayer('geo', GLOBAL_GEODETIC, { title: 'Geo layer', format: 'image/jpeg', wgs84Bbox: world4326 }),
    testLayer('geo', grids.get('geo_nw')!, { title: 'Geo layer', format: 'image/jpeg', wgs84Bbox: world4326 }),
  ];
  const md = toServiceMetadata({
    title: 'WMTS <test>',
    abstract: 'Tiles & more',
    fees: 'some fee',
    keyword_list: [{ vocabulary: 'GEMET', keywords: ['roads', 'rivers'] }, { keywords: ['plain'] }],
    contact: { person: 'Jane', organization: 'ACME', city: 'Bonn', postcode: 53111, email: 'jane@example.invalid' },
  });
  logLines.length = 0;
  const { kvp, rest } = createWmtsService({
    layers,
    md,
    restfulTemplate: '/tiles/{TileMatrixSet}/{Layer}/{TileMatrix}/{TileRow}/{TileCol}.{Format}',
  });
  // MapProxy leaves GLOBAL_GEODETIC out (level 0 overhangs the north); we log why.
  const warning = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.grid === 'GLOBAL_GEODETIC');
  assert.ok(warning, 'a warning about GLOBAL_GEODETIC');
  assert.equal(warning.name, 'mapproxy.service.wmts');
  assert.equal(warning.level, 40);
  assert.match(String(warning.msg), /skipping layer 'geo' for WMTS: grid 'GLOBAL_GEODETIC' cannot be addressed from a top-left origin/);
  // MapProxy writes these values unescaped (not well-formed XML); we escape them.
  const escaped = (doc: string) => doc.replace('WMTS <test>', 'WMTS &lt;test&gt;').replace('Tiles & more', 'Tiles &amp; more');
  const base = 'http://localhost:8080';
  const r = await get(rest!, '/wmts/1.0.0/WMTSCapabilities.xml', '', base);
  assert.equal(text(r.body), escaped(fixture('mapproxy/b_wmts_rest.xml')));
  const k = await get(kvp!, '/service', 'SERVICE=WMTS&REQUEST=GetCapabilities', base);
  assert.equal(text(k.body), escaped(fixture('mapproxy/b_wmts_kvp.xml')));
  // the custom template addresses tiles: row before column here
  const tile = await get(rest!, '/wmts/tiles/geo_nw/geo/02/1/3.jpeg');
  assert.equal(text(tile.body), '3,1,2');
});

test('REST 08/128/80 is internal (128,80,8) on a ul grid and flipped on an ll grid', async () => {
  const { world, merc, rest } = rig();
  const res = await get(rest, '/wmts/world/GLOBAL_WEBMERCATOR/08/128/80.png');
  assert.equal(res.status, 200);
  assert.equal(res.contentType, 'image/png');
  assert.equal(text(res.body), '128,80,8');
  assert.deepEqual(res.cache, { mtime: TILE_MTIME, size: 8, maxAge: 259200, validators: undefined });
  // the rig's sample URL writes the level without padding
  assert.equal(text((await get(rest, '/wmts/world/GLOBAL_WEBMERCATOR/8/128/80.png')).body), '128,80,8');
  assert.equal(text((await get(rest, '/wmts/merc/GLOBAL_MERCATOR/08/128/80.png')).body), '128,175,8');
  assert.deepEqual(world.calls, [[128, 80, 8], [128, 80, 8]]);
  assert.deepEqual(merc.calls, [[128, 175, 8]]);
});

test('KVP GetTile: the rig request, case-insensitive names, any STYLE, FORMAT optional', async () => {
  const { world, kvp } = rig();
  assert.equal(text((await get(kvp, '/service', RIG_KVP_TILE)).body), '128,80,8');
  const lower =
    'service=wmts&request=gettile&version=1.0.0&layer=world&style=&tilematrixset=GLOBAL_WEBMERCATOR' +
    '&tilematrix=8&tilerow=80&tilecol=128';
  const res = await get(kvp, '/ows', lower);
  assert.equal(res.status, 200);
  assert.equal(res.contentType, 'image/png');
  assert.equal(text(res.body), '128,80,8');
  const styled = await get(kvp, '/service', RIG_KVP_TILE.replace('STYLE=default', 'STYLE=fancy'));
  assert.equal(styled.status, 200);
  assert.equal(world.calls.length, 3);
});

test('out of range tiles are TileOutOfRange 400, as the rig sample shows', async () => {
  const { rest, kvp, world } = rig();
  const res = await get(rest, '/wmts/world/GLOBAL_WEBMERCATOR/4/99/3.png');
  assert.equal(res.status, 400);
  assert.equal(res.contentType, 'text/xml');
  assert.equal(res.cache, 'no-cache');
  assert.equal(text(res.body), fixture('rig/wmts_out_of_range.body'));
  const level = await get(kvp, '/service', RIG_KVP_TILE.replace('TILEMATRIX=08', 'TILEMATRIX=20'));
  await assertOwsError(level, 400, 'TileOutOfRange', 'The requested tile is outside the bounding box of the tile map.');
  const negative = await get(kvp, '/service', RIG_KVP_TILE.replace('TILEROW=80', 'TILEROW=-1'));
  assert.equal(negative.status, 400);
  assert.equal(world.calls.length, 0);
});

test('KVP errors: missing, unknown and malformed parameters are 400 with a locator', async () => {
  const { kvp, world } = rig();
  const q = (from: string, to: string) => RIG_KVP_TILE.replace(from, to);
  await assertOwsError(
    await get(kvp, '/service', q('&TILECOL=128', '')),
    400,
    'MissingParameterValue',
    'missing parameters [&#x27;tilecol&#x27;]',
    'tilecol',
  );
  await assertOwsError(
    await get(kvp, '/service', q('LAYER=world&STYLE=default&', '')),
    400,
    'MissingParameterValue',
    'missing parameters [&#x27;layer&#x27;, &#x27;style&#x27;]',
    'layer',
  );
  await assertOwsError(
    await get(kvp, '/service', 'SERVICE=WMTS'),
    400,
    'MissingParameterValue',
    'missing parameters [&#x27;request&#x27;]',
    'request',
  );
  await assertOwsError(
    await get(kvp, '/service', 'SERVICE=WMTS&REQUEST=GetFoo'),
    400,
    'InvalidParameterValue',
    'unknown WMTS request type &#x27;GetFoo&#x27;',
    'request',
  );
  await assertOwsError(await get(kvp, '/service', q('LAYER=world', 'LAYER=nope')), 400, 'InvalidParameterValue', 'unknown layer: nope', 'layer');
  await assertOwsError(
    await get(kvp, '/service', q('TILEMATRIXSET=GLOBAL_WEBMERCATOR', 'TILEMATRIXSET=foo')),
    400,
    'InvalidParameterValue',
    'unknown tilematrixset: foo',
    'tilematrixset',
  );
  await assertOwsError(
    await get(kvp, '/service', q('FORMAT=image/png', 'FORMAT=image/jpeg')),
    400,
    'InvalidParameterValue',
    'invalid format (jpeg). this tile set only supports (png)',
    'format',
  );
  // MapProxy 1.15 answers 500 for a non-numeric TILEROW; bad input is the client's fault.
  await assertOwsError(
    await get(kvp, '/service', q('TILEROW=80', 'TILEROW=abc')),
    400,
    'InvalidParameterValue',
    'invalid value for tilerow: &#x27;abc&#x27; is not an integer',
    'tilerow',
  );
  // A parameter sent twice counts with both values (MapProxy's RequestParams joins them with a
  // comma); MapProxy answers 500 for the row, which is the client's fault here too.
  await assertOwsError(await get(kvp, '/service', `${RIG_KVP_TILE}&LAYER=foo`), 400, 'InvalidParameterValue', 'unknown layer: world,foo', 'layer');
  await assertOwsError(
    await get(kvp, '/service', `${RIG_KVP_TILE}&tilerow=81`),
    400,
    'InvalidParameterValue',
    'invalid value for tilerow: &#x27;80,81&#x27; is not an integer',
    'tilerow',
  );
  // REQUEST is read as MapProxy reads it: its first value.
  await assertOwsError(await get(kvp, '/service', `${RIG_KVP_TILE}&REQUEST=GetCapabilities&LAYER=foo`), 400, 'InvalidParameterValue', 'unknown layer: world,foo', 'layer');
  await assertOwsError(
    await get(kvp, '/service', q('REQUEST=GetTile', 'REQUEST=GetFeatureInfo')),
    501,
    'OperationNotSupported',
    'layer world not queryable',
  );
  assert.equal(world.calls.length, 0);
  // FORMAT too is read with its first value (MapProxy: params.get): the tile is served.
  assert.equal((await get(kvp, '/service', `${RIG_KVP_TILE}&FORMAT=image/jpeg`)).status, 200);
  assert.equal(world.calls.length, 1);
});

test('REST errors: unknown layer, matrix set, format; paths matching nothing are 404', async () => {
  const { rest, world } = rig();
  await assertOwsError(await get(rest, '/wmts/nope/GLOBAL_WEBMERCATOR/0/0/0.png'), 400, 'InvalidParameterValue', 'unknown layer: nope', 'layer');
  await assertOwsError(
    await get(rest, '/wmts/world/nope/1/0/0.png'),
    400,
    'InvalidParameterValue',
    'unknown tilematrixset: nope',
    'tilematrixset',
  );
  await assertOwsError(
    await get(rest, '/wmts/world/GLOBAL_WEBMERCATOR/1/0/0.jpeg'),
    400,
    'InvalidParameterValue',
    'invalid format (jpeg). this tile set only supports (png)',
    'format',
  );
  // MapProxy 1.15 serves the tile (unanchored pattern) and capabilities for any */1.0.0/WMTSCapabilities.xml.
  for (const path of ['/wmts/world/GLOBAL_WEBMERCATOR/1/0/0.png/x', '/wmts/foo/1.0.0/WMTSCapabilities.xml', '/wmts', '/wmts/world/GLOBAL_WEBMERCATOR/a/0/0.png']) {
    await assertOwsError(await get(rest, path), 404, 'NoApplicableCode', `invalid request (${path})`);
  }
  assert.equal(world.calls.length, 0);
});

test('REST templates: dimensions accept only "default"; bad templates are config errors', async () => {
  const world = testLayer('world', GLOBAL_WEBMERCATOR);
  const { rest } = createWmtsService({
    layers: [world],
    md: RIG_MD,
    kvp: false,
    restfulTemplate: '/{Layer}/{Time}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}',
  });
  assert.equal(text((await get(rest!, '/wmts/world/default/GLOBAL_WEBMERCATOR/1/1/0.png')).body), '1,0,1');
  await assertOwsError(
    await get(rest!, '/wmts/world/2020/GLOBAL_WEBMERCATOR/1/1/0.png'),
    400,
    'InvalidParameterValue',
    'unknown dimension: time',
    'Time',
  );
  const caps = text((await get(rest!, '/wmts/1.0.0/WMTSCapabilities.xml', '', 'http://h')).body);
  assert.match(caps, /template="http:\/\/h\/wmts\/world\/\{Time\}\/\{TileMatrixSet\}\/\{TileMatrix\}\/\{TileCol\}\/\{TileRow\}\.png"/);

  // deprecated double braces still parse; the advertised template uses single braces
  assert.equal(parseRestTemplate('/{{Layer}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png').template, '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png');
  assert.throws(
    () => parseRestTemplate('/{Layer}/{TileMatrix}/{TileCol}/{TileRow}.png'),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.code === 'MPX_ERR_CONFIG' &&
      err.problems[0].path === 'services.wmts.restful_template' &&
      err.problems[0].message ===
        'missing required variables in WMTS restful template "/{Layer}/{TileMatrix}/{TileCol}/{TileRow}.png": {TileMatrixSet}',
  );
  assert.throws(
    () => parseRestTemplate('/{Layer}/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png'),
    (err: unknown) =>
      err instanceof ConfigError && /variable \{Layer\} appears more than once/.test(err.problems[0].message),
  );
});

test('bindings can be switched off; source errors are 500 NoApplicableCode', async () => {
  const bad = testLayer('bad', GLOBAL_WEBMERCATOR, {
    error: new SourceError('No response from URL http://upstream/wms', { reason: 'timeout' }),
  });
  const onlyKvp = createWmtsService({ layers: [bad], md: RIG_MD, restful: false });
  assert.equal(onlyKvp.rest, undefined);
  const res = await get(onlyKvp.kvp!, '/service', RIG_KVP_TILE.replace('LAYER=world', 'LAYER=bad'));
  await assertOwsError(res, 500, 'NoApplicableCode', 'No response from URL http://upstream/wms');
  assert.equal(createWmtsService({ layers: [bad], md: RIG_MD, kvp: false }).kvp, undefined);
  const nc = testLayer('nc', GLOBAL_WEBMERCATOR, { cacheable: false });
  const { rest } = createWmtsService({ layers: [nc], md: RIG_MD, maxAge: 10 });
  assert.equal((await get(rest!, '/wmts/nc/GLOBAL_WEBMERCATOR/0/0/0.png')).cache, 'no-cache');
  assert.equal(await rest!.handle(serviceRequest('/tms/1.0.0/')), null);
});
