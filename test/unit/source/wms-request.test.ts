// The upstream GetMap query string, compared with strings printed by MapProxy 1.15's own WMSClient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getSrs } from '../../../src/grid/index.js';
import { ConfigError } from '../../../src/errors.js';
import { completeUrl, quote, WmsParams, wmsGetMapUrl, wmsRequestTemplate } from '../../../src/source/wms-request.js';

test('1.1.1 query string equals the rig sample of MapProxy 1.15 (transparent written FALSE)', () => {
  // MapProxy: layers=base&transparent=False&format=image%2Fpng&bbox=…&srs=EPSG%3A3857&request=GetMap&version=1.1.1&service=WMS&styles=
  const t = wmsRequestTemplate({ url: 'http://127.0.0.1:8081/mapserv?', layers: 'base', transparent: false }, '1.1.1', 'sources.world_wms');
  const url = wmsGetMapUrl(t, {
    bbox: [-6912353.341885059, 3419486.8973656455, -6550347.575926465, 3781492.663324239],
    size: [1184, 1184],
    srs: getSrs('EPSG:3857'),
    format: 'image/png',
  });
  assert.equal(
    url,
    'http://127.0.0.1:8081/mapserv?layers=base&transparent=FALSE&format=image%2Fpng&bbox=-6912353.341885059,3419486.8973656455,-6550347.575926465,3781492.663324239&width=1184&height=1184&srs=EPSG%3A3857&request=GetMap&version=1.1.1&service=WMS&styles=',
  );
});

test('no req.layers (an SLD names them): no LAYERS parameter, as MapProxy 1.15 sends for its sld.yaml', () => {
  const t = wmsRequestTemplate({ url: 'http://127.0.0.1:19690/service', sld: 'http://example.org/sld.xml' }, undefined, 'sources.sld_url_wms');
  const url = wmsGetMapUrl(t, {
    bbox: [-20037508.342789244, -20037508.34278924, -10018754.171394622, -10018754.17139462],
    size: [256, 256],
    srs: getSrs('EPSG:3857'),
    format: 'image/png',
  });
  // MapProxy 1.15 sent exactly this for TMS tile 1/0/0 of a cache on GLOBAL_WEBMERCATOR.
  assert.equal(
    url,
    'http://127.0.0.1:19690/service?sld=http%3A%2F%2Fexample.org%2Fsld.xml&format=image%2Fpng&bbox=-20037508.342789244,-20037508.34278924,-10018754.171394622,-10018754.17139462&width=256&height=256&srs=EPSG%3A3857&request=GetMap&version=1.1.1&service=WMS&styles=',
  );
});

test('an SLD file goes after format as sld_body, as MapProxy 1.15 sent it for its sld.yaml', () => {
  const t = wmsRequestTemplate({ url: 'http://127.0.0.1:19690/service' }, undefined, 'sources.sld_file_wms', { sldFileBody: '<sld>' });
  assert.equal(t.hasSldBody, true);
  const url = wmsGetMapUrl(t, {
    bbox: [-20037508.342789244, -20037508.34278924, -10018754.171394622, -10018754.17139462],
    size: [256, 256],
    srs: getSrs('EPSG:3857'),
    format: 'image/png',
  });
  assert.equal(
    url,
    'http://127.0.0.1:19690/service?format=image%2Fpng&sld_body=%3Csld%3E&bbox=-20037508.342789244,-20037508.34278924,-10018754.171394622,-10018754.17139462&width=256&height=256&srs=EPSG%3A3857&request=GetMap&version=1.1.1&service=WMS&styles=',
  );
});

test('other req keys pass through in order with Python quoting and float repr', () => {
  const t = wmsRequestTemplate(
    { url: 'http://h/wms', layers: 'a b,c', styles: 'x!*()', map: '/data/x.map', tiled: true, dpi: 96, opacity: 0.5 },
    undefined,
    'sources.s',
  );
  const url = wmsGetMapUrl(t, { bbox: [0, 1e-5, 1.2345678901234568e17, 0.1 + 0.2], size: [300, 200], srs: getSrs('EPSG:900913'), format: 'image/png; mode=8bit' });
  // MapProxy 1.15 printed exactly this (styles configured, so no empty styles= at the end).
  assert.equal(
    url,
    'http://h/wms?layers=a%20b,c&styles=x%21%2A%28%29&map=%2Fdata%2Fx.map&tiled=True&dpi=96&opacity=0.5&format=image%2Fpng%3B%20mode%3D8bit&bbox=0.0,1e-05,1.2345678901234568e%2B17,0.30000000000000004&width=300&height=200&srs=EPSG%3A900913&request=GetMap&version=1.1.1&service=WMS',
  );
});

