/**
 * Interoperability with the real MapProxy 1.15 (issue acceptance 4): a file cache written by
 * MapProxy is served by mapproxy-ts unchanged, and the other way round, for the directory layouts
 * tc, mp, tms and arcgis on GLOBAL_WEBMERCATOR (origin ul) and GLOBAL_MERCATOR (origin ll) — the
 * stored y depends on the origin.
 *
 * One mapproxy.yaml per direction is read by both programs (relative paths, so both must resolve
 * them against the config's directory). MapProxy runs as the real `mapproxy-seed` and, to serve,
 * in process through `test/fixtures/interop/mapproxy_get.py` (a WSGI call, no port). Every tile is
 * fetched through TMS, WMTS REST and WMTS KVP on both programs with the same URLs, compared byte
 * for byte with the file on disk, while the test upstream counts requests. The two programs'
 * GetMap query strings for the same meta tiles, their file sets and (where the palette is exact)
 * their tiles' pixels are compared too. Skipped only when `/usr/bin/mapproxy-seed` is missing
 * (Debian/Ubuntu: `apt-get install python3-mapproxy`). `MPX_INTEROP_KEEP=1` keeps both caches.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startApp, get, type RunningApp } from '../helpers/server.js';
import { configureLogging } from '../../src/log/index.js';

const MAPPROXY_SEED = '/usr/bin/mapproxy-seed';
const PYTHON = '/usr/bin/python3';
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'interop');
const SKIP = existsSync(MAPPROXY_SEED)
  ? false
  : `MapProxy 1.15 is not installed (${MAPPROXY_SEED} missing; apt-get install python3-mapproxy)`;

type Layout = 'tc' | 'mp' | 'tms' | 'arcgis';
/** The grid's internal tile coordinate `[x, y, z]` (y counted from the grid origin). */
type Coord = readonly [number, number, number];

interface GridSpec {
  readonly name: string;
  readonly origin: 'ul' | 'll';
  /** The SRS part of the default cache directory and of the TMS layer key. */
  readonly srs: string;
}

interface CacheSpec {
  readonly layout: Layout;
  readonly grid: GridSpec;
  readonly layer: string;
  readonly cache: string;
  /** The cache directory under base_dir: `<cache>_<SRS without ':'>` (MapProxy's default). */
  readonly dir: string;
}

interface Tile {
  readonly rel: string;
  readonly coord: Coord;
}

const GRIDS: readonly GridSpec[] = [
  { name: 'GLOBAL_WEBMERCATOR', origin: 'ul', srs: 'EPSG3857' },
  { name: 'GLOBAL_MERCATOR', origin: 'll', srs: 'EPSG900913' },
];
const LAYOUTS: readonly Layout[] = ['tc', 'mp', 'tms', 'arcgis'];
const CACHES: readonly CacheSpec[] = LAYOUTS.flatMap((layout) =>
  GRIDS.map((grid) => {
    const layer = `${layout}_${grid.origin}`;
    return { layout, grid, layer, cache: `${layer}_cache`, dir: `${layer}_cache_${grid.srs}` };
  }),
);
/** What test/fixtures/interop/seed.yaml makes MapProxy do per cache (levels 0-5, 4x4 meta tiles). */
const META_TILES_PER_CACHE = 6;
const FILES_PER_CACHE = 69;

