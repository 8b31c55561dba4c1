// Credentials in source URLs: split off as MapProxy's auth_data_from_url does (its doctests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuth, splitCredentials } from '../../../src/source/http-client.js';
import { semaphoreBase } from '../../../src/source/semaphore.js';

test('splitCredentials follows auth_data_from_url', () => {
  assert.deepEqual(splitCredentials('invalid_url'), { url: 'invalid_url' });
  assert.deepEqual(splitCredentials('http://localhost/bar'), { url: 'http://localhost/bar' });
  assert.deepEqual(splitCredentials('http://bar@localhost/bar'), { url: 'http://localhost/bar', username: 'bar' });
  assert.deepEqual(splitCredentials('http://bar:baz@localhost/bar'), { url: 'http://localhost/bar', username: 'bar', password: 'baz' });
  assert.deepEqual(splitCredentials('http://bar:b:az@@localhost/bar'), { url: 'http://localhost/bar', username: 'bar', password: 'b:az@' });
  assert.deepEqual(splitCredentials('https://bar:foo#;%$@localhost/bar'), { url: 'https://localhost/bar', username: 'bar', password: 'foo#;%$' });
  assert.deepEqual(splitCredentials('http://localhost/bar@2x'), { url: 'http://localhost/bar@2x' });
  assert.deepEqual(splitCredentials('http://bar:baz@localhost/bar@2x.png'), { url: 'http://localhost/bar@2x.png', username: 'bar', password: 'baz' });
  // MapProxy adds the slash after the host when there is no path.
  assert.deepEqual(splitCredentials('http://u:p@localhost'), { url: 'http://localhost/', username: 'u', password: 'p' });
});

test('basicAuth encodes user:password', () => {
  assert.equal(basicAuth('Aladdin', 'open sesame'), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  assert.equal(basicAuth('u'), 'Basic dTo=');
  assert.equal(basicAuth(), undefined);
});

test('semaphore lock files are named by md5 of host:port without credentials', () => {
  // md5('127.0.0.1:8081'), computed with coreutils md5sum.
  assert.equal(semaphoreBase('/locks', 'http://u:p@127.0.0.1:8081/mapserv?'), '/locks/' + MD5_HOST + '.lck');
  assert.equal(semaphoreBase('/locks', 'http://127.0.0.1:8081/other'), '/locks/' + MD5_HOST + '.lck');
});

const MD5_HOST = 'df2b80dc43705d28db9be6f29fe58da3';
