/**
 * Pipelined requests at the worker's server (src/worker/server.ts), on real sockets, with and
 * without the fast lane in front: the app works on PIPELINE_DEPTH requests of a connection at
 * once and answers leave in request order; a client that pipelines and reads nothing makes the
 * lane stop reading, for a while at a time (a split head behind a long queue is not timed out);
 * a client that goes away, or that the server closes, leaves nothing in flight and starts no
 * more work; one too far ahead is closed.
 *
 * With the lane, the connection starts with a POST, which the lane hands to node:http with the
 * rest of the connection: the GETs behind it are node:http's to parse, as for a head split across
 * reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { DrainingServer, PIPELINE_DEPTH, PIPELINE_MAX_WAITING, PIPELINE_PAUSE_AT } from '../../../src/worker/server.js';
import type { RequestHandler } from '../../../src/app/router.js';

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A server whose app holds every GET's answer until `release()` (unless `hold` is false), each
 * `<url>` and `pad` bytes more; POSTs are answered at once.
 */
async function start(lane: boolean, { hold = true, pad = 0, delayMs = 0, http = {} as import('node:http').ServerOptions } = {}) {
  const held: Array<() => void> = [];
  let calls = 0;
  let holding = hold;
  const padding = 'x'.repeat(pad);
  let onDeadConnection = 0;
  const app = (req: IncomingMessage, res: ServerResponse) => {
    calls++;
    if (req.socket.destroyed) onDeadConnection++;
    const end = () => res.end(`<${req.method === 'POST' ? 'POST' : req.url}>${padding}`);
    if (req.method === 'POST') end();
    else if (!holding) setTimeout(end, delayMs);
    else held.push(end);
  };
  // A lane that replays nothing: every GET goes to node:http.
  const handler: RequestHandler = lane ? Object.assign(app, { fastAnswer: () => undefined }) : app;
  const server = new DrainingServer(handler, { fastLane: lane, http });
  let parsed = 0;
  server.http.on('request', () => { parsed++; });
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server,
    port,
    calls: () => calls,
    /** Requests the app was asked to answer on a connection already gone. */
    onDeadConnection: () => onDeadConnection,
    parsed: () => parsed,
    held: () => held.length,
    /** Answer what is held and, with `all`, every request from now on. */
    release(all = false) {
      if (all) holding = false;
      for (const end of held.splice(0)) end();
    },
  };
}

/** `n` pipelined GETs in one write (after a POST with the lane), and what comes back. */
function pipeline(port: number, paths: string[], lane: boolean, read = true) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => { received += d; });
  socket.on('error', () => undefined);
  if (!read) socket.pause();
  let text = lane ? 'POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n' : '';
  for (const p of paths) text += `GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`;
  socket.write(text, 'latin1');
  return {
    socket,
    /** The bodies received so far, in order. */
    bodies: () => [...received.matchAll(/<([^>]*)>/g)].map((m) => m[1]),
  };
}

