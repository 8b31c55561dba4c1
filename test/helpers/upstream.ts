/**
 * A real test upstream for every test of the project: a WMS (GetMap 1.1.1 and 1.3.0) and an XYZ/TMS
 * tile server on 127.0.0.1:0. Its images are a deterministic function of the map coordinate, so a
 * test can check that a cut, stitched or reprojected image shows the right place; it records every
 * request and can be told to fail in the ways real servers fail.
 *
 * The colour function (`expectedColor`): the map is divided into square cells of `cellSize` map
 * units (1e6 for projected SRSs, 10 for geographic ones); a point in cell `(cx, cy)` with
 * `cx = floor(x / cell)`, `cy = floor(y / cell)` is
 * `r = (47·cx + 128) mod 256`, `g = (47·cy + 128) mod 256`, `b = (13·cx + 29·cy + 64) mod 256`.
 * A pixel takes the colour of its centre. Coordinates are x/y (east/north) in the request SRS.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { SourceError } from '../../src/errors.js';

/** `[minx, miny, maxx, maxy]` in x/y order. */
export type UpstreamBbox = readonly [number, number, number, number];

/** One request as the upstream saw it. */
export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  /** The raw query string (without `?`), exactly as sent. */
  readonly rawQuery: string;
  /** Query parameters (of a POSTed form too), keys lower-cased. */
  readonly query: ReadonlyMap<string, string>;
  readonly headers: http.IncomingHttpHeaders;
  /** The request body (POST), else empty. */
  readonly body: string;
}

/** How the next answers go wrong (see `Upstream.fail`). */
export type UpstreamFailure =
  | { readonly kind: 'status'; readonly status: number; readonly body?: string }
  /** Wait this long before answering normally (use a delay longer than the client timeout). */
  | { readonly kind: 'delay'; readonly ms: number }
  /** 200 with an HTML page. */
  | { readonly kind: 'html' }
  /** 200, `image/png`, but only the first half of a real PNG. */
  | { readonly kind: 'truncated' }
  /** The real image bytes with this content type (e.g. `text/plain`). */
  | { readonly kind: 'content-type'; readonly contentType: string }
  /** This status with a `Location` made from the request (none when it gives undefined), and a short body. */
  | { readonly kind: 'redirect'; readonly status: number; readonly location: (req: UpstreamRequest) => string | undefined };

/** Geographic SRS codes the upstream knows (for cell size and 1.3.0 axis order). */
const GEOGRAPHIC = new Set(['EPSG:4326', 'EPSG:4258', 'CRS:84', 'EPSG:4269', 'EPSG:4230']);
/** Of those, the ones whose WMS 1.3.0 BBOX is written lat/lon. */
const AXIS_NE = new Set(['EPSG:4326', 'EPSG:4258', 'EPSG:4269', 'EPSG:4230']);

/** Half the width of the web mercator world, metres. */
export const MERC_MAX = 20037508.342789244;

/** Cell size of the colour function in the units of `srs`. */
export function cellSizeFor(srs: string): number {
  return GEOGRAPHIC.has(srs.toUpperCase()) ? 10 : 1e6;
}

function mod256(n: number): number {
  return ((n % 256) + 256) % 256;
}

/** The colour `[r, g, b]` the upstream draws at map coordinate (x, y) of `srs` (default EPSG:3857). */
export function expectedColor(x: number, y: number, srs = 'EPSG:3857'): [number, number, number] {
  const cell = cellSizeFor(srs);
  const cx = Math.floor(x / cell);
  const cy = Math.floor(y / cell);
  return [mod256(47 * cx + 128), mod256(47 * cy + 128), mod256(13 * cx + 29 * cy + 64)];
}

