/**
 * Clients that close their sending side right after the request (`nc -N`, HTTP/1.0 tools, some
 * health checkers) get their answer, then the server closes the connection: in the fast lane
 * (answers given in the lane, after a stat or a pread, and requests forwarded to node:http) and
 * with node:http alone. MapProxy under gunicorn answers them. Real config, upstream, files, and
 * raw TCP clients on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerHalfClosed } from '../../src/app/listen.js';
import { Conn, get, type Answer } from '../helpers/raw-conn.js';
import { laneSuite } from '../helpers/lane-pair.js';
import { tcPath } from './pipeline-helpers.js';

const REVALIDATE_MS = 200;
const suite = laneSuite(`max_mb: 0, open_files: 16, revalidate_seconds: ${REVALIDATE_MS / 1000}`);

/** A tile of level `z`; tiles of different levels are never in one meta tile. */
const tile = (x: number, y: number, z = 3) => `/tms/1.0.0/l/EPSG3857/${z}/${x}/${y}.png`;

/** Send `bytes`, close our sending side at once, and collect `n` answers and the server's close. */
async function halfClosed(port: number, bytes: string, n: number): Promise<Answer[]> {
  const c = await Conn.open(port);
  c.send(bytes);
  c.socket.end();
  const answers = await c.until(n);
  await c.closedByServer();
  assert.equal(c.answers.length, n, 'nothing after the answers');
  return answers;
}

function assertPng(a: Answer, cache: 'HIT' | 'MISS'): void {
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('content-type'), 'image/png');
  assert.equal(a.headers.get('x-cache'), cache);
  assert.equal(a.body.length, Number(a.headers.get('content-length')));
  assert.equal(a.body.subarray(1, 4).toString(), 'PNG');
}

for (const which of ['lane', 'plain'] as const) {
  test(`${which}: a tile made for a half-closed request is answered, then the connection closed`, async () => {
    const port = suite.pair[which].port;
    const before = suite.up.count();
    const [a] = await halfClosed(port, get(tile(1, 1, which === 'lane' ? 4 : 5)), 1);
    assertPng(a, 'MISS');
    assert.equal(suite.up.count(), before + 1);
  });

  test(`${which}: a cached tile for a half-closed request is answered, with and without a stat due`, async () => {
    const url = tile(which === 'lane' ? 5 : 6, 6);
    await suite.pair.makeHot(url);
    const seen = suite.pair[which].seen.length;
    // The file was just checked: answered at once.
    const [now] = await halfClosed(suite.pair[which].port, get(url), 1);
    assertPng(now, 'HIT');
    // Past the revalidate bound: the lane stats the file first and answers after it.
    await new Promise((r) => setTimeout(r, REVALIDATE_MS + 50));
    const [later] = await halfClosed(suite.pair[which].port, get(url), 1);
    assertPng(later, 'HIT');
    assert.deepEqual(later.body, now.body);
    // The lane answered both itself; node:http alone parses every request.
    assert.deepEqual(suite.pair[which].seen.slice(seen), which === 'lane' ? [] : [url, url]);
  });

  test(`${which}: pipelined requests before the half-close are all answered, in order`, async () => {
    const hot = tile(which === 'lane' ? 7 : 0, 7);
    await suite.pair.makeHot(hot);
    const cold = tile(1, 1, which === 'lane' ? 6 : 7);
    const answers = await halfClosed(suite.pair[which].port, get(hot) + get(cold) + get(hot) + get('/tms/1.0.0/nope/'), 4);
    assertPng(answers[0], 'HIT');
    assertPng(answers[1], 'MISS');
    assertPng(answers[2], 'HIT');
    assert.equal(answers[3].status, 404);
  });

  test(`${which}: a request cut off by the half-close gets 400, an idle connection is closed`, async () => {
    const port = suite.pair[which].port;
    const [cut] = await halfClosed(port, 'GET /tms/1.0.0/ HTTP/1.1\r\nHost: 127.0.0.1\r\n', 1);
    assert.equal(cut.status, 400);
    const c = await Conn.open(port);
    c.send(get('/tms/1.0.0/'));
    assert.equal((await c.until(1))[0].status, 200);
    c.socket.end();
    await c.closedByServer();
    assert.equal(c.answers.length, 1);
  });
}

test('lane: a big answer after a stat, to a client that half-closed and reads late, is sent whole, then closed', async () => {
  // 4 MiB of random bytes (a hit sends the file as it is): more than the socket buffers and the
  // lane's 256 KiB high-water mark hold while the client does not read.
  const url = '/tms/1.0.0/l/EPSG3857/5/20/10.png';
  const file = join(suite.cfg.dir, 'cache', 'c_EPSG3857', tcPath(20, 63 - 10, 6));
  const bytes = randomBytes(4 * 1024 * 1024);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
  await suite.pair.makeHot(url);
  await new Promise((r) => setTimeout(r, REVALIDATE_MS + 50));
  const seen = suite.pair.lane.seen.length;
  const c = await Conn.open(suite.pair.lane.port);
  c.socket.pause();
  c.send(get(url));
  c.socket.end();
  await new Promise((r) => setTimeout(r, 300));
  c.socket.resume();
  const [a] = await c.until(1, 10_000);
  await c.closedByServer();
  assert.equal(a.status, 200);
  assert.ok(a.body.equals(bytes), 'the whole file');
  assert.equal(c.answers.length, 1);
  assert.deepEqual(suite.pair.lane.seen.slice(seen), [], 'answered in the lane');
});

test('answerHalfClosed: a plain node:http server answers after the client ended its side', async () => {
  for (const allow of [false, true]) {
    const server = createServer((_req, res) => {
      // The client's end arrives while the answer is being made.
      setTimeout(() => res.end('late answer'), 50);
    });
    if (allow) answerHalfClosed(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const c = await Conn.open((server.address() as AddressInfo).port);
    c.send(get('/'));
    c.socket.end();
    await c.closedByServer();
    // Without it, node:http drops the request (the reason for answerHalfClosed).
    assert.deepEqual(c.answers.map((a) => [a.status, a.body.toString()]), allow ? [[200, 'late answer']] : []);
    server.close();
  }
});
