/**
 * Requests node:http cannot read get its status with a body that says why (node:http alone sends
 * a status line and nothing else): a head over the size limit (431), a malformed request line or
 * header (400), a head that does not arrive in time (408). The same through the fast lane (which
 * hands what it does not understand to node:http) and with node:http alone, as `serve-develop`
 * runs. An answer already started on the connection is never broken into. Real config, upstream,
 * sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, maxHeaderSize } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { answerClientErrors, clientErrorAnswer } from '../../src/app/listen.js';
import { Conn, get, type Answer } from '../helpers/raw-conn.js';
import { laneSuite, serveApp, type Served } from '../helpers/lane-pair.js';

const suite = laneSuite('max_mb: 0, open_files: 16');

const TOO_LARGE = `Request Header Fields Too Large: the request line and headers are longer than the server reads (${maxHeaderSize} bytes)\n`;
const BAD = 'Bad Request: the request is not valid HTTP/1.1\n';

/** Send `bytes` on a connection of its own; the answers until the server closes it. */
async function sendAlone(port: number, bytes: string): Promise<Answer[]> {
  const c = await Conn.open(port);
  c.send(bytes);
  await c.closedByServer();
  return c.answers;
}

const CASES: ReadonlyArray<readonly [string, string, number, string]> = [
  ['a request line longer than the limit', get(`/tms/1.0.0/?q=${'a'.repeat(maxHeaderSize)}`), 431, TOO_LARGE],
  ['headers longer than the limit', get('/tms/1.0.0/', `X-Big: ${'b'.repeat(maxHeaderSize)}\r\n`), 431, TOO_LARGE],
  ['a request line with a space in the target', 'GET /tms/1.0.0/ x HTTP/1.1\r\nHost: a\r\n\r\n', 400, BAD],
  ['a header line without a colon', get('/tms/1.0.0/', 'Broken header\r\n'), 400, BAD],
  ['a version that is not HTTP', 'GET /tms/1.0.0/ HTTX/1.1\r\nHost: a\r\n\r\n', 400, BAD],
];

for (const [what, bytes, status, body] of CASES) {
  test(`${what}: ${status} with a body saying why, through the lane and with node:http alone`, async () => {
    for (const served of [suite.pair.lane, suite.pair.plain]) {
      const answers = await sendAlone(served.port, bytes);
      assert.equal(answers.length, 1, `${served === suite.pair.lane ? 'lane' : 'plain'}: one answer`);
      const [a] = answers;
      assert.equal(a.status, status);
      assert.equal(a.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(a.headers.get('connection'), 'close');
      assert.equal(a.body.toString(), body);
    }
  });
}

test('a client still sending a huge head gets the 431 and no reset of its sending side, through the lane and with node:http alone', async () => {
  // 1 MiB in one write: the server rejects after 16 KiB while the rest is still arriving. Closing
  // with unread bytes would send a reset that discards the answer on the client's side.
  const huge = get(`/tms/1.0.0/?q=${'a'.repeat(4 * 1024 * 1024)}`);
  for (const served of [suite.pair.lane, suite.pair.plain]) {
    const c = await Conn.open(served.port);
    const errors: string[] = [];
    c.socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    c.send(huge);
    await c.closedByServer();
    const where = served === suite.pair.lane ? 'lane' : 'plain';
    assert.deepEqual(c.answers.map((a) => [a.status, a.body.toString()]), [[431, TOO_LARGE]], where);
    assert.deepEqual(errors, [], `${where}: the client's write was not cut by a reset`);
  }
});

test('the answer is the exact bytes of clientErrorAnswer, status line first', async () => {
  const c = await Conn.open(suite.pair.lane.port);
  const raw: Buffer[] = [];
  c.socket.on('data', (d: Buffer) => raw.push(d));
  c.send('BROKEN\r\n\r\n');
  await c.closedByServer();
  assert.equal(Buffer.concat(raw).toString('latin1'), clientErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_INVALID_METHOD' })));
});

test('a malformed request after a good one on a kept-alive connection: the good one answered whole, then 400', async () => {
  const c = await Conn.open(suite.pair.lane.port);
  c.send(get('/tms/1.0.0/'));
  const [first] = await c.until(1);
  assert.equal(first.status, 200);
  c.send(get('/tms/1.0.0/', 'Broken header\r\n'));
  await c.closedByServer();
  assert.deepEqual(
    c.answers.map((a) => [a.status, a.body.toString().slice(0, 12)]),
    [[200, first.body.toString().slice(0, 12)], [400, BAD.slice(0, 12)]],
  );
});

test('a head that does not arrive within headersTimeout: 408 with a body, through the lane and with node:http alone', async () => {
  for (const fastLane of [true, false]) {
    const slow: Served = await serveApp(suite.app, { fastLane, http: { headersTimeout: 300, requestTimeout: 300, connectionsCheckingInterval: 50 } });
    try {
      const c = await Conn.open(slow.port);
      c.send('GET /tms/1.0.0/ HTTP/1.1\r\nHost: a\r\n');
      await c.closedByServer();
      assert.equal(c.answers.length, 1, `fastLane ${fastLane}`);
      assert.equal(c.answers[0].status, 408);
      assert.equal(c.answers[0].body.toString(), 'Request Timeout: the request did not arrive in time\n');
    } finally {
      await slow.server.drain('stop', 1000);
    }
  }
});

test('an answer in progress, or still to come, is never broken into: the connection is closed without a 400', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/half') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '20' });
      res.write('0123456789');
      setTimeout(() => res.end('abcdefghij'), 300);
    } else {
      setTimeout(() => res.end('late'), 300);
    }
  });
  answerClientErrors(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const bad = get('/x', 'Broken header\r\n');

  // Half of a body sent when the malformed request comes.
  const half = await Conn.open(port);
  const raw: Buffer[] = [];
  half.socket.on('data', (d: Buffer) => raw.push(d));
  half.send(get('/half'));
  while (!Buffer.concat(raw).includes('0123456789')) await new Promise((r) => setTimeout(r, 10));
  half.send(bad);
  await half.closedByServer();
  assert.doesNotMatch(Buffer.concat(raw).toString('latin1'), /400|Bad Request/);

  // Pipelined behind a request not answered yet.
  const pending = await Conn.open(port);
  const raw2: Buffer[] = [];
  pending.socket.on('data', (d: Buffer) => raw2.push(d));
  pending.send(get('/wait') + bad);
  await pending.closedByServer();
  assert.doesNotMatch(Buffer.concat(raw2).toString('latin1'), /400|Bad Request/);
});

test('the lane: answers given before a malformed request still reach the client, then the 400', async () => {
  await suite.pair.makeHot('/tms/1.0.0/l/EPSG3857/2/1/1.png');
  const c = await Conn.open(suite.pair.lane.port);
  c.send(get('/tms/1.0.0/l/EPSG3857/2/1/1.png') + get('/tms/1.0.0/l/EPSG3857/2/1/1.png') + get('/x', 'Broken header\r\n'));
  await c.closedByServer();
  assert.deepEqual(c.answers.map((a) => a.status), [200, 200, 400]);
  assert.equal(c.answers[2].body.toString(), BAD);
});