/** The map coordinate of the centre of pixel (px, py) of an image of `size` showing `bbox`. */
export function pixelCenter(bbox: UpstreamBbox, size: readonly [number, number], px: number, py: number): [number, number] {
  const x = bbox[0] + ((px + 0.5) * (bbox[2] - bbox[0])) / size[0];
  const y = bbox[3] - ((py + 0.5) * (bbox[3] - bbox[1])) / size[1];
  return [x, y];
}

/** Raw RGB pixels of `bbox` (x/y order, `srs`) at `width`×`height` by the colour function. */
export function renderPixels(bbox: UpstreamBbox, width: number, height: number, srs: string): Buffer {
  const cell = cellSizeFor(srs);
  const cols = new Int32Array(width);
  for (let i = 0; i < width; i++) cols[i] = Math.floor(pixelCenter(bbox, [width, height], i, 0)[0] / cell);
  const out = Buffer.alloc(width * height * 3);
  for (let j = 0; j < height; j++) {
    const cy = Math.floor(pixelCenter(bbox, [width, height], 0, j)[1] / cell);
    const g = mod256(47 * cy + 128);
    let o = j * width * 3;
    for (let i = 0; i < width; i++, o += 3) {
      const cx = cols[i];
      out[o] = mod256(47 * cx + 128);
      out[o + 1] = g;
      out[o + 2] = mod256(13 * cx + 29 * cy + 64);
    }
  }
  return out;
}

const MIMES: Record<string, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  tiff: 'image/tiff',
  webp: 'image/webp',
};

/** Encode RGB pixels in `mime` (png, jpeg, gif, tiff, webp). */
export async function encodePixels(rgb: Buffer, width: number, height: number, mime: string): Promise<Buffer> {
  const img = sharp(rgb, { raw: { width, height, channels: 3 } });
  switch (mime.split(';')[0].trim().toLowerCase()) {
    case 'image/jpeg':
      return img.jpeg({ quality: 95 }).toBuffer();
    case 'image/gif':
      return img.gif().toBuffer();
    case 'image/tiff':
      return img.tiff().toBuffer();
    case 'image/webp':
      return img.webp({ lossless: true }).toBuffer();
    default:
      return img.png().toBuffer();
  }
}

/** The web mercator bbox of XYZ tile (z, x, y) with y counted from the north (`nw`) or south (`sw`). */
export function xyzTileBbox(z: number, x: number, y: number, origin: 'nw' | 'sw' = 'nw'): UpstreamBbox {
  const span = (2 * MERC_MAX) / 2 ** z;
  const minx = -MERC_MAX + x * span;
  const maxy = origin === 'nw' ? MERC_MAX - y * span : -MERC_MAX + (y + 1) * span;
  return [minx, maxy - span, minx + span, maxy];
}

interface Answer {
  status: number;
  type: string;
  body: Buffer;
}

function serviceException(msg: string): Answer {
  const body = `<?xml version="1.0"?>\n<ServiceExceptionReport version="1.1.1"><ServiceException>${msg}</ServiceException></ServiceExceptionReport>\n`;
  return { status: 200, type: 'application/vnd.ogc.se_xml', body: Buffer.from(body) };
}

async function answerGetMap(q: ReadonlyMap<string, string>): Promise<Answer> {
  const version = q.get('version') ?? '1.1.1';
  const srs = (version === '1.3.0' ? q.get('crs') : q.get('srs'))?.toUpperCase();
  const width = Number(q.get('width'));
  const height = Number(q.get('height'));
  const parts = (q.get('bbox') ?? '').split(',').map(Number);
  if (!srs) return serviceException(`missing ${version === '1.3.0' ? 'CRS' : 'SRS'}`);
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width * height <= 5000 * 5000)) {
    return serviceException('invalid WIDTH/HEIGHT');
  }
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) return serviceException('invalid BBOX');
  let bbox = parts as unknown as UpstreamBbox;
  if (version === '1.3.0' && AXIS_NE.has(srs)) bbox = [bbox[1], bbox[0], bbox[3], bbox[2]];
  if (!(bbox[0] < bbox[2] && bbox[1] < bbox[3])) return serviceException('invalid BBOX');
  const format = (q.get('format') ?? 'image/png').toLowerCase();
  const mime = Object.values(MIMES).includes(format.split(';')[0]) ? format.split(';')[0] : 'image/png';
  const body = await encodePixels(renderPixels(bbox, width, height, srs), width, height, mime);
  return { status: 200, type: mime, body };
}

