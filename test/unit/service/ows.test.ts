// The OWS dispatcher at /service and /ows: SERVICE picks the KVP service; a missing or unknown
// SERVICE is an OWS ExceptionReport with HTTP 400 (MapProxy ≥ 3.0, PR #967).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GLOBAL_WEBMERCATOR } from '../../../src/grid/index.js';
import { createOwsDispatcher } from '../../../src/service/ows.js';
import { createWmtsService } from '../../../src/service/wmts.js';
import type { Service, ServiceRequest } from '../../../src/service/index.js';
import { serviceRequest, testLayer, text } from './helpers.js';

function report(code: string, message: string): string {
  return (
    '<?xml version="1.0"?>\n<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1"\n' +
    '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n' +
    '  xsi:schemaLocation="http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd"\n' +
    '  version="1.0.0" xml:lang="en">\n' +
    `  <ows:Exception exceptionCode="${code}" locator="service">\n` +
    `    <ows:ExceptionText>${message}</ows:ExceptionText>\n  </ows:Exception>\n</ows:ExceptionReport>\n`
  );
}

const wmts = createWmtsService({ layers: [testLayer('world', GLOBAL_WEBMERCATOR)], md: {} }).kvp!;

/** A WMS stand-in that records what reaches it. */
function recordingWms(): Service & { seen: ServiceRequest[] } {
  const seen: ServiceRequest[] = [];
  return {
    name: 'wms',
    seen,
    async handle(req) {
      seen.push(req);
      return { status: 200, contentType: 'text/plain', body: 'wms' };
    },
  };
}

test('a missing SERVICE is MissingParameterValue, 400, locator service', async () => {
  const ows = createOwsDispatcher({ wmts });
  for (const query of ['REQUEST=GetCapabilities', '', 'SERVICE=']) {
    const res = await ows.handle(serviceRequest('/service', query));
    assert.ok(res);
    assert.equal(res.status, 400);
    assert.equal(res.contentType, 'text/xml; charset=utf-8');
    assert.equal(res.cache, 'no-cache');
    assert.equal(text(res.body), report('MissingParameterValue', 'The service parameter is missing'));
  }
});

test('an unknown SERVICE, or WMS while WMS is off, is InvalidParameterValue 400', async () => {
  const ows = createOwsDispatcher({ wmts });
  for (const [query, value] of [['SERVICE=foo&REQUEST=GetCapabilities', 'foo'], ['SERVICE=WMS&REQUEST=GetMap', 'WMS']]) {
    const res = await ows.handle(serviceRequest('/service', query));
    assert.ok(res);
    assert.equal(res.status, 400);
    assert.equal(text(res.body), report('InvalidParameterValue', `The value of the service parameter is not supported: ${value}`));
  }
  // WMS 1.0.0 and GetMap without SERVICE still are no WMTS requests
  const res = await ows.handle(serviceRequest('/service', 'WMTVER=1.0.0&REQUEST=map'));
  assert.equal(res?.status, 400);
});

test('SERVICE is case-insensitive in name and value', async () => {
  const ows = createOwsDispatcher({ wmts });
  const res = await ows.handle(serviceRequest('/ows', 'service=wMtS&request=GetCapabilities', 'http://h'));
  assert.ok(res);
  assert.equal(res.status, 200);
  assert.equal(res.contentType, 'application/xml');
  assert.match(text(res.body), /<ows:Get xlink:href="http:\/\/h\/ows\?">/);
});

test('without SERVICE, WMTVER=1.0.0 or REQUEST=GetMap go to WMS when it is on', async () => {
  const wms = recordingWms();
  const ows = createOwsDispatcher({ wmts, wms });
  assert.equal(text((await ows.handle(serviceRequest('/service', 'WMTVER=1.0.0&REQUEST=capabilities')))!.body), 'wms');
  assert.equal(text((await ows.handle(serviceRequest('/service', 'REQUEST=GetMap&LAYERS=x')))!.body), 'wms');
  assert.equal(wms.seen.length, 2);
  // MapProxy compares REQUEST=GetMap exactly
  assert.equal((await ows.handle(serviceRequest('/service', 'REQUEST=getmap')))!.status, 400);
  assert.equal(text((await ows.handle(serviceRequest('/service', 'SERVICE=WMS&REQUEST=GetCapabilities')))!.body), 'wms');
});