/** One config for both programs: a WMS source per cache (its `layers` names the cache). */
function configYaml(upstreamUrl: string): string {
  const lines = ['services:', '  tms:', '  wmts:', 'layers:'];
  for (const c of CACHES) lines.push(`  - name: ${c.layer}`, `    title: ${c.layer}`, `    sources: [${c.cache}]`);
  lines.push('caches:');
  for (const c of CACHES) {
    lines.push(`  ${c.cache}:`, `    grids: [${c.grid.name}]`, `    sources: [${c.layer}_wms]`, '    format: image/png',
      '    cache:', '      type: file', `      directory_layout: ${c.layout}`);
  }
  lines.push('sources:');
  for (const c of CACHES) {
    lines.push(`  ${c.layer}_wms:`, '    type: wms', '    req:', `      url: ${upstreamUrl}/wms?`, `      layers: ${c.layer}`);
  }
  lines.push('globals:', '  cache:', '    base_dir: ./cache_data', '    lock_dir: ./locks', '    tile_lock_dir: ./tile_locks');
  return lines.join('\n') + '\n';
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** MapProxy's file name of a tile in `layout` (REFERENCE.md §2.6), written here independently of src/. */
function layoutPath(layout: Layout, [x, y, z]: Coord): string {
  switch (layout) {
    case 'tc':
      return [pad(z, 2), pad(Math.floor(x / 1e6), 3), pad(Math.floor(x / 1e3) % 1000, 3), pad(x % 1000, 3),
        pad(Math.floor(y / 1e6), 3), pad(Math.floor(y / 1e3) % 1000, 3), pad(y % 1000, 3)].join('/') + '.png';
    case 'mp':
      return [pad(z, 2), pad(Math.floor(x / 1e4), 4), pad(x % 1e4, 4), pad(Math.floor(y / 1e4), 4), pad(y % 1e4, 4)].join('/') + '.png';
    case 'tms':
      return `${z}/${x}/${y}.png`;
    case 'arcgis':
      return `L${pad(z, 2)}/R${hex8(y)}/C${hex8(x)}.png`;
  }
}

const PATTERNS: Readonly<Record<Layout, RegExp>> = {
  tc: /^(\d{2})\/(\d{3})\/(\d{3})\/(\d{3})\/(\d{3})\/(\d{3})\/(\d{3})\.png$/,
  mp: /^(\d{2})\/(\d{4})\/(\d{4})\/(\d{4})\/(\d{4})\.png$/,
  tms: /^(\d+)\/(\d+)\/(\d+)\.png$/,
  arcgis: /^L(\d{2})\/R([0-9a-f]{8})\/C([0-9a-f]{8})\.png$/,
};

/** The coordinate of a tile file; fails on any file name the layout does not produce. */
function parsePath(layout: Layout, rel: string): Coord {
  const m = PATTERNS[layout].exec(rel);
  assert.ok(m, `${layout}: unexpected file ${rel}`);
  const n = m.slice(1).map(Number);
  let coord: Coord;
  switch (layout) {
    case 'tc':
      coord = [n[1] * 1e6 + n[2] * 1e3 + n[3], n[4] * 1e6 + n[5] * 1e3 + n[6], n[0]];
      break;
    case 'mp':
      coord = [n[1] * 1e4 + n[2], n[3] * 1e4 + n[4], n[0]];
      break;
    case 'tms':
      coord = [n[1], n[2], n[0]];
      break;
    case 'arcgis':
      coord = [parseInt(m[3], 16), parseInt(m[2], 16), n[0]];
      break;
  }
  assert.equal(layoutPath(layout, coord), rel, `${layout}: ${rel} is the canonical name of its tile`);
  return coord;
}

/**
 * The URLs of one tile: WMTS REST and KVP (rows from the north) and, except for level 0, TMS.
 * MapProxy: /tms/1.0.0 on a global profile hides internal level 0 (TMS z = internal z − 1) and
 * counts rows from the south, whatever the grid origin.
 */
function tileUrls(c: CacheSpec, [x, y, z]: Coord): string[] {
  const ySouth = c.grid.origin === 'll' ? y : 2 ** z - 1 - y;
  const yNorth = 2 ** z - 1 - ySouth;
  const urls = [
    `/wmts/${c.layer}/${c.grid.name}/${pad(z, 2)}/${x}/${yNorth}.png`,
    `/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${c.layer}&STYLE=default&FORMAT=image%2Fpng` +
      `&TILEMATRIXSET=${c.grid.name}&TILEMATRIX=${pad(z, 2)}&TILEROW=${yNorth}&TILECOL=${x}`,
  ];
  if (z >= 1) urls.push(`/tms/1.0.0/${c.layer}/${c.grid.srs}/${z - 1}/${x}/${ySouth}.png`);
  return urls;
}

/** Every file under `root`, as sorted `/`-separated relative paths. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const parent = e.parentPath ?? (e as unknown as { path: string }).path;
    out.push(relative(root, join(parent, e.name)).split(sep).join('/'));
  }
  return out.sort();
}

/** The tiles of one cache written in `baseDir`, parsed by its layout. */
async function cacheTiles(baseDir: string, c: CacheSpec): Promise<Tile[]> {
  return (await listFiles(join(baseDir, c.dir))).map((rel) => ({ rel, coord: parsePath(c.layout, rel) }));
}

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: Buffer;
}