const TILE_PATH = /^\/(tiles|tms)\/(\d+)\/(\d+)\/(\d+)\.(png|jpe?g)$/;

/** Options of `startUpstream`. */
export interface UpstreamOptions {
  /** Pixel size of XYZ tiles and of the fallback image (256). */
  readonly tileSize?: number;
}

/**
 * A running test upstream. Routes:
 * - any path with `REQUEST=GetMap` (any case): WMS GetMap 1.1.1 / 1.3.0;
 * - `/tiles/{z}/{x}/{y}.png|jpeg`: web mercator XYZ tiles (y from the north);
 * - `/tms/{z}/{x}/{y}.png|jpeg`: the same with y from the south;
 * - any other path ending in `.png`/`.jpeg`/`.jpg`: a 256² grey PNG (`FALLBACK_COLOR`);
 * - anything else: 404 `not found`.
 */
export class Upstream {
  readonly #server: http.Server;
  readonly #tileSize: number;
  readonly #requests: UpstreamRequest[] = [];
  #failure: UpstreamFailure | null = null;
  #failTimes = Infinity;
  #delayMs = 0;
  #headers: Record<string, string | string[]> = {};
  #inFlight = 0;
  #maxInFlight = 0;
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(server: http.Server, tileSize: number) {
    this.#server = server;
    this.#tileSize = tileSize;
  }

