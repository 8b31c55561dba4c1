/**
 * Writes paletted PNGs (colour type 3) from a `Quantized` image: PLTE, a tRNS chunk when some
 * entry is not opaque, and 1/2/4/8-bit indices as Pillow picks them for the palette size. The
 * deflate runs on libuv's thread pool (node:zlib, async), so encoding blocks the event loop only
 * for the row packing.
 */
import { deflate } from 'node:zlib';
import { promisify } from 'node:util';
import { onImagePool } from './pool.js';
import type { Quantized } from './quantize.js';

const deflateAsync = promisify(deflate);
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Bits per index for a palette of `count` entries (as Pillow writes P images). */
export function bitDepthFor(count: number): 1 | 2 | 4 | 8 {
  if (count <= 2) return 1;
  if (count <= 4) return 2;
  if (count <= 16) return 4;
  return 8;
}

/** Encode a palette image of `width`×`height` as PNG. `level` is the zlib level (Pillow's default 6). */
export async function encodePalettePng(q: Quantized, width: number, height: number, level = 6): Promise<Buffer> {
  const depth = bitDepthFor(q.count);
  const perByte = 8 / depth;
  const rowBytes = Math.ceil(width / perByte);
  const raw = Buffer.alloc((rowBytes + 1) * height);
  const idx = q.indices;
  for (let y = 0; y < height; y++) {
    // Filter type 0 (None) on every row: the libpng advice for palette images.
    let o = y * (rowBytes + 1) + 1;
    const rowStart = y * width;
    if (depth === 8) {
      raw.set(idx.subarray(rowStart, rowStart + width), o);
      continue;
    }
    let acc = 0;
    let bits = 0;
    for (let x = 0; x < width; x++) {
      acc = (acc << depth) | idx[rowStart + x];
      bits += depth;
      if (bits === 8) {
        raw[o++] = acc;
        acc = 0;
        bits = 0;
      }
    }
    if (bits > 0) raw[o] = acc << (8 - bits);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = 3;
  const plte = Buffer.allocUnsafe(q.count * 3);
  let lastTranslucent = -1;
  for (let i = 0; i < q.count; i++) {
    plte[i * 3] = q.palette[i * 4];
    plte[i * 3 + 1] = q.palette[i * 4 + 1];
    plte[i * 3 + 2] = q.palette[i * 4 + 2];
    if (q.palette[i * 4 + 3] !== 255) lastTranslucent = i;
  }
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('PLTE', plte)];
  if (lastTranslucent >= 0) {
    const trns = Buffer.allocUnsafe(lastTranslucent + 1);
    for (let i = 0; i <= lastTranslucent; i++) trns[i] = q.palette[i * 4 + 3];
    parts.push(chunk('tRNS', trns));
  }
  parts.push(chunk('IDAT', await onImagePool(() => deflateAsync(raw, { level }))), chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}
