/**
 * Shared pieces of the end-to-end tile pipeline tests (`pipeline-*.test.ts`): the app started in
 * this process from a YAML written to a temp dir, in front of the real test upstream; MapProxy's
 * tile paths and tile bboxes computed independently of src/; reading what landed on disk; pixels
 * and PNG/JPEG headers; the exact error documents a user sees; and a second, tiny WMS whose images
 * have an alpha channel (the test upstream only draws opaque images).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { closeHttpAgents } from '../../src/source/http-client.js';
import { configureLogging } from '../../src/log/index.js';
import { startUpstream, pixelCenter, type Upstream, type UpstreamBbox } from '../helpers/upstream.js';
import { get, startApp, tempConfig, type RunningApp } from '../helpers/server.js';

export { MERC_MAX, expectedColor, pixelCenter } from '../helpers/upstream.js';

/** Half the width of the web mercator world, metres. */
const MERC = 20037508.342789244;

/** A running app in front of a real upstream, with its temp config dir. */
export interface Pipeline {
  readonly up: Upstream;
  readonly app: RunningApp;
  /** Directory of mapproxy.yaml (base_dir etc. are relative to it). */
  readonly dir: string;
  readonly url: string;
  /** GET a path of the app. */
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: Buffer }>;
  close(): Promise<void>;
}

/**
 * Start the test upstream, write the YAML `config(upstreamUrl)` into a temp dir and serve it from
 * this process on 127.0.0.1:0. Logging is silenced: the tests check answers, not log lines.
 */
