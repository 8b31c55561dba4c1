/**
 * The worker's drainable HTTP server, on real sockets: what requests in flight, late requests on
 * kept-alive connections, new connections and idle connections see during a `reload` and a
 * `stop` drain, the graceful timeout, and the max-requests signal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { DrainingServer } from '../../../src/worker/server.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: net.Socket;
}

function request(port: number, path: string, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket }));
    });
    req.on('socket', (s: net.Socket) => { socket = s; });
    req.on('error', reject);
  });
}

/** A server whose `/slow` answers only when `release()` is called. */
async function start(opts: ConstructorParameters<typeof DrainingServer>[1] = {}) {
  const waiting: Array<() => void> = [];
  const server = new DrainingServer((req, res) => {
    const end = () => res.end(req.url === '/slow' ? 'slow' : 'ok');
    if (req.url === '/slow' || req.url === '/never') waiting.push(end);
    else end();
  }, opts);
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server,
    port,
    release: () => { for (const w of waiting.splice(0)) w(); },
    agent: () => new http.Agent({ keepAlive: true, maxSockets: 1 }),
  };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve('connected'); });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

test('reload drain: in-flight and late requests are served with Connection: close, new connections refused', async () => {
  const { server, port, release, agent } = await start({ keepAliveTimeoutMs: 60_000 });
  const kept = agent();
  const first = await request(port, '/a', kept);
  assert.equal(first.headers.connection, 'keep-alive');
  const slow = request(port, '/slow', agent());
  await until(() => server.inFlight === 1);

  const drained = server.drain('reload', 10_000);
  assert.equal(server.draining, 'reload');
  assert.equal(await connectError(port), 'ECONNREFUSED');
  const late = await request(port, '/b', kept);
  assert.deepEqual([late.status, late.body, late.headers.connection], [200, 'ok', 'close']);
  release();
  const done = await slow;
  assert.deepEqual([done.status, done.body, done.headers.connection], [200, 'slow', 'close']);
  assert.deepEqual(await drained, { forced: 0 });
  assert.equal(server.served, 3);
});

test('reload drain: an idle keep-alive connection is not cut, it ends by the keep-alive timeout', async () => {
  const { server, port } = await start({ keepAliveTimeoutMs: 1_500 });
  // A raw client that never closes: whatever ends the connection is the server.
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => { received += d; });
  let ended = false;
  socket.on('end', () => { ended = true; });
  await until(() => received.endsWith('ok'));
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: keep-alive\r\n/);
  const drained = server.drain('reload', 10_000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(ended, false, 'still open while a client may send on it');
  assert.deepEqual(await drained, { forced: 0 });
  assert.equal(ended, true, 'closed by the server when its keep-alive timeout ran out');
  socket.destroy();
});

test('stop drain: late requests get 503 with Connection: close, in-flight ones finish, idle connections close', async () => {
  const { server, port, release, agent } = await start({ keepAliveTimeoutMs: 60_000 });
  const kept = agent();
  await request(port, '/a', kept);
  const idle = agent();
  await request(port, '/a', idle);
  const slow = request(port, '/slow', agent());
  await until(() => server.inFlight === 1);

  const drained = server.drain('stop', 10_000);
  const late = await request(port, '/b', kept);
  assert.equal(late.status, 503);
  assert.equal(late.headers.connection, 'close');
  assert.equal(late.headers['retry-after'], '1');
  assert.equal(late.body, 'Service Unavailable: the server is shutting down\n');
  assert.equal(await connectError(port), 'ECONNREFUSED');
  release();
  const done = await slow;
  assert.deepEqual([done.status, done.body, done.headers.connection], [200, 'slow', 'close']);
  // With a 60 s keep-alive timeout, the idle connection closes only because the stop closes it.
  assert.deepEqual(await drained, { forced: 0 });
});

test('a reload drain becomes a stop drain when asked again', async () => {
  const { server, port, release, agent } = await start({ keepAliveTimeoutMs: 60_000 });
  const [k1, k2] = [agent(), agent()];
  await request(port, '/a', k1);
  await request(port, '/a', k2);
  const slow = request(port, '/slow', agent());
  await until(() => server.inFlight === 1);
  const drained = server.drain('reload', 10_000);
  assert.equal((await request(port, '/b', k1)).status, 200);
  const again = server.drain('stop', 10_000);
  assert.equal(server.draining, 'stop');
  assert.equal((await request(port, '/c', k2)).status, 503);
  release();
  assert.equal((await slow).status, 200);
  assert.deepEqual(await drained, { forced: 0 });
  assert.deepEqual(await again, { forced: 0 });
});

test('graceful timeout: connections still open are closed by force and counted', async () => {
  const { server, port, agent } = await start();
  const never = request(port, '/never', agent()).then(() => 'answered', (err: NodeJS.ErrnoException) => err.code);
  await until(() => server.inFlight === 1);
  assert.deepEqual(await server.drain('stop', 100), { forced: 1 });
  assert.equal(await never, 'ECONNRESET');
});

test('max requests: the callback runs once, when the count is reached', async () => {
  const calls: number[] = [];
  const { server, port, agent } = await start({ maxRequests: 3, onMaxRequests: (n) => calls.push(n) });
  const a = agent();
  for (let i = 0; i < 5; i++) assert.equal((await request(port, '/x', a)).status, 200);
  assert.deepEqual(calls, [3]);
  a.destroy();
  await server.drain('stop', 1_000);
});
