// The sources' HTTP client against a real upstream on 127.0.0.1: auth, headers, errors, logging.
import { test, after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { configureLogging } from '../../src/log/index.js';
import { SourceError } from '../../src/errors.js';
import { closeHttpAgents, httpGet, USER_AGENT } from '../../src/source/http-client.js';
import { UpstreamConnectionError, UpstreamHttpError, UpstreamTimeoutError } from '../../src/source/errors.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let up: Upstream;
let logLines: Array<Record<string, unknown>> = [];

before(async () => {
  up = await startUpstream();
});
after(async () => {
  await closeHttpAgents();
  await up.close();
  configureLogging();
});
beforeEach(() => {
  up.reset();
  logLines = [];
  configureLogging({ level: 'info', destination: { write: (s: string) => void logLines.push(JSON.parse(s)) } });
});

async function refusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function rejection(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SourceError, `expected a SourceError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

test('credentials in the URL become Basic auth and are stripped from the URL used and logged', async () => {
  const res = await httpGet(`http://user:s3cret@127.0.0.1:${up.port}/a.png?x=1`);
  assert.equal(res.status, 200);
  assert.equal(res.url, `http://127.0.0.1:${up.port}/a.png?x=1`);
  assert.equal(up.last().headers.authorization, 'Basic ' + Buffer.from('user:s3cret').toString('base64'));
  assert.equal(up.last().path, '/a.png');
  assert.equal(up.last().rawQuery, 'x=1');
  assert.equal(logLines.length, 1);
  assert.equal(logLines[0].url, res.url);
  assert.ok(!JSON.stringify(logLines).includes('s3cret'));
});

test('User-Agent and http.headers are sent; headers may override User-Agent', async () => {
  await httpGet(`${up.url}/a.png`, { headers: { 'X-Api-Key': 'k1', Accept: 'image/*' } });
  assert.equal(up.last().headers['user-agent'], USER_AGENT);
  assert.equal(up.last().headers['x-api-key'], 'k1');
  assert.equal(up.last().headers.accept, 'image/*');
  assert.equal(up.last().headers.authorization, undefined);
  await httpGet(`${up.url}/a.png`, { headers: { 'User-Agent': 'custom/1' } });
  assert.equal(up.last().headers['user-agent'], 'custom/1');
});

test('the answer carries status, lower-case headers and the whole body', async () => {
  const res = await httpGet(`${up.url}/tiles/0/0/0.png`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'image/png');
  assert.equal(Number(res.headers['content-length']), res.body.length);
  assert.deepEqual([...res.body.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
});

test('HTTP ≥ 400 is an UpstreamHttpError with the status (MapProxy wording)', async () => {
  up.fail({ kind: 'status', status: 500, body: 'kaputt' });
  const url = `${up.url}/x.png`;
  const err = await rejection(httpGet(url, { hideErrorDetails: false }));
  assert.ok(err instanceof UpstreamHttpError);
  assert.equal(err.message, `HTTP Error "${url}": 500`);
  assert.equal(err.code, 'MPX_ERR_SOURCE_HTTP');
  assert.equal(err.reason, 'http');
  assert.equal(err.upstreamStatus, 500);
  assert.equal(err.url, url);
  assert.equal(err.status, 500);
  // hide_error_details (the default): no URL, no reason in the message; the log has them.
  up.fail({ kind: 'status', status: 404 });
  const hidden = await rejection(httpGet(url));
  assert.equal(hidden.message, 'HTTP Error (see logs for URL and reason).');
  assert.equal(hidden.upstreamStatus, 404);
  assert.equal(hidden.url, url);
  assert.equal(logLines.at(-1)?.error, `HTTP Error "${url}": 404`);
  assert.equal(logLines.at(-1)?.status, 404);
});

test('no answer within client_timeout is an UpstreamTimeoutError', async () => {
  up.fail({ kind: 'delay', ms: 5000 });
  const url = `${up.url}/slow.png`;
  const err = await rejection(httpGet(url, { clientTimeout: 0.3, hideErrorDetails: false }));
  assert.ok(err instanceof UpstreamTimeoutError);
  assert.equal(err.message, `No response from URL "${url}": timed out`);
  assert.equal(err.code, 'MPX_ERR_SOURCE_TIMEOUT');
  assert.equal(err.reason, 'timeout');
  assert.equal(err.upstreamStatus, undefined);
  assert.equal(logLines.at(-1)?.status, null);
  assert.equal(logLines.at(-1)?.msg, `GET ${url} - - ${logLines.at(-1)?.durationMs}`);
});

test('a refused connection is an UpstreamConnectionError', async () => {
  const url = `http://127.0.0.1:${await refusedPort()}/wms?x=1`;
  const err = await rejection(httpGet(url, { hideErrorDetails: false }));
  assert.ok(err instanceof UpstreamConnectionError);
  // MapProxy 1.15 answers exactly this for a refused connection.
  assert.equal(err.message, `No response from URL "${url}": Connection refused`);
  assert.equal(err.code, 'MPX_ERR_SOURCE_CONNECTION');
  assert.equal(err.reason, 'connection');
  const hidden = await rejection(httpGet(url));
  assert.equal(hidden.message, 'No response from URL (see logs for URL and reason).');
});

test('every request is logged on mapproxy.source.request with url, status, size in kB and duration', async () => {
  const url = `${up.url}/tiles/1/0/0.png`;
  const res = await httpGet(url);
  assert.equal(logLines.length, 1);
  const line = logLines[0];
  assert.equal(line.name, 'mapproxy.source.request');
  assert.equal(line.level, 30);
  assert.equal(line.method, 'GET');
  assert.equal(line.url, url);
  assert.equal(line.status, 200);
  assert.equal(line.sizeKb, Math.round((res.body.length / 1024) * 10) / 10);
  assert.equal(typeof line.durationMs, 'number');
  // MapProxy's line: "<method> <url> <status> <size kB> <ms>".
  assert.equal(line.msg, `GET ${url} 200 ${(line.sizeKb as number).toFixed(1)} ${line.durationMs}`);
});

test('the request log is silent when its level is above info', async () => {
  configureLogging({ level: 'info', levels: { 'mapproxy.source.request': 'warn' }, destination: { write: (s: string) => void logLines.push(JSON.parse(s)) } });
  await httpGet(`${up.url}/a.png`);
  assert.deepEqual(logLines, []);
});

test('manage_cookies: Set-Cookie answers are sent back on the next requests', async () => {
  const cookies = new Map<string, string>();
  up.setHeaders({ 'Set-Cookie': ['sid=abc123; Path=/; HttpOnly', 'lang=de'] });
  await httpGet(`${up.url}/a.png`, { cookies });
  assert.equal(up.last().headers.cookie, undefined);
  assert.deepEqual([...cookies], [['sid', 'abc123'], ['lang', 'de']]);
  up.setHeaders({ 'Set-Cookie': 'lang=; Max-Age=0' });
  await httpGet(`${up.url}/a.png`, { cookies });
  assert.equal(up.last().headers.cookie, 'sid=abc123; lang=de');
  await httpGet(`${up.url}/a.png`, { cookies });
  assert.equal(up.last().headers.cookie, 'sid=abc123');
  // Without a jar nothing is kept.
  await httpGet(`${up.url}/a.png`);
  assert.equal(up.last().headers.cookie, undefined);
});
