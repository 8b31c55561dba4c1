// MultiMapProxy's path handling: the project segment moves from the path into the script name
// (MapProxy's Request.pop_path), and a mounted request resolves to the target its mounter fixed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { mountRequest, resolveRequest, shiftPathSegment } from '../../../src/app/proxy.js';

/** The parts of an IncomingMessage that resolveRequest reads. */
function req(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers, socket: { localAddress: '127.0.0.1', localPort: 8080 } } as unknown as IncomingMessage;
}

test('the first segment moves into the script name and the base URL', () => {
  const { segment, target } = shiftPathSegment(resolveRequest(req('/proj/tms/1.0.0/?a=1', { host: 'h' })));
  assert.equal(segment, 'proj');
  assert.equal(target.path, '/tms/1.0.0/');
  assert.equal(target.scriptName, '/proj');
  assert.equal(target.baseUrl, 'http://h/proj');
  assert.equal(target.query.get('A'), '1');
});

test('after X-Script-Name, with or without its trailing slash', () => {
  for (const script of ['/mapproxy', '/mapproxy/']) {
    const t = shiftPathSegment(resolveRequest(req('/mapproxy/proj/wmts/x', { host: 'h', 'x-script-name': script }))).target;
    assert.equal(t.path, '/wmts/x', script);
    assert.equal(t.scriptName, '/mapproxy/proj', script);
    assert.equal(t.baseUrl, 'http://h/mapproxy/proj', script);
  }
});

test('MapProxy pop_path: leading slashes are skipped, a bare segment leaves an empty path, / has no segment', () => {
  const bare = shiftPathSegment(resolveRequest(req('/proj', { host: 'h' })));
  assert.equal(bare.segment, 'proj');
  assert.equal(bare.target.path, '');
  assert.equal(bare.target.baseUrl, 'http://h/proj');
  const doubled = shiftPathSegment(resolveRequest(req('//proj/tms', { host: 'h' })));
  assert.equal(doubled.segment, 'proj');
  assert.equal(doubled.target.path, '/tms');
  const root = resolveRequest(req('/', { host: 'h' }));
  const none = shiftPathSegment(root);
  assert.equal(none.segment, '');
  assert.equal(none.target, root);
});

test('the segment is decoded in the path and quoted in the base URL', () => {
  const { segment, target } = shiftPathSegment(resolveRequest(req('/my%20maps/tms', { host: 'h' })));
  assert.equal(segment, 'my maps');
  assert.equal(target.scriptName, '/my maps');
  assert.equal(target.baseUrl, 'http://h/my%20maps');
  // an encoded slash is part of the decoded path: it ends the segment
  assert.equal(shiftPathSegment(resolveRequest(req('/..%2f..', { host: 'h' }))).segment, '..');
});

test('a mounted request resolves to the fixed target, not to its URL and headers', () => {
  const r = req('/mapproxy/proj/tms/1.0.0/', { host: 'h', 'x-script-name': '/mapproxy' });
  const shifted = shiftPathSegment(resolveRequest(r)).target;
  mountRequest(r, shifted);
  assert.equal(resolveRequest(r), shifted);
  assert.equal(resolveRequest(r).baseUrl, 'http://h/mapproxy/proj');
  // other requests are untouched
  assert.equal(resolveRequest(req('/mapproxy/proj/tms/1.0.0/', { host: 'h', 'x-script-name': '/mapproxy' })).path, '/proj/tms/1.0.0/');
});
