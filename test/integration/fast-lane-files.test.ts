/**
 * The fast lane with the open-file level and no memory tier (the default of
 * `globals.cache.memory_tier`): a cached tile's answer is given again in the lane with one pread of
 * the file kept open, never older than the revalidate bound. The same app behind node:http alone
 * (`fastLane: false`) is the reference for the exact bytes, Date aside. Real config, real upstream,
 * real files, raw TCP clients.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { createApp } from '../../src/app/create-app.js';
import type { App } from '../../src/app/build-app.js';
import { lentBuffers, type FastAnswer } from '../../src/app/hot-answers.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents } from '../../src/source/http-client.js';
import { DrainingServer } from '../../src/worker/server.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig } from '../helpers/server.js';
import { tcPath } from './pipeline-helpers.js';
import { Conn, get, rewriteAndCheck } from '../helpers/raw-conn.js';
import { assertLaneAnswersAgain, lanePair, type LanePair, type Served } from '../helpers/lane-pair.js';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { CHANNELS, type CacheEventMessage } from '../../src/metrics/channels.js';

const REVALIDATE_MS = 300;
const OPEN_FILES = 4;

// Both ways a hit reads its kept-open file into the worker's lent buffers: through the thread pool
// (the default) and on the event loop (`blocking_reads: true`).
for (const blocking of [true, false]) {
  describe(`blocking_reads: ${blocking}`, () => {
    let up: Upstream;
    let cfg: Awaited<ReturnType<typeof tempConfig>>;
    let app: App;
    let pair: LanePair;
    let plain: Served;
    let lane: Served;

    before(async () => {
      configureLogging({ level: 'silent' });
      up = await startUpstream();
      cfg = await tempConfig(`
    services:
      tms:
    layers:
      - {name: l, title: l, sources: [c]}
      - {name: r, title: r, sources: [refreshed]}
    caches:
      c: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}
      refreshed:
        grids: [GLOBAL_WEBMERCATOR]
        sources: [up]
        refresh_before: {hours: 1}
    sources:
      up:
        type: wms
        req: {url: '${up.url}/wms?', layers: base}
    globals:
      cache:
        base_dir: ./cache
        memory_tier: {max_mb: 0, open_files: ${OPEN_FILES}, revalidate_seconds: ${REVALIDATE_MS / 1000}, blocking_reads: ${blocking}}
    `);
      app = (await createApp(cfg.file)) as App;
      pair = await lanePair(app);
      ({ plain, lane } = pair);
    });

    after(async () => {
      await pair?.close();
      await app?.close();
      await up?.close();
      await closeHttpAgents();
      await cfg?.cleanup();
    });

    /** TMS level 5 tile x of layer `layer`: its URL and its tc file; x values far apart (one meta tile each). */
    function tile(x: number, layer = 'l'): { url: string; file: string } {
      const cache = layer === 'l' ? 'c' : 'refreshed';
      return { url: `/tms/1.0.0/${layer}/EPSG3857/5/${x}/10.png`, file: join(cfg.dir, 'cache', `${cache}_EPSG3857`, tcPath(x, 63 - 10, 6)) };
    }

    test('without a memory tier a cached tile is answered in the lane from its open file, with the bytes node:http writes', async () => {
      const { url } = tile(1);
      await pair.makeHot(url);
      // Past the bound too: the lane stats the path first, then reads the open file.
      await new Promise((r) => setTimeout(r, REVALIDATE_MS + 50));
      const { fast, ref, seen } = await pair.bothWays(get(url) + get(url) + get(url), 3);
      assert.deepEqual(seen, []);
      for (let i = 0; i < 3; i++) {
        assert.equal(fast[i].status, 200);
        assert.equal(fast[i].head, ref[i].head);
        assert.deepEqual(fast[i].body, ref[i].body);
      }
      assert.match(fast[0].head, /^ETag: "[0-9a-f]{32}"\r\n.*X-Cache: HIT\r\nContent-Type: image\/png\r\nContent-Length: \d+\r\n/s);
    });

    test('the lane reads a kept-open file into a lent buffer: at once with blocking_reads, else through the pool', async () => {
      const { url, file } = tile(5);
      await pair.makeHot(url);
      const bytes = await readFile(file);
      const lookup = app.fastAnswer;
      assert.ok(lookup);
      const answer = lookup(url, undefined);
      assert.ok(answer);
      let fresh;
      if (blocking) {
        assert.ok(!('settle' in answer), 'read at once, no wait for the pool');
        fresh = answer;
      } else {
        assert.ok('settle' in answer, 'a pread through the pool first');
        fresh = await new Promise<FastAnswer | undefined>((resolve) => answer.settle(resolve));
      }
      assert.ok(fresh);
      assert.equal(fresh.lent, lentBuffers);
      assert.ok(fresh.body.equals(bytes));
      fresh.lent.give(fresh.body, true);
      // Past the bound: with blocking reads the stat is done at once too, else through the pool.
      await new Promise((r) => setTimeout(r, REVALIDATE_MS + 50));
      const due = lookup(url, undefined);
      assert.ok(due);
      assert.equal('settle' in due, !blocking);
      const dueAnswer = 'settle' in due ? await new Promise<FastAnswer | undefined>((resolve) => due.settle(resolve)) : due;
      assert.ok(dueAnswer);
      assert.ok(dueAnswer.body.equals(bytes));
      dueAnswer.lent?.give(dueAnswer.body, true);
    });

    test('a tile rewritten on disk: the lane gives the old bytes at most for the revalidate bound, then the new ones', async () => {
      const { url, file } = tile(9);
      await pair.makeHot(url);
      const c = await Conn.open(lane.port);
      c.send(get(url));
      const [first] = await c.until(1);
      const changed = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
      const last = await rewriteAndCheck(c, url, file, first, changed, REVALIDATE_MS);
      assert.notEqual(last.headers.get('etag'), first.headers.get('etag'));
      // The new version's file is kept open and its answer remembered: the lane answers again.
      await assertLaneAnswersAgain(c, lane, url, changed);
      c.close();
    });

    test('a tile removed from disk is never given past the bound: the full path creates it again', async () => {
      const { url, file } = tile(17);
      await pair.makeHot(url);
      const fetched = up.count();
      await unlink(file);
      await new Promise((r) => setTimeout(r, REVALIDATE_MS + 50));
      const before = lane.seen.length;
      const c = await Conn.open(lane.port);
      c.send(get(url));
      const [a] = await c.until(1);
      c.close();
      assert.equal(a.status, 200);
      assert.equal(a.headers.get('x-cache'), 'MISS');
      assert.deepEqual(lane.seen.slice(before), [url]);
      assert.equal(up.count(), fetched + 1);
    });

    test('more tiles than open files: a tile whose file was closed goes to node:http, which keeps it open again', async () => {
      const first = tile(25).url;
      await pair.makeHot(first);
      // OPEN_FILES more tiles read after it: its file is the least recently used and closed.
      for (let i = 1; i <= OPEN_FILES; i++) await pair.makeHot(tile(25 + 8 * i).url);
      const again = await pair.bothWays(get(first), 1);
      assert.deepEqual(again.seen, [first]);
      assert.equal(again.fast[0].head, again.ref[0].head);
      assert.deepEqual(again.fast[0].body, again.ref[0].body);
      // node:http's answer read it through the full path, which kept the file open again.
      const third = await pair.bothWays(get(first), 1);
      assert.deepEqual(third.seen, []);
      assert.deepEqual(third.fast[0].body, again.fast[0].body);
    });

    test('a cache with refresh_before is never answered again without its manager: each hit takes the full path', async () => {
      const { url } = tile(3, 'r');
      await pair.makeHot(url);
      const { fast, seen } = await pair.bothWays(get(url) + get(url), 2);
      assert.deepEqual(seen, [url, url]);
      assert.deepEqual(fast.map((a) => a.headers.get('x-cache')), ['HIT', 'HIT']);
    });

    test('node:http alone (createApp, --no-fast-lane) answers from the open file too: a rewrite is seen within the bound', async () => {
      const { url, file } = tile(41);
      await pair.makeHot(url);
      // The cache hits of the next answer: a replay says so (the full path's hit does not).
      const hits: CacheEventMessage[] = [];
      const onHit = (m: unknown): void => void hits.push(m as CacheEventMessage);
      subscribe(CHANNELS.cacheHit, onHit);
      const c = await Conn.open(plain.port);
      c.send(get(url));
      const [first] = await c.until(1);
      unsubscribe(CHANNELS.cacheHit, onHit);
      assert.equal(first.headers.get('x-cache'), 'HIT');
      assert.deepEqual(hits, [{ cache: 'c', replay: true }]);
      const changed = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 7, g: 8, b: 9 } } }).png().toBuffer();
      await rewriteAndCheck(c, url, file, first, changed, REVALIDATE_MS);
      c.close();
      // The new version's answer, remembered by node:http, is the lane's too, byte for byte.
      const { fast, ref, seen } = await pair.bothWays(get(url), 1);
      assert.deepEqual(seen, []);
      assert.equal(fast[0].head, ref[0].head);
      assert.deepEqual(fast[0].body, changed);
      assert.deepEqual(ref[0].body, changed);
    });

    test('an answer read from its file while a drain begins is not counted: node:http answers 503 instead', async () => {
      const { url, file } = tile(49);
      // Past the bound, the lane waits for a stat and a pread through the pool. With blocking
      // reads it stats and reads at once, except a tile over 1 MiB, read into a buffer of its own
      // through the pool: the real lookup, with a drain started the moment the lane waits.
      if (blocking) {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, randomBytes(1536 * 1024));
      }
      await pair.makeHot(url);
      await new Promise((r) => setTimeout(r, REVALIDATE_MS + 50));
      const started: { server?: DrainingServer } = {};
      const lookup = app.fastAnswer;
      assert.ok(lookup);
      const draining = Object.assign((req: IncomingMessage, res: ServerResponse) => app(req, res), {
        fastAnswer: (u: string, scriptName: string | undefined) => {
          const answer = lookup(u, scriptName);
          if (answer === undefined || !('settle' in answer)) return answer;
          return {
            settle: (done: Parameters<typeof answer.settle>[0]) => {
              void started.server?.drain('stop', 2000);
              answer.settle(done);
            },
          };
        },
      });
      const server = new DrainingServer(draining);
      started.server = server;
      const { port } = await server.listen(0, '127.0.0.1');
      const hits: CacheEventMessage[] = [];
      const onHit = (m: unknown): void => void hits.push(m as CacheEventMessage);
      subscribe(CHANNELS.cacheHit, onHit);
      try {
        const c = await Conn.open(port);
        c.send(get(url));
        const [answer] = await c.until(1);
        c.close();
        assert.equal(answer.status, 503);
        assert.deepEqual(hits, []);
      } finally {
        unsubscribe(CHANNELS.cacheHit, onHit);
        await server.drain('stop', 1000);
      }
    });

    test('tiles past the smallest lent buffer and past 1 MiB: each answer is its whole tile', async () => {
      // 8 KiB, 200 KiB (the lent buffer grows) and 1.5 MiB (read into a buffer of its own).
      const tiles = [56, 57, 58].map((x) => tile(x));
      const files = [8 * 1024, 200 * 1024, 1536 * 1024].map((n) => randomBytes(n));
      for (const [i, t] of tiles.entries()) {
        await mkdir(dirname(t.file), { recursive: true });
        await writeFile(t.file, files[i]);
        await pair.makeHot(t.url);
      }
      const c = await Conn.open(lane.port);
      const order = [0, 1, 2, 1, 0, 2, 2, 0, 1];
      const before = lane.seen.length;
      c.send(order.map((i) => get(tiles[i].url)).join(''));
      const answers = await c.until(order.length, 20_000);
      c.close();
      assert.deepEqual(lane.seen.slice(before), []);
      for (const [k, i] of order.entries()) {
        assert.equal(answers[k].status, 200);
        assert.equal(answers[k].headers.get('content-length'), String(files[i].length));
        assert.ok(answers[k].body.equals(files[i]), `answer ${k} is tile ${i}`);
      }
    });

    test('clients that do not read pin one lent buffer per connection at most: queued answers are copies', async () => {
      const t = tile(60);
      await mkdir(dirname(t.file), { recursive: true });
      const small = randomBytes(2000);
      await writeFile(t.file, small);
      await pair.makeHot(t.url);
      const kept = lentBuffers.kept;
      // Enough answers per connection (4 MB) to fill the kernel's socket buffers and queue in Node.
      const conns = await Promise.all(Array.from({ length: 4 }, () => Conn.open(lane.port)));
      const n = 2000;
      for (const c of conns) {
        c.socket.pause();
        c.send(get(t.url).repeat(n));
      }
      await new Promise((r) => setTimeout(r, 300));
      // Each connection keeps at most its first queued answer's buffer; the rest are copies.
      assert.ok(lentBuffers.kept - kept <= conns.length, `${lentBuffers.kept - kept} lent buffers kept by ${conns.length} connections`);
      for (const c of conns) c.socket.resume();
      for (const c of conns) {
        const answers = await c.until(n, 20_000);
        c.close();
        assert.ok(answers.every((a) => a.status === 200 && a.body.equals(small)));
      }
    });

    test('answers read from open files while the socket is backed up: each answer is its tile, in order', async () => {
      // Four tiles of 8 KiB random bytes (a hit sends the file as it is, whatever it holds), so
      // answers fill the socket's buffers and wait in node's write queue while later ones are read.
      const tiles = [40, 41, 42, 43].map((x) => tile(x));
      const files = tiles.map(() => randomBytes(8 * 1024));
      for (const [i, t] of tiles.entries()) {
        await mkdir(dirname(t.file), { recursive: true });
        await writeFile(t.file, files[i]);
        await pair.makeHot(t.url);
      }
      // Read by the lane; then by node:http behind it (a request with a body hands it the connection).
      for (const handOver of [false, true]) {
        const c = await Conn.open(lane.port);
        // The client reads nothing for a while: the lane stops reading at 256 KiB queued.
        c.socket.pause();
        const n = 2000;
        let requests = handOver ? `GET ${tiles[0].url} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n` : '';
        for (let i = handOver ? 1 : 0; i < n; i++) requests += get(tiles[i % 4].url);
        c.send(requests);
        await new Promise((r) => setTimeout(r, 300));
        c.socket.resume();
        const answers = await c.until(n, 20_000);
        c.close();
        for (let i = 0; i < n; i++) {
          assert.equal(answers[i].status, 200, `answer ${i}`);
          assert.ok(answers[i].body.equals(files[i % 4]), `${handOver ? 'node:http' : 'lane'}: answer ${i} is tile ${i % 4}`);
        }
      }
    });
  });
}
