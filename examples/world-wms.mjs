#!/usr/bin/env node
/**
 * A tiny offline WMS for the bundled example: GetMap in EPSG:4326 / CRS:84 / EPSG:3857 (and its
 * aliases) from one equirectangular world raster (examples/data/world-4326.jpg, rendered by
 * MapServer from the reference rig's synthetic data). It stands in for the slow WMS a real
 * deployment puts behind mapproxy-ts, so the example runs the whole pipeline with no network.
 *
 *   node examples/world-wms.mjs [port]        (default 8091, listens on 127.0.0.1 only)
 */
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

const HERE = dirname(fileURLToPath(import.meta.url));
const R = 6378137;
const MERC_SRS = new Set(['EPSG:3857', 'EPSG:900913', 'EPSG:102100', 'EPSG:102113']);

/** Load the world raster once: RGB pixels, 360°×180° equirectangular. */
async function loadWorld(file) {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function exception(res, status, msg) {
  const body = `<?xml version="1.0"?>\n<ServiceExceptionReport version="1.1.1"><ServiceException>${msg
    .replace(/&/g, '&amp;').replace(/</g, '&lt;')}</ServiceException></ServiceExceptionReport>\n`;
  res.writeHead(status, { 'Content-Type': 'application/vnd.ogc.se_xml' });
  res.end(body);
}

/** Render bbox (in srs, x/y order) to width×height RGBA by sampling the world raster bilinearly. */
function render(world, srs, bbox, width, height, transparent) {
  const out = Buffer.alloc(width * height * 4);
  const [minx, miny, maxx, maxy] = bbox;
  const merc = MERC_SRS.has(srs);
  const lons = new Float64Array(width);
  for (let i = 0; i < width; i++) {
    const x = minx + ((i + 0.5) * (maxx - minx)) / width;
    lons[i] = merc ? (x / R) * (180 / Math.PI) : x;
  }
  const { data, width: W, height: H } = world;
  for (let j = 0; j < height; j++) {
    const y = maxy - ((j + 0.5) * (maxy - miny)) / height;
    const lat = merc ? (Math.atan(Math.sinh(y / R)) * 180) / Math.PI : y;
    const sy = ((90 - lat) / 180) * H - 0.5;
    for (let i = 0; i < width; i++) {
      const o = (j * width + i) * 4;
      const lon = lons[i];
      if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
        out[o] = out[o + 1] = out[o + 2] = 255;
        out[o + 3] = transparent ? 0 : 255;
        continue;
      }
      const sx = ((lon + 180) / 360) * W - 0.5;
      const x0 = Math.max(0, Math.min(W - 1, Math.floor(sx)));
      const y0 = Math.max(0, Math.min(H - 1, Math.floor(sy)));
      const x1 = Math.min(W - 1, x0 + 1);
      const y1 = Math.min(H - 1, y0 + 1);
      const fx = Math.max(0, Math.min(1, sx - x0));
      const fy = Math.max(0, Math.min(1, sy - y0));
      for (let c = 0; c < 3; c++) {
        const a = data[(y0 * W + x0) * 3 + c];
        const b = data[(y0 * W + x1) * 3 + c];
        const d = data[(y1 * W + x0) * 3 + c];
        const e = data[(y1 * W + x1) * 3 + c];
        out[o + c] = Math.round((a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy);
      }
      out[o + 3] = 255;
    }
  }
  return out;
}

/** Create the WMS request listener. */
export async function createWorldWms(file = join(HERE, 'data', 'world-4326.jpg')) {
  const world = await loadWorld(file);
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = new Map([...url.searchParams].map(([k, v]) => [k.toUpperCase(), v]));
    if ((q.get('REQUEST') ?? '').toLowerCase() !== 'getmap') return exception(res, 400, 'only GetMap is supported');
    const version = q.get('VERSION') ?? '1.1.1';
    const srs = (q.get('SRS') ?? q.get('CRS') ?? '').toUpperCase();
    const width = Number(q.get('WIDTH'));
    const height = Number(q.get('HEIGHT'));
    let bbox = (q.get('BBOX') ?? '').split(',').map(Number);
    if (!(srs === 'EPSG:4326' || srs === 'CRS:84' || MERC_SRS.has(srs))) return exception(res, 400, `unsupported srs ${srs}`);
    if (bbox.length !== 4 || bbox.some((n) => !Number.isFinite(n))) return exception(res, 400, 'invalid bbox');
    if (!(width > 0 && height > 0 && width <= 4096 && height <= 4096)) return exception(res, 400, 'invalid size');
    if (version === '1.3.0' && srs === 'EPSG:4326') bbox = [bbox[1], bbox[0], bbox[3], bbox[2]];
    const format = (q.get('FORMAT') ?? 'image/png').toLowerCase();
    const transparent = (q.get('TRANSPARENT') ?? '').toLowerCase() === 'true' && format.includes('png');
    const raw = render(world, srs, bbox, width, height, transparent);
    const img = sharp(raw, { raw: { width, height, channels: 4 } });
    const body = format.includes('jpeg') || format.includes('jpg')
      ? await img.flatten({ background: '#ffffff' }).jpeg({ quality: 90 }).toBuffer()
      : await img.png({ compressionLevel: 6 }).toBuffer();
    res.writeHead(200, { 'Content-Type': format.includes('jp') ? 'image/jpeg' : 'image/png', 'Content-Length': body.length });
    res.end(body);
  };
}

/** Start the example WMS on 127.0.0.1:port; resolves to the server. */
export async function startWorldWms(port = 8091, host = '127.0.0.1') {
  const handler = await createWorldWms();
  const server = createServer((req, res) => {
    handler(req, res).catch((err) => exception(res, 500, String(err?.message ?? err)));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

// Run directly, or by pm2 (which starts scripts through its own container: pm_exec_path).
const self = fileURLToPath(import.meta.url);
if (process.argv[1] === self || process.env.pm_exec_path === self) {
  const port = Number(process.argv[2] ?? 8091);
  const server = await startWorldWms(port);
  console.log(`example WMS on http://127.0.0.1:${server.address().port}/wms`);
}
