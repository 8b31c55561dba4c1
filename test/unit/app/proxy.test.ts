// Proxy headers and base URL (REFERENCE.md §1.1, MapProxy's Request.host / script_url).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { resolveRequest } from '../../../src/app/proxy.js';
import { RequestError } from '../../../src/errors.js';

/** The parts of an IncomingMessage that resolveRequest reads. */
function req(url: string, headers: Record<string, string> = {}, socket: Record<string, unknown> = {}): IncomingMessage {
  return { url, headers, socket: { localAddress: '127.0.0.1', localPort: 8080, ...socket } } as unknown as IncomingMessage;
}

test('Host header: kept with a port, :80 dropped for http and :443 for https', () => {
  assert.equal(resolveRequest(req('/tms', { host: 'maps.example.com:8080' })).baseUrl, 'http://maps.example.com:8080');
  assert.equal(resolveRequest(req('/tms', { host: 'maps.example.com:80' })).baseUrl, 'http://maps.example.com');
  assert.equal(resolveRequest(req('/tms', { host: 'maps.example.com:443' })).baseUrl, 'http://maps.example.com:443');
  assert.equal(resolveRequest(req('/tms', { host: 'maps.example.com:443', 'x-forwarded-proto': 'https' })).baseUrl, 'https://maps.example.com');
  assert.equal(resolveRequest(req('/tms', { host: '[::1]:80' })).baseUrl, 'http://[::1]');
  assert.equal(resolveRequest(req('/tms', { host: '[::1]' })).baseUrl, 'http://[::1]');
  assert.equal(resolveRequest(req('/tms', {}, { encrypted: true, localPort: 443 })).baseUrl, 'https://127.0.0.1');
  assert.equal(resolveRequest(req('/tms', {}, { localAddress: '::1', localPort: 9000 })).baseUrl, 'http://[::1]:9000');
});

test('X-Forwarded-Host (first of a list) wins over Host; X-Forwarded-Proto sets the scheme', () => {
  const t = resolveRequest(
    req('/tms/1.0.0/', { host: 'backend:8080', 'x-forwarded-host': 'maps.example.com, proxy.internal', 'x-forwarded-proto': 'https' }),
  );
  assert.equal(t.baseUrl, 'https://maps.example.com');
  assert.equal(t.path, '/tms/1.0.0/');
});

test('X-Script-Name is moved into the base URL and stripped from the path', () => {
  const t = resolveRequest(req('/mapproxy/tms/1.0.0/?a=1', { host: 'h', 'x-script-name': '/mapproxy' }));
  assert.equal(t.path, '/tms/1.0.0/');
  assert.equal(t.scriptName, '/mapproxy');
  assert.equal(t.baseUrl, 'http://h/mapproxy');
  assert.equal(t.query.get('A'), '1');
  // a path outside the script name is left alone; the base URL still carries it
  const other = resolveRequest(req('/tms', { host: 'h', 'x-script-name': '/mp/' }));
  assert.equal(other.path, '/tms');
  assert.equal(other.baseUrl, 'http://h/mp');
  assert.equal(resolveRequest(req('/mp', { host: 'h', 'x-script-name': '/mp' })).path, '/');
  assert.equal(resolveRequest(req('/mpx/tms', { host: 'h', 'x-script-name': '/mp' })).path, '/mpx/tms');
  // quoted in URLs like Python's quote()
  assert.equal(resolveRequest(req('/', { host: 'h', 'x-script-name': '/my maps' })).baseUrl, 'http://h/my%20maps');
});

test('a fragment sent in the request target is dropped, from the path or from the query', () => {
  assert.equal(resolveRequest(req('/tms/1.0.0/l/EPSG3857/1/0/0.png#frag', { host: 'h' })).path, '/tms/1.0.0/l/EPSG3857/1/0/0.png');
  const withQuery = resolveRequest(req('/service?SERVICE=WMTS&TILECOL=128#x', { host: 'h' }));
  assert.equal(withQuery.path, '/service');
  assert.equal(withQuery.query.get('tilecol'), '128');
  assert.equal(resolveRequest(req('/tms/1.0.0/#x', { host: 'h' })).path, '/tms/1.0.0/');
});

test('the path is percent-decoded; malformed escapes are a 400 RequestError', () => {
  assert.equal(resolveRequest(req('/tms/1.0.0/w%C3%B6rld/x', { host: 'h' })).path, '/tms/1.0.0/wörld/x');
  assert.equal(resolveRequest(req('http://h:1/tiles/a?x=1', { host: 'h' })).path, '/tiles/a');
  assert.throws(
    () => resolveRequest(req('/tms/%zz', { host: 'h' })),
    (err: unknown) => err instanceof RequestError && err.status === 400 && err.code === 'MPX_ERR_BAD_PATH' && err.message === 'malformed percent-encoding in the request path',
  );
  for (const notUtf8 of ['/tms/%C3', '/tms/%FF/x', '/tms/1.0.0/%E9t%E9']) {
    assert.throws(
      () => resolveRequest(req(notUtf8, { host: 'h' })),
      (err: unknown) => err instanceof RequestError && err.status === 400 && err.message === 'the request path is not UTF-8 once its %XX escapes are decoded',
      notUtf8,
    );
  }
  // A malformed escape is named as such even next to a well-formed one.
  assert.throws(() => resolveRequest(req('/tms/%C3%A9/%', { host: 'h' })), { message: 'malformed percent-encoding in the request path' });
});