/** GET `paths` from the real MapProxy serving `configFile`, in one Python process. */
async function mapproxyGet(configFile: string, paths: readonly string[]): Promise<Answer[]> {
  const child = spawn(PYTHON, [join(FIXTURES, 'mapproxy_get.py'), configFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  child.stdin.end(JSON.stringify(paths));
  const code = await exited;
  assert.equal(code, 0, `mapproxy_get.py failed:\n${err}`);
  const answers = JSON.parse(Buffer.concat(out).toString('utf8')) as Array<{ status: number; type: string; body: string }>;
  assert.equal(answers.length, paths.length);
  return answers.map((a) => ({ status: a.status, type: a.type, body: Buffer.from(a.body, 'base64') }));
}

/** GET every `(cache, tile, url)` from a running mapproxy-ts; caches in parallel, tiles in order. */
async function tsGetAll(app: RunningApp, jobs: ReadonlyMap<CacheSpec, ReadonlyArray<{ tile: Tile; url: string }>>): Promise<Map<string, Answer>> {
  const answers = new Map<string, Answer>();
  await Promise.all([...jobs.values()].map(async (list) => {
    for (const { url } of list) {
      const res = await get(app.url + url);
      answers.set(url, { status: res.status, type: res.headers.get('content-type') ?? '', body: res.body });
    }
  }));
  return answers;
}

/** The upstream's GetMap query strings per `layers` value (= per cache), sorted. */
function queriesByLayer(up: Upstream, from: number): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const r of up.requests.slice(from)) {
    const layer = r.query.get('layers') ?? '?';
    by.set(layer, [...(by.get(layer) ?? []), r.rawQuery]);
  }
  for (const list of by.values()) list.sort();
  return by;
}

function assertTile(answer: Answer | undefined, expected: Buffer, what: string): void {
  assert.ok(answer, `${what}: no answer`);
  assert.equal(answer.status, 200, `${what}: status (body: ${answer.body.subarray(0, 200).toString()})`);
  assert.equal(answer.type, 'image/png', `${what}: content type`);
  assert.ok(answer.body.equals(expected), `${what}: ${answer.body.length} bytes differ from the file's ${expected.length}`);
}

/** How a subtest names one cache. */
function label(c: CacheSpec): string {
  return `${c.layout} on ${c.grid.name} (origin ${c.grid.origin})`;
}

/** Decoded RGBA pixels of a PNG. */
function pixels(png: Buffer): Promise<Buffer> {
  return sharp(png).ensureAlpha().raw().toBuffer();
}

