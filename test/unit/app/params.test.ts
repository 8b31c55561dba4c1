// Query parameters as MapProxy reads them (Python parse_qsl + NoCaseMultiDict).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeQueryComponent, parseQuery } from '../../../src/app/params.js';

test('names are case-insensitive, values keep their case, the first of a repeated name wins', () => {
  const q = parseQuery('SERVICE=WMTS&Layer=World&layer=other&FORMAT=image%2Fpng');
  assert.equal(q.get('service'), 'WMTS');
  assert.equal(q.get('LAYER'), 'World');
  assert.equal(q.get('format'), 'image/png');
  assert.equal(q.has('Service'), true);
  assert.equal(q.has('style'), false);
  assert.equal(q.get('style'), undefined);
  assert.deepEqual(q.keys(), ['SERVICE', 'Layer', 'FORMAT']);
});

test('joined gives every value of a repeated name, in order, with commas (MapProxy RequestParams)', () => {
  const q = parseQuery('LAYER=a&x=1&layer=b&Layer=&LAYER=c%2Cd');
  assert.equal(q.joined('layer'), 'a,b,,c,d');
  assert.equal(q.get('layer'), 'a');
  assert.equal(q.joined('X'), '1');
  assert.equal(q.joined('nope'), undefined);
  assert.equal(parseQuery('').joined('layer'), undefined);
});

test('blank values are kept, empty pairs skipped, + is a space', () => {
  const q = parseQuery('a=&b&&c=x+y%20z&=v');
  assert.equal(q.get('a'), '');
  assert.equal(q.get('b'), '');
  assert.equal(q.get('c'), 'x y z');
  assert.equal(q.get(''), 'v');
  assert.deepEqual(parseQuery('').keys(), []);
});

test('bad escapes stay as written, invalid UTF-8 becomes U+FFFD (Python errors="replace")', () => {
  assert.equal(decodeQueryComponent('100%'), '100%');
  assert.equal(decodeQueryComponent('%zz%41'), '%zzA');
  assert.equal(decodeQueryComponent('%C3%BC'), 'ü');
  assert.equal(decodeQueryComponent('%FF'), '\uFFFD');
  assert.equal(parseQuery('x=%E2%82').get('x'), '\uFFFD');
});
