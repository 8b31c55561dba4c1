// Error documents of the tile services: OWS ExceptionReport, TMS TileMapServerError, plain text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestError, SourceError, TileOutOfRangeError, LockTimeoutError } from '../../../src/errors.js';
import {
  invalidParameterError,
  missingParameterError,
  notFoundError,
  owsErrorResponse,
  owsExceptionReport,
  plainErrorResponse,
  tmsErrorResponse,
} from '../../../src/service/exceptions.js';
import { escapeXml, quotePath, withoutTrailingSlashes } from '../../../src/service/xml.js';
import { toServiceMetadata } from '../../../src/service/metadata.js';
import { text } from './helpers.js';

test('OWS reports: status and code from the error, message escaped like Python html.escape', () => {
  const res = owsErrorResponse(new RequestError(`bad <value> & 'quote' "dq"`, { ogcCode: 'InvalidParameterValue', locator: 'layer' }));
  assert.equal(res.status, 400);
  assert.equal(res.contentType, 'text/xml');
  assert.equal(res.cache, 'no-cache');
  assert.match(
    text(res.body),
    /<ows:Exception exceptionCode="InvalidParameterValue" locator="layer">\n {4}<ows:ExceptionText>bad &lt;value&gt; &amp; &#x27;quote&#x27; &quot;dq&quot;<\/ows:ExceptionText>/,
  );
  assert.equal(owsErrorResponse(new TileOutOfRangeError()).status, 400);
  const lock = owsErrorResponse(new LockTimeoutError('/tmp/x.lck', 60000));
  assert.equal(lock.status, 500);
  assert.match(text(lock.body), /exceptionCode="NoApplicableCode">\n {4}<ows:ExceptionText>timed out after 60 s waiting for a lock held by another process</);
  assert.equal(owsErrorResponse(new RequestError('x'), 'text/xml; charset=utf-8').contentType, 'text/xml; charset=utf-8');
});

test('a foreign error never shows its message or stack: 500 "internal error"', () => {
  const err = new Error('secret path /etc/passwd');
  for (const res of [owsErrorResponse(err), tmsErrorResponse(err), plainErrorResponse(err)]) {
    assert.equal(res.status, 500);
    assert.equal(res.cache, 'no-cache');
    assert.doesNotMatch(text(res.body), /secret|at /);
    assert.match(text(res.body), /internal error/);
  }
  assert.equal(text(plainErrorResponse(err).body), 'internal error');
  assert.match(text(owsErrorResponse(err).body), /exceptionCode="NoApplicableCode">\n {4}<ows:ExceptionText>internal error</);
});

test('TMS and plain errors: request errors are 404, internal ones 500', () => {
  const tms = tmsErrorResponse(new RequestError('unknown layer: a&b', { status: 400 }));
  assert.equal(tms.status, 404);
  assert.equal(tms.contentType, 'text/xml; charset=utf-8');
  assert.equal(text(tms.body), '<?xml version="1.0"?>\n<TileMapServerError>\n    <Message>unknown layer: a&amp;b</Message>\n</TileMapServerError>');
  const src = new SourceError('upstream down', { reason: 'http', upstreamStatus: 502 });
  assert.equal(tmsErrorResponse(src).status, 500);
  const plain = plainErrorResponse(new TileOutOfRangeError());
  assert.equal(plain.status, 404);
  assert.equal(plain.contentType, 'text/plain; charset=utf-8');
  assert.equal(text(plain.body), 'The requested tile is outside the bounding box of the tile map.');
  assert.equal(plainErrorResponse(src).status, 500);
});

test('error constructors carry stable codes, OGC codes and locators', () => {
  const missing = missingParameterError('missing parameters', 'layer');
  assert.deepEqual([missing.code, missing.status, missing.ogcCode, missing.locator], ['MPX_ERR_MISSING_PARAMETER', 400, 'MissingParameterValue', 'layer']);
  const invalid = invalidParameterError('bad', 'format');
  assert.deepEqual([invalid.code, invalid.status, invalid.ogcCode, invalid.locator], ['MPX_ERR_INVALID_PARAMETER', 400, 'InvalidParameterValue', 'format']);
  const nf = notFoundError('nope');
  assert.deepEqual([nf.code, nf.status, nf.ogcCode], ['MPX_ERR_NOT_FOUND', 404, 'NoApplicableCode']);
  assert.equal(owsExceptionReport('X', 'y').includes('locator'), false);
});

test('escapeXml, quotePath and withoutTrailingSlashes', () => {
  assert.equal(escapeXml('plain'), 'plain');
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;');
  // twice: the matcher must keep no state between calls
  assert.equal(escapeXml('a&b'), 'a&amp;b');
  assert.equal(escapeXml('a&b'), 'a&amp;b');
  // Characters XML cannot hold (a decoded %00 or %1b of a request path) become U+FFFD; tab, LF,
  // CR and astral characters stay.
  assert.equal(escapeXml('x\x00\x1b[31m\x08\ufffe<'), 'x\ufffd\ufffd[31m\ufffd\ufffd&lt;');
  assert.equal(escapeXml('a\tb\nc\rd \u{1F5FA}'), 'a\tb\nc\rd \u{1F5FA}');
  assert.equal(escapeXml('lone \ud800 and \udc00'), 'lone \ufffd and \ufffd');
  // Trailing slashes off, in linear time (a regex was quadratic on 16,000 slashes before a letter).
  assert.equal(withoutTrailingSlashes('/maps//'), '/maps');
  assert.equal(withoutTrailingSlashes('/maps'), '/maps');
  assert.equal(withoutTrailingSlashes('///'), '');
  assert.equal(withoutTrailingSlashes(`${'/'.repeat(200_000)}a`), `${'/'.repeat(200_000)}a`);
  // Python quote(): safe are letters, digits, _.-~ and /
  assert.equal(quotePath("/tms/1.0.0/a b/ü!'()*~_.-"), '/tms/1.0.0/a%20b/%C3%BC%21%27%28%29%2A~_.-');
});

test('toServiceMetadata merges md dicts key by key and types them', () => {
  const md = toServiceMetadata(
    { title: 'WMS', abstract: 'from wms', contact: { person: 'A', postcode: 12345 } },
    { title: 'TMS', online_resource: 'http://x/', access_constraints: 'none', keyword_list: [{ keywords: ['a', 1] }] },
  );
  assert.equal(md.title, 'TMS');
  assert.equal(md.abstract, 'from wms');
  assert.equal(md.onlineResource, 'http://x/');
  assert.equal(md.accessConstraints, 'none');
  assert.equal(md.contact?.person, 'A');
  assert.equal(md.contact?.postcode, '12345');
  assert.deepEqual(md.keywordList, [{ vocabulary: undefined, keywords: ['a', '1'] }]);
  assert.deepEqual(toServiceMetadata(null, undefined).title, undefined);
});