describe('interoperability with the real MapProxy 1.15', { skip: SKIP }, () => {
  let upstream: Upstream;
  let work: string;
  /** Direction 1: MapProxy seeds `a`. Direction 2: mapproxy-ts fills `b`. Same config text. */
  const dirA = (): string => join(work, 'a');
  const dirB = (): string => join(work, 'b');
  const seeded = new Map<CacheSpec, Tile[]>();
  const created = new Map<CacheSpec, Tile[]>();
  let seedQueries = new Map<string, string[]>();

  before(async () => {
    configureLogging({ level: 'warn' });
    upstream = await startUpstream();
    work = await mkdtemp(join(tmpdir(), 'mpx-'));
    for (const d of [dirA(), dirB(), join(work, 'cwd')]) await mkdir(d);
    await writeFile(join(dirA(), 'mapproxy.yaml'), configYaml(upstream.url));
    await writeFile(join(dirB(), 'mapproxy.yaml'), configYaml(upstream.url));
  });

  after(async () => {
    await upstream?.close();
    configureLogging();
    // MPX_INTEROP_KEEP=1 keeps both caches for inspection.
    if (work && process.env.MPX_INTEROP_KEEP) console.log(`interop caches kept in ${work}`);
    else if (work) await rm(work, { recursive: true, force: true });
  });

  test('mapproxy-seed writes every layout, the stored y counted from the grid origin', async (t) => {
    // Another working directory: both programs must resolve ./cache_data against the config's directory.
    const { stdout, stderr } = await promisify(execFile)(MAPPROXY_SEED, ['-f', join(dirA(), 'mapproxy.yaml'), '-s', join(FIXTURES, 'seed.yaml')],
      { cwd: join(work, 'cwd'), maxBuffer: 16 << 20 }).catch((e: { stdout?: string; stderr?: string }) => {
      assert.fail(`mapproxy-seed failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    });
    assert.deepEqual(await readdir(join(work, 'cwd')), [], `nothing written to the working directory\n${stdout}${stderr}`);
    seedQueries = queriesByLayer(upstream, 0);
    assert.deepEqual([...seedQueries.keys()].sort(), CACHES.map((c) => c.layer).sort());
    for (const c of CACHES) {
      await t.test(label(c), async () => {
        assert.equal(seedQueries.get(c.layer)?.length, META_TILES_PER_CACHE, 'one GetMap per meta tile');
        const tiles = await cacheTiles(join(dirA(), 'cache_data'), c);
        assert.equal(tiles.length, FILES_PER_CACHE, 'tile files');
        seeded.set(c, tiles);
      });
    }
    // MapProxy: the file holds the internal y, so the ll cache holds the ul cache's rows flipped.
    for (const layout of LAYOUTS) {
      const [ul, ll] = ['ul', 'll'].map((o) => seeded.get(CACHES.find((c) => c.layer === `${layout}_${o}`) as CacheSpec) ?? []);
      const flipped = ul.map(({ coord: [x, y, z] }) => layoutPath(layout, [x, 2 ** z - 1 - y, z])).sort();
      assert.deepEqual(flipped, ll.map((tile) => tile.rel), `${layout}: ll rows are the ul rows flipped`);
      assert.ok(ul.some((tile) => !ll.some((other) => other.rel === tile.rel)), `${layout}: ul and ll files differ`);
    }
  });

  test('MapProxy → mapproxy-ts: every seeded tile through TMS, WMTS REST and KVP is the file, no upstream request', async (t) => {
    const app = await startApp(join(dirA(), 'mapproxy.yaml'));
    const before = upstream.count();
    const jobs = new Map(CACHES.map((c) => [c, (seeded.get(c) ?? []).flatMap((tile) => tileUrls(c, tile.coord).map((url) => ({ tile, url })))]));
    let answers: Map<string, Answer>;
    try {
      answers = await tsGetAll(app, jobs);
    } finally {
      await app.close();
    }
    assert.equal(upstream.count() - before, 0, 'upstream requests while serving the seeded cache');
    for (const [c, list] of jobs) {
      await t.test(label(c), async () => {
        assert.equal(list.length, 3 * FILES_PER_CACHE - 1, 'URLs (no TMS URL for level 0)');
        for (const { tile, url } of list) {
          assertTile(answers.get(url), await readFile(join(dirA(), 'cache_data', c.dir, tile.rel)), `${tile.rel} via ${url}`);
        }
      });
    }
  });

  test('MapProxy serves its own cache from the same files for the same URLs', async (t) => {
    const before = upstream.count();
    const jobs = CACHES.flatMap((c) => (seeded.get(c) ?? []).flatMap((tile) => tileUrls(c, tile.coord).map((url) => ({ c, tile, url }))));
    const answers = await mapproxyGet(join(dirA(), 'mapproxy.yaml'), jobs.map((j) => j.url));
    assert.equal(upstream.count() - before, 0, 'upstream requests while MapProxy serves its seeded cache');
    for (const c of CACHES) {
      await t.test(label(c), async () => {
        for (const [i, job] of jobs.entries()) {
          if (job.c !== c) continue;
          assertTile(answers[i], await readFile(join(dirA(), 'cache_data', c.dir, job.tile.rel)), `MapProxy: ${job.tile.rel} via ${job.url}`);
        }
      });
    }
  });

  test('mapproxy-ts writes the files MapProxy writes, after the same upstream requests', async (t) => {
    const app = await startApp(join(dirB(), 'mapproxy.yaml'));
    const before = upstream.count();
    // The tiles MapProxy seeded, asked for in turn through WMTS REST, WMTS KVP and TMS.
    const jobs = new Map(CACHES.map((c) => [c, (seeded.get(c) ?? []).map((tile, i) => {
      const urls = tileUrls(c, tile.coord);
      return { tile, url: urls[i % urls.length] };
    })]));
    let answers: Map<string, Answer>;
    try {
      answers = await tsGetAll(app, jobs);
    } finally {
      await app.close();
    }
    const ours = queriesByLayer(upstream, before);
    for (const [c, list] of jobs) {
      await t.test(label(c), async () => {
        for (const { tile, url } of list) {
          // MapProxy's file name for the tile, computed here: the answer must be that file.
          assertTile(answers.get(url), await readFile(join(dirB(), 'cache_data', c.dir, layoutPath(c.layout, tile.coord))), `${tile.rel} via ${url}`);
        }
        const tiles = await cacheTiles(join(dirB(), 'cache_data'), c);
        assert.deepEqual(tiles.map((tile) => tile.rel), (seeded.get(c) ?? []).map((tile) => tile.rel), 'the same files as MapProxy');
        created.set(c, tiles);
        // MapProxy: one GetMap per 4x4 meta tile with an 80 px buffer; the same query string.
        assert.deepEqual(ours.get(c.layer), seedQueries.get(c.layer), 'GetMap query strings of mapproxy-ts = those of mapproxy-seed');
        // Levels >= 2 show at most 100 upstream colours, so both palettes are exact: the same pixels.
        // (Levels 0-1 show 400+ colours; PIL's and libimagequant's 256-colour palettes differ there.)
        for (const tile of tiles.filter((tile) => tile.coord[2] >= 2)) {
          const [theirs, mine] = await Promise.all([dirA(), dirB()].map(async (d) => pixels(await readFile(join(d, 'cache_data', c.dir, tile.rel)))));
          assert.ok(mine.equals(theirs), `${tile.rel}: the same pixels as MapProxy's tile`);
        }
      });
    }
    assert.deepEqual(await listFiles(join(dirB(), 'cache_data')), await listFiles(join(dirA(), 'cache_data')), 'no other file (no temp file left)');
  });

  test('mapproxy-ts → MapProxy: MapProxy serves every tile mapproxy-ts wrote, no upstream request', async (t) => {
    const before = upstream.count();
    const jobs = CACHES.flatMap((c) => (created.get(c) ?? []).flatMap((tile) => tileUrls(c, tile.coord).map((url) => ({ c, tile, url }))));
    const answers = await mapproxyGet(join(dirB(), 'mapproxy.yaml'), jobs.map((j) => j.url));
    assert.equal(upstream.count() - before, 0, 'upstream requests while MapProxy serves the cache of mapproxy-ts');
    for (const c of CACHES) {
      await t.test(label(c), async () => {
        const mine = jobs.filter((job) => job.c === c);
        assert.equal(mine.length, 3 * FILES_PER_CACHE - 1, 'URLs (no TMS URL for level 0)');
        for (const [i, job] of jobs.entries()) {
          if (job.c !== c) continue;
          assertTile(answers[i], await readFile(join(dirB(), 'cache_data', c.dir, job.tile.rel)), `MapProxy: ${job.tile.rel} via ${job.url}`);
        }
      });
    }
  });
});