test('1.3.0 with EPSG:4326 swaps the bbox axes, writes CRS last and keeps the url query and key spelling', () => {
  const t = wmsRequestTemplate({ url: 'http://u:p@h/wms?FOO=1', LAYERS: 'l', FORMAT: 'image/jpeg', transparent: 'true' }, '1.3.0', 'sources.s');
  assert.equal(t.requestFormat, 'image/jpeg');
  const url = wmsGetMapUrl(t, { bbox: [5.5, 47.25, 15, 55], size: [300, 200], srs: getSrs('EPSG:4326'), format: t.requestFormat ?? 'image/png' });
  // MapProxy: …&transparent=true&bbox=47.25,5.5,55.0,15.0&…&styles=&crs=EPSG%3A4326 (we send TRUE).
  assert.equal(
    url,
    'http://u:p@h/wms?FOO=1&LAYERS=l&FORMAT=image%2Fjpeg&transparent=TRUE&bbox=47.25,5.5,55.0,15.0&width=300&height=200&request=GetMap&version=1.3.0&service=WMS&styles=&crs=EPSG%3A4326',
  );
});

test('1.3.0 with CRS:84 keeps lon/lat order', () => {
  const t = wmsRequestTemplate({ url: 'http://h/wms?', layers: 'l' }, '1.3.0', 'sources.s');
  const url = wmsGetMapUrl(t, { bbox: [5.5, 47.25, 15, 55], size: [300, 200], srs: getSrs('CRS:84'), format: 'image/png' });
  assert.equal(url, 'http://h/wms?layers=l&format=image%2Fpng&bbox=5.5,47.25,15.0,55.0&width=300&height=200&request=GetMap&version=1.3.0&service=WMS&styles=&crs=CRS%3A84');
});

test('dimensions go after srs and before request', () => {
  const t = wmsRequestTemplate({ url: 'http://h/wms', layers: 'l', TIME: '2020' }, '1.1.1', 'sources.s');
  const url = wmsGetMapUrl(t, { bbox: [0, 0, 1, 1], size: [1, 1], srs: getSrs('EPSG:4326'), format: 'png', dimensions: { time: '2021', elevation: '5' } });
  // MapProxy: a configured TIME keeps its place and spelling; a new key is appended.
  assert.equal(url, 'http://h/wms?layers=l&TIME=2021&format=image%2Fpng&bbox=0.0,0.0,1.0,1.0&width=1&height=1&srs=EPSG%3A4326&elevation=5&request=GetMap&version=1.1.1&service=WMS&styles=');
});

test('completeUrl joins like MapProxy: ?, & or nothing after a trailing ?', () => {
  assert.equal(completeUrl('http://h/wms', 'a=1'), 'http://h/wms?a=1');
  assert.equal(completeUrl('http://h/wms?x=1', 'a=1'), 'http://h/wms?x=1&a=1');
  assert.equal(completeUrl('http://h/wms?', 'a=1'), 'http://h/wms?a=1');
  assert.equal(completeUrl('http://h/wms?x=1&', 'a=1'), 'http://h/wms?x=1&&a=1');
});

test('quote keeps only letters, digits, _.-~ and the comma', () => {
  assert.equal(quote("a,b c/d:e;f=g!'()*~._-ä"), "a,b%20c%2Fd%3Ae%3Bf%3Dg%21%27%28%29%2A~._-%C3%A4");
});

test('WmsParams is case-insensitive and keeps first spelling and position', () => {
  const p = new WmsParams([['LAYERS', 'a'], ['format', 'x']]);
  p.set('layers', 'b');
  p.set('Bbox', '1');
  assert.equal(p.toString(), 'LAYERS=b&format=x&Bbox=1');
  assert.equal(p.get('layers'), 'b');
  p.delete('FORMAT');
  assert.equal(p.toString(), 'LAYERS=b&Bbox=1');
});

test('bad req and version are ConfigErrors naming the YAML path', () => {
  assert.throws(() => wmsRequestTemplate({ layers: 'a' }, undefined, 'sources.s'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, 'MPX_ERR_CONFIG');
    assert.equal(e.message, 'invalid configuration:\n  sources.s.req.url: required, an http:// or https:// URL (got undefined)');
    return true;
  });
  assert.throws(() => wmsRequestTemplate({ url: 'http://h/', layers: 'a' }, '1.1.0', 'sources.s'), {
    message: 'invalid configuration:\n  sources.s.wms_opts.version: unsupported WMS version "1.1.0" (use 1.1.1 or 1.3.0)',
  });
});
