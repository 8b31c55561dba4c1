// HTTP dates (RFC 9110 §5.6.7) and the tile cache validators of respond.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { formatHttpDate, parseHttpDate } from '../../../src/app/http-date.js';
import { isNotModified, tileEtag } from '../../../src/app/respond.js';

const T = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;

test('the three date forms parse to the same second; anything else is null', () => {
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), T);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), T);
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), T);
  for (const bad of [undefined, '', 'yesterday', 'Sun, 06 Nov 1994 08:49:37 CET', 'Sun, 06 Foo 1994 08:49:37 GMT', '1994-11-06T08:49:37Z', 'Sun, 06 Nov 1994 25:49:37 GMT']) {
    assert.equal(parseHttpDate(bad), null, String(bad));
  }
  assert.equal(formatHttpDate(T * 1000 + 999), 'Sun, 06 Nov 1994 08:49:37 GMT');
});

test('tile ETag: quoted md5 of the timestamp as Python prints it plus the size', () => {
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  // MapProxy: md5(str(timestamp) + str(size)); str(1700000000.0) is "1700000000.0"
  assert.equal(tileEtag(1700000000000, 3), `"${md5('1700000000.03')}"`);
  assert.equal(tileEtag(1700000000250, 24581), `"${md5('1700000000.2524581')}"`);
  assert.notEqual(tileEtag(1700000000250, 24581), tileEtag(1700000001250, 24581));
});

test('If-None-Match decides when present (lists, *, weak); else If-Modified-Since in whole seconds', () => {
  const etag = tileEtag(T * 1000 + 400, 10);
  const mtime = T * 1000 + 400;
  assert.equal(isNotModified({ 'if-none-match': etag }, etag, mtime), true);
  assert.equal(isNotModified({ 'if-none-match': `W/${etag}` }, etag, mtime), true);
  assert.equal(isNotModified({ 'if-none-match': `"other", ${etag}` }, etag, mtime), true);
  assert.equal(isNotModified({ 'if-none-match': '*' }, etag, mtime), true);
  assert.equal(isNotModified({ 'if-none-match': '"other"' }, etag, mtime), false);
  // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present
  assert.equal(isNotModified({ 'if-none-match': '"other"', 'if-modified-since': 'Sun, 06 Nov 1994 09:00:00 GMT' }, etag, mtime), false);
  // equal to the Last-Modified we sent (MapProxy 1.15 answers 200 here: fractional mtime)
  assert.equal(isNotModified({ 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' }, etag, mtime), true);
  assert.equal(isNotModified({ 'if-modified-since': 'Sun, 06 Nov 1994 08:49:38 GMT' }, etag, mtime), true);
  assert.equal(isNotModified({ 'if-modified-since': 'Sun, 06 Nov 1994 08:49:36 GMT' }, etag, mtime), false);
  assert.equal(isNotModified({ 'if-modified-since': 'garbage' }, etag, mtime), false);
  assert.equal(isNotModified({}, etag, mtime), false);
});
