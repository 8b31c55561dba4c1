/**
 * Pipelined requests at the worker's server (src/worker/server.ts), on real sockets, with and
 * without the fast lane in front: the app works on PIPELINE_DEPTH requests of a connection at
 * once and answers leave in request order; a client that pipelines and reads nothing makes the
 * lane stop reading; a client that goes away leaves nothing in flight.
 *
 * With the lane, the connection starts with a POST, which the lane hands to node:http with the
 * rest of the connection: the GETs behind it are node:http's to parse, as for a head split across
 * reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { DrainingServer, PIPELINE_DEPTH, PIPELINE_PAUSE_AT } from '../../../src/worker/server.js';
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
async function start(lane: boolean, { hold = true, pad = 0 } = {}) {
  const held: Array<() => void> = [];
  let calls = 0;
  let holding = hold;
  const padding = 'x'.repeat(pad);
  const app = (req: IncomingMessage, res: ServerResponse) => {
    calls++;
    const end = () => res.end(`<${req.method === 'POST' ? 'POST' : req.url}>${padding}`);
    if (req.method === 'POST' || !holding) end();
    else held.push(end);
  };
  // A lane that replays nothing: every GET goes to node:http.
  const handler: RequestHandler = lane ? Object.assign(app, { fastAnswer: () => undefined }) : app;
  const server = new DrainingServer(handler, { fastLane: lane });
  let parsed = 0;
  server.http.on('request', () => { parsed++; });
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server,
    port,
    calls: () => calls,
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