export async function startPipeline(config: (upstreamUrl: string) => string, up?: Upstream): Promise<Pipeline> {
  configureLogging({ level: 'silent' });
  const upstream = up ?? (await startUpstream());
  const cfg = await tempConfig(config(upstream.url));
  let app: RunningApp;
  try {
    app = await startApp(cfg.file);
  } catch (err) {
    if (!up) await upstream.close();
    await cfg.cleanup();
    throw err;
  }
  return {
    up: upstream,
    app,
    dir: cfg.dir,
    url: app.url,
    get: (path, headers = {}) => get(app.url + path, headers),
    async close() {
      await app.close();
      if (!up) await upstream.close();
      await closeHttpAgents();
      await cfg.cleanup();
    },
  };
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** MapProxy's `tc` path of (x, y, z): `%02d/%03d/%03d/%03d/%03d/%03d/%03d.ext` (REFERENCE §2.6). */
export function tcPath(x: number, y: number, z: number, ext = 'png'): string {
  return [pad(z, 2), pad(Math.floor(x / 1e6), 3), pad(Math.floor(x / 1e3) % 1000, 3), pad(x % 1000, 3),
    pad(Math.floor(y / 1e6), 3), pad(Math.floor(y / 1e3) % 1000, 3), `${pad(y % 1000, 3)}.${ext}`].join('/');
}

/** The 16 (or fewer at low levels) tiles of the 4×4 meta tile holding (x, y, z), row by row. */
export function metaTiles(x: number, y: number, z: number, size = 4): Array<[number, number, number]> {
  const n = 2 ** z;
  const mx = Math.min(size, n);
  const x0 = Math.floor(x / mx) * mx;
  const y0 = Math.floor(y / mx) * mx;
  const out: Array<[number, number, number]> = [];
  for (let j = y0; j < y0 + mx; j++) for (let i = x0; i < x0 + mx; i++) out.push([i, j, z]);
  return out;
}

/** The web mercator bbox of tile (x, y, z) of GLOBAL_WEBMERCATOR (y counted from the north). */
export function tileBbox(x: number, y: number, z: number): UpstreamBbox {
  const span = (2 * MERC) / 2 ** z;
  return [-MERC + x * span, MERC - (y + 1) * span, -MERC + (x + 1) * span, MERC - y * span];
}

/** Every file and symlink under `dir`, as sorted paths relative to `dir` ([] when it is missing). */
export async function listTree(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    if (e.isFile() || e.isSymbolicLink()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** Every directory under `dir` (itself included), absolute. */
export async function listDirs(dir: string): Promise<string[]> {
  const out = [dir];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isDirectory()) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

/** True when `path` exists (a dangling symlink counts). */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Decoded RGBA pixels of an encoded image. */
export interface Pixels {
  readonly width: number;
  readonly height: number;
  at(x: number, y: number): [number, number, number, number];
}

/** Decode PNG/JPEG bytes into RGBA. */
export async function pixels(data: Buffer): Promise<Pixels> {
  const { data: raw, info } = await sharp(data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    at(x, y) {
      const o = (y * info.width + x) * 4;
      return [raw[o], raw[o + 1], raw[o + 2], raw[o + 3]];
    },
  };
}

/** The map coordinate of pixel (px, py) of GLOBAL_WEBMERCATOR tile (x, y, z). */
export function tilePixelCenter(x: number, y: number, z: number, px: number, py: number): [number, number] {
  return pixelCenter(tileBbox(x, y, z), [256, 256], px, py);
}

/** PNG IHDR colour type: 2 RGB, 3 palette, 6 RGBA (0, 4 grey). */
export function pngColorType(data: Buffer): number {
  assert.equal(data.subarray(12, 16).toString('latin1'), 'IHDR', 'a PNG starting with IHDR');
  return data[25];
}

/** True for a PNG that ends with its IEND chunk. */
export function isCompletePng(data: Buffer): boolean {
  return data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    && data.subarray(data.length - 12).equals(Buffer.from('0000000049454e44ae426082', 'hex'));
}

/** The first value (the DC coefficient) of the first quantisation table of a JPEG. */
export function jpegLumaDcQuant(data: Buffer): number {
  assert.equal(data.readUInt16BE(0), 0xffd8, 'a JPEG');
  let o = 2;
  while (o < data.length) {
    const marker = data.readUInt16BE(o);
    const len = data.readUInt16BE(o + 2);
    if (marker === 0xffdb) return data[o + 5];
    o += 2 + len;
  }
  throw new Error('no DQT segment');
}

/** What libjpeg writes as the DC quantiser of the luminance table for `quality` (base value 16). */
export function expectedLumaDcQuant(quality: number): number {
  const scale = quality < 50 ? Math.floor(5000 / quality) : 200 - 2 * quality;
  return Math.min(255, Math.max(1, Math.floor((16 * scale + 50) / 100)));
}

/** md5 hex of a string. */
export function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** The ETag MapProxy 1.15 sends for every freshly created tile: md5("NoneNone"). */
export const NONE_NONE_ETAG = 'c7485dcc8d256a6f197ed7802687f252';

/** The WMTS error document (OWS 1.1 ExceptionReport as MapProxy writes it). */
export function owsException(code: string, text: string): string {
  return '<?xml version="1.0"?>\n' +
    '<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1"\n' +
    '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n' +
    '  xsi:schemaLocation="http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd"\n' +
    '  version="1.0.0" xml:lang="en">\n' +
    `  <ows:Exception exceptionCode="${code}">\n` +
    `    <ows:ExceptionText>${xmlEscape(text)}</ows:ExceptionText>\n` +
    '  </ows:Exception>\n' +
    '</ows:ExceptionReport>\n';
}

/** The TMS error document as MapProxy writes it. */
export function tmsException(message: string): string {
  return `<?xml version="1.0"?>\n<TileMapServerError>\n    <Message>${xmlEscape(message)}</Message>\n</TileMapServerError>`;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Headers of an answer that must not be cached (REFERENCE §2.10). */
export function assertNoCache(headers: Headers, what: string): void {
  assert.equal(headers.get('cache-control'), 'no-cache, no-store', `${what}: Cache-Control`);
  assert.equal(headers.get('pragma'), 'no-cache', `${what}: Pragma`);
  assert.equal(headers.get('expires'), '-1', `${what}: Expires`);
  assert.equal(headers.get('etag'), null, `${what}: no ETag`);
  assert.equal(headers.get('last-modified'), null, `${what}: no Last-Modified`);
}

/** No stack trace, source path or internal error name reaches the client. */
export function assertNoInternals(body: string, what: string): void {
  assert.doesNotMatch(body, /\n\s+at |node:internal|\.ts:\d+|Error:|Traceback|undici|UND_ERR/, `${what}: leaks internals`);
}

/** The upstream's GetMap query (1.1.1, PNG unless given) as MapProxy 1.15 writes it. */
export function getMapQuery(bbox: string, width: number, height: number, opts: { layers?: string; format?: string; srs?: string; transparent?: boolean } = {}): string {
  const t = opts.transparent ? 'transparent=TRUE&' : '';
  return `layers=${opts.layers ?? 'base'}&${t}format=${encodeURIComponent(opts.format ?? 'image/png')}&bbox=${bbox}` +
    `&width=${width}&height=${height}&srs=${encodeURIComponent(opts.srs ?? 'EPSG:3857')}&request=GetMap&version=1.1.1&service=WMS&styles=`;
}

/** MapProxy's exact bbox of the level 9 meta tile of x 168–171, y 208–211 (rig sample "Tile miss"). */
export const META_9_170_211_BBOX = '-6912353.341885059,3419486.8973656455,-6550347.575926465,3781492.663324239';

/** A colour of the alpha WMS: `[r, g, b, a]`. */
export type Rgba = [number, number, number, number];

/**
 * The pattern of the alpha WMS at map x (any SRS): bands 200 km wide, cycling transparent,
 * opaque red, half-transparent blue (alpha 128).
 */
export function alphaColor(x: number): Rgba {
  const band = ((Math.floor(x / 2e5) % 3) + 3) % 3;
  if (band === 0) return [0, 0, 0, 0];
  if (band === 1) return [255, 0, 0, 255];
  return [0, 0, 255, 128];
}

/** A second WMS on 127.0.0.1 whose GetMap answers are RGBA PNGs (`alphaColor`), with a request log. */
export interface AlphaWms {
  readonly url: string;
  readonly queries: string[];
  close(): Promise<void>;
}

/** Start the alpha WMS. */
export async function startAlphaWms(): Promise<AlphaWms> {
  const queries: string[] = [];
  const server = http.createServer((req, res) => {
    const raw = req.url ?? '';
    const query = raw.includes('?') ? raw.slice(raw.indexOf('?') + 1) : '';
    queries.push(query);
    const q = new URLSearchParams(query);
    const width = Number(q.get('width'));
    const height = Number(q.get('height'));
    const bbox = (q.get('bbox') ?? '').split(',').map(Number) as unknown as UpstreamBbox;
    const data = Buffer.alloc(width * height * 4);
    for (let i = 0; i < width; i++) {
      const c = alphaColor(pixelCenter(bbox, [width, height], i, 0)[0]);
      for (let j = 0; j < height; j++) data.set(c, (j * width + i) * 4);
    }
    sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer().then((png) => {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length });
      res.end(png);
    }, (err: unknown) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