  /** Start listening on 127.0.0.1 with a free port. */
  static async start(opts: UpstreamOptions = {}): Promise<Upstream> {
    const server = http.createServer();
    const up = new Upstream(server, opts.tileSize ?? 256);
    server.on('request', (req, res) => void up.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return up;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>` (no trailing slash). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every request so far, oldest first. */
  get requests(): readonly UpstreamRequest[] {
    return this.#requests;
  }

  /** Number of requests so far, optionally only those whose path starts with `pathPrefix`. */
  count(pathPrefix?: string): number {
    return pathPrefix === undefined ? this.#requests.length : this.#requests.filter((r) => r.path.startsWith(pathPrefix)).length;
  }

  /** The most recent request (throws when there is none). */
  last(): UpstreamRequest {
    const r = this.#requests.at(-1);
    if (!r) throw new Error('upstream has seen no request');
    return r;
  }

  /** Highest number of requests that were being answered at the same time. */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /** Fail the next `times` requests (default: all until `fail(null)`). */
  fail(failure: UpstreamFailure | null, times = Infinity): void {
    this.#failure = failure;
    this.#failTimes = times;
  }

  /** Answer every request only after `ms` (0 = at once); counts towards `maxInFlight`. */
  setDelay(ms: number): void {
    this.#delayMs = ms;
  }

  /** Add these headers to every answer (e.g. `Set-Cookie`); `{}` to stop. */
  setHeaders(headers: Record<string, string | string[]>): void {
    this.#headers = { ...headers };
  }

  /** Forget recorded requests, failures, delay, extra headers and the in-flight maximum. */
  reset(): void {
    this.#headers = {};
    this.#requests.length = 0;
    this.#failure = null;
    this.#failTimes = Infinity;
    this.#delayMs = 0;
    this.#maxInFlight = this.#inFlight;
  }

  /** Stop listening and drop open connections and pending delays. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const qi = raw.indexOf('?');
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const rawQuery = qi < 0 ? '' : raw.slice(qi + 1);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const query = new Map<string, string>();
    const form = /x-www-form-urlencoded/.test(req.headers['content-type'] ?? '') ? body : '';
    for (const qs of [rawQuery, form]) {
      for (const [k, v] of new URLSearchParams(qs)) if (!query.has(k.toLowerCase())) query.set(k.toLowerCase(), v);
    }
    const seen: UpstreamRequest = { method: req.method ?? 'GET', path, rawQuery, query, headers: req.headers, body };
    this.#requests.push(seen);
    this.#inFlight++;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    try {
      const failure = this.#failTimes > 0 ? this.#failure : null;
      if (failure) {
        this.#failTimes--;
        if (this.#failTimes <= 0) this.#failure = null;
      }
      if (this.#delayMs > 0) await this.#sleep(this.#delayMs);
      if (failure?.kind === 'delay') await this.#sleep(failure.ms);
      if (failure?.kind === 'status') {
        return send(res, { status: failure.status, type: 'text/plain', body: Buffer.from(failure.body ?? `error ${failure.status}`) });
      }
      for (const [k, v] of Object.entries(this.#headers)) res.setHeader(k, v);
      if (failure?.kind === 'redirect') {
        const location = failure.location(seen);
        if (location !== undefined) res.setHeader('Location', location);
        return send(res, { status: failure.status, type: 'text/html', body: Buffer.from('<p>moved</p>') });
      }
      if (failure?.kind === 'html') {
        return send(res, { status: 200, type: 'text/html; charset=utf-8', body: Buffer.from('<html><body><h1>Maintenance</h1></body></html>') });
      }
      const answer = await this.#answer(path, query);
      if (failure?.kind === 'truncated' && answer.status === 200) {
        answer.body = answer.body.subarray(0, Math.floor(answer.body.length / 2));
        answer.type = 'image/png';
      }
      if (failure?.kind === 'content-type') answer.type = failure.contentType;
      send(res, answer);
    } catch (err) {
      send(res, { status: 500, type: 'text/plain', body: Buffer.from(String(err)) });
    } finally {
      this.#inFlight--;
    }
  }

  async #answer(path: string, query: ReadonlyMap<string, string>): Promise<Answer> {
    if (query.get('request')?.toLowerCase() === 'getmap') return answerGetMap(query);
    const m = TILE_PATH.exec(path);
    if (m) {
      const [z, x, y] = [Number(m[2]), Number(m[3]), Number(m[4])];
      if (x >= 2 ** z || y >= 2 ** z) return { status: 404, type: 'text/plain', body: Buffer.from('no such tile') };
      const bbox = xyzTileBbox(z, x, y, m[1] === 'tiles' ? 'nw' : 'sw');
      const mime = MIMES[m[5]];
      const n = this.#tileSize;
      return { status: 200, type: mime, body: await encodePixels(renderPixels(bbox, n, n, 'EPSG:3857'), n, n, mime) };
    }
    if (/\.(png|jpe?g)$/.test(path)) {
      const n = this.#tileSize;
      const rgb = Buffer.alloc(n * n * 3, FALLBACK_COLOR[0]);
      return { status: 200, type: 'image/png', body: await encodePixels(rgb, n, n, 'image/png') };
    }
    return { status: 404, type: 'text/plain', body: Buffer.from('not found') };
  }
}

/** Colour of the image served for image paths that are neither WMS nor XYZ/TMS tiles. */
export const FALLBACK_COLOR: readonly [number, number, number] = [128, 128, 128];

function send(res: http.ServerResponse, a: Answer): void {
  if (res.destroyed) return;
  res.writeHead(a.status, { 'Content-Type': a.type, 'Content-Length': a.body.length });
  res.end(a.body);
}

/** Start a test upstream (shorthand for `Upstream.start`). */
export function startUpstream(opts?: UpstreamOptions): Promise<Upstream> {
  return Upstream.start(opts);
}

/** The `SourceError` `p` rejects with (fails the test when it resolves or rejects otherwise). */
export async function sourceFailure(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}