for (const lane of [false, true]) {
  const mode = lane ? 'behind the fast lane' : 'node:http alone';
  const first = lane ? 1 : 0; // the POST

  test(`${mode}: the app works on ${PIPELINE_DEPTH} pipelined requests of a connection at once; answers leave in order`, async () => {
    const s = await start(lane);
    try {
      const paths = Array.from({ length: 20 }, (_, i) => `/t/${i}`);
      const c = pipeline(s.port, paths, lane);
      await until(() => s.held() === PIPELINE_DEPTH, `${PIPELINE_DEPTH} requests at the app`);
      // node:http has parsed them all; the app was asked for no more than its share.
      await until(() => s.parsed() === paths.length + first, 'every request parsed');
      assert.equal(s.calls(), PIPELINE_DEPTH + first);
      s.release(true);
      await until(() => c.bodies().length === paths.length + first, 'every answer');
      assert.deepEqual(c.bodies(), [...(lane ? ['POST'] : []), ...paths]);
      assert.equal(s.calls(), paths.length + first);
      c.socket.destroy();
      await until(() => s.server.inFlight === 0, 'nothing in flight');
    } finally {
      s.release(true);
      await s.server.drain('stop', 1000);
    }
  });

  test(`${mode}: a long pipelined queue whose last head is split across reads is answered whole, not cut by headersTimeout`, async () => {
    // Each answer takes 40 ms: 300 take 3 s, three times headersTimeout; the connection is held
    // meanwhile, but only for half of that timeout at a time.
    const s = await start(lane, { hold: false, delayMs: 40, http: { headersTimeout: 1000, requestTimeout: 5000, connectionsCheckingInterval: 100 } });
    try {
      const paths = Array.from({ length: 300 }, (_, i) => `/t/${i}`);
      const c = pipeline(s.port, paths, lane);
      let closed = false;
      c.socket.on('close', () => { closed = true; });
      c.socket.write('GET /last HTTP/1.1\r\nHo');
      await new Promise((r) => setTimeout(r, 100));
      c.socket.write('st: t\r\n\r\n');
      await until(() => c.bodies().length === paths.length + 1 + first || closed, 'every answer or the end', 20_000);
      assert.equal(closed, false, `the connection was cut after ${c.bodies().length} answers`);
      assert.deepEqual(c.bodies(), [...(lane ? ['POST'] : []), ...paths, '/last']);
      c.socket.destroy();
    } finally {
      await s.server.drain('stop', 1000);
    }
  });

  test(`${mode}: a connection node:http rejects mid-queue starts none of its waiting requests`, async () => {
    const s = await start(lane);
    try {
      // Data after a request with Connection: close is a client error: node:http destroys the
      // connection while answers are pending.
      const paths = Array.from({ length: 100 }, (_, i) => `/t/${i}`);
      const socket = net.connect(s.port, '127.0.0.1');
      socket.on('error', () => undefined);
      let closed = false;
      socket.on('close', () => { closed = true; });
      socket.resume();
      let text = lane ? 'POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n' : '';
      paths.forEach((p, i) => { text += `GET ${p} HTTP/1.1\r\nHost: t\r\n${i === 10 ? 'Connection: close\r\n' : ''}\r\n`; });
      socket.write(text, 'latin1');
      await until(() => closed, 'the connection closed by the server');
      await until(() => s.server.inFlight === 0, 'nothing in flight');
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(s.calls() <= PIPELINE_DEPTH + first, `calls: ${s.calls()}`);
      assert.equal(s.onDeadConnection(), 0, 'the app worked for no one');
      socket.destroy();
    } finally {
      s.release(true);
      await s.server.drain('stop', 1000);
    }
  });

  test(`${mode}: a client that pipelines, reads nothing and goes away leaves nothing in flight; a drain ends at once`, async () => {
    // Answers of 20 kB made at once: the socket's buffers fill, node:http queues the rest.
    const s = await start(lane, { hold: false, pad: 20_000 });
    try {
      const c = pipeline(s.port, Array.from({ length: 3000 }, (_, i) => `/t/${i}`), lane, false);
      await until(() => s.calls() > 100, 'answers made');
      let before = -1;
      while (before !== s.calls()) {
        before = s.calls();
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(s.server.inFlight > PIPELINE_DEPTH, `in flight while the client reads nothing: ${s.server.inFlight}`);
      c.socket.destroy();
      // node:http emits no 'close' on the answers queued behind the head of the line when the
      // connection goes: without the server's own bookkeeping about 2800 stayed in flight for
      // good, with their bodies, and a drain waited for its timeout.
      await until(() => s.server.inFlight === 0, 'nothing in flight after the client left', 5000);
      const t0 = Date.now();
      assert.deepEqual(await s.server.drain('stop', 5000), { forced: 0 });
      assert.ok(Date.now() - t0 < 4000, 'the drain did not wait for its timeout');
    } finally {
      s.release(true);
    }
  });
}

test(`behind the fast lane: a client that pipelines without reading is not read on past ${PIPELINE_PAUSE_AT} waiting requests`, async () => {
  const s = await start(true);
  try {
    const paths = Array.from({ length: 3000 }, (_, i) => `/tile/${i}`);
    const c = pipeline(s.port, paths, true, false);
    await until(() => s.parsed() >= PIPELINE_PAUSE_AT, 'the first requests parsed');
    // What the lane had read before it held the connection is parsed all the same (one read,
    // 64 KiB at most: under 1000 of these heads); the rest stays unread.
    let before = -1;
    while (before !== s.parsed()) {
      before = s.parsed();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(s.parsed() < paths.length, `parsed ${s.parsed()} of ${paths.length + 1}`);
    assert.equal(s.calls(), PIPELINE_DEPTH + 1, 'the app made only its share of answers');
    // Released and read, everything is answered, in order.
    s.release(true);
    c.socket.resume();
    await until(() => c.bodies().length === paths.length + 1, 'every answer', 30_000);
    assert.deepEqual(c.bodies(), ['POST', ...paths]);
    c.socket.destroy();
  } finally {
    s.release(true);
    await s.server.drain('stop', 1000);
  }
});

test(`node:http alone: a client more than ${PIPELINE_MAX_WAITING} requests ahead of what it reads is closed, leaving nothing in flight`, async () => {
  // Without the lane node:http reads on after each answer, so it parses all a client sends.
  const s = await start(false);
  try {
    const c = pipeline(s.port, Array.from({ length: PIPELINE_MAX_WAITING + 200 }, (_, i) => `/t/${i}`), false);
    let closed = false;
    c.socket.on('close', () => { closed = true; });
    await until(() => closed, 'the connection closed by the server');
    await until(() => s.server.inFlight === 0, 'nothing in flight');
    assert.equal(s.calls(), PIPELINE_DEPTH);
  } finally {
    s.release(true);
    await s.server.drain('stop', 1000);
  }
});
