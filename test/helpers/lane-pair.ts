/**
 * One app behind two servers, for the fast-lane suites: a `DrainingServer` with the fast lane and
 * one with node:http alone (the reference for the exact bytes), both on 127.0.0.1, each recording
 * the requests node:http itself parsed.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { App } from '../../src/app/build-app.js';
import { createApp } from '../../src/app/create-app.js';
import { configureLogging } from '../../src/log/index.js';
import { closeHttpAgents } from '../../src/source/http-client.js';
import { startUpstream, type Upstream } from './upstream.js';
import { tempConfig } from './server.js';
import { DrainingServer, type DrainingServerOptions } from '../../src/worker/server.js';
import { type Answer, Conn, get } from './raw-conn.js';

/** A DrainingServer on 127.0.0.1 and the requests node:http itself saw. */
export interface Served {
  readonly server: DrainingServer;
  readonly port: number;
  /** Request targets node:http parsed, in order. */
  readonly seen: string[];
}

/** Serve `app` on 127.0.0.1 (a free port) with `opts`. */
export async function serveApp(app: App, opts: DrainingServerOptions = {}): Promise<Served> {
  const server = new DrainingServer(app, opts);
  const seen: string[] = [];
  server.http.on('request', (req: { url?: string }) => seen.push(req.url ?? ''));
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port, seen };
}

/** The lane and the reference server of one app. */
export interface LanePair {
  readonly lane: Served;
  readonly plain: Served;
  /**
   * Create `url` in the cache and read it through the full path once more (a hit), one request
   * after the other: it is remembered, and held or kept open as the configuration says.
   */
  makeHot(url: string): Promise<void>;
  /** The same raw requests through the lane and through node:http alone, and what node:http saw of the lane's. */
  bothWays(bytes: string, count: number, heads?: boolean[]): Promise<{ fast: Answer[]; ref: Answer[]; seen: string[] }>;
  /** Stop both servers. */
  close(): Promise<void>;
}

export async function lanePair(app: App): Promise<LanePair> {
  const plain = await serveApp(app, { fastLane: false });
  const lane = await serveApp(app);
  return {
    lane,
    plain,
    async makeHot(url) {
      const c = await Conn.open(plain.port);
      // One after the other: node:http hands pipelined requests to the app at once.
      c.send(get(url));
      await c.until(1);
      c.send(get(url));
      const [created, hit] = await c.until(2);
      c.close();
      assert.equal(created.status, 200);
      assert.equal(hit.headers.get('x-cache'), 'HIT');
    },
    async bothWays(bytes, count, heads = []) {
      const before = lane.seen.length;
      const a = await Conn.open(lane.port);
      a.send(bytes, heads);
      const fast = await a.until(count);
      a.close();
      const b = await Conn.open(plain.port);
      b.send(bytes, heads);
      const ref = await b.until(count);
      b.close();
      return { fast, ref, seen: lane.seen.slice(before) };
    },
    async close() {
      for (const s of [plain, lane]) await s.server.drain('stop', 1000);
    },
  };
}

/**
 * The configuration of the lane suites: layer `l` over cache `c` of the upstream's `base` layer,
 * in the services given (`tms`, or `tms` and `wmts`), with `memory_tier` as given (the flow
 * mapping's inside: `max_mb: 0, open_files: 16, revalidate_seconds: 0.2`).
 */
export function laneYaml(upstreamUrl: string, memoryTier: string, services: readonly string[] = ['tms']): string {
  return `
services:
${services.map((s) => `  ${s}:`).join('\n')}
layers:
  - {name: l, title: l, sources: [c]}
caches:
  c: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}
sources:
  up:
    type: wms
    req: {url: '${upstreamUrl}/wms?', layers: base}
globals:
  cache:
    base_dir: ./cache
    memory_tier: {${memoryTier}}
`;
}

/** What `laneSuite` sets up: the upstream, the configuration, the app and its two servers. */
export interface LaneSuite {
  up: Upstream;
  cfg: Awaited<ReturnType<typeof tempConfig>>;
  app: App;
  pair: LanePair;
}

/**
 * Register `before`/`after` hooks of a test file that runs one app behind a lane pair: logging
 * silenced, an upstream, `laneYaml(memoryTier)`, the app; all closed after the file's tests. The
 * fields are there once the tests run.
 */
export function laneSuite(memoryTier: string): LaneSuite {
  const suite = {} as LaneSuite;
  before(async () => {
    configureLogging({ level: 'silent' });
    suite.up = await startUpstream();
    suite.cfg = await tempConfig(laneYaml(suite.up.url, memoryTier));
    suite.app = await createApp(suite.cfg.file);
    suite.pair = await lanePair(suite.app);
  });
  after(async () => {
    await suite.pair?.close();
    await suite.app?.close();
    await closeHttpAgents();
    await suite.up?.close();
    await suite.cfg?.cleanup();
    configureLogging();
  });
  return suite;
}

/**
 * After a rewrite of `url`'s tile to `changed`: two more requests on `conn` get the new bytes, and
 * node:http (`lane.seen`) sees at most one of them: the new version is remembered and the lane
 * answers it again.
 */
export async function assertLaneAnswersAgain(conn: Conn, lane: Pick<Served, 'seen'>, url: string, changed: Buffer): Promise<void> {
  const n = conn.answers.length;
  const before = lane.seen.length;
  conn.send(get(url) + get(url));
  const more = await conn.until(n + 2);
  assert.ok(more.slice(n).every((a) => a.body.equals(changed)));
  assert.ok(lane.seen.length - before <= 1);
}
