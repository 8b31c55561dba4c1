/**
 * Writes a single-frame GIF89a from a `Quantized` image (global colour table, LZW), with the first
 * fully transparent palette entry as the transparent colour. libvips' GIF writer re-quantises
 * (changing colours even of a 256-colour image, slowly); this keeps the palette exactly.
 */
import type { Quantized } from './quantize.js';

class BitWriter {
  readonly #bytes: number[] = [];
  #acc = 0;
  #bits = 0;

  write(code: number, width: number): void {
    this.#acc |= code << this.#bits;
    this.#bits += width;
    while (this.#bits >= 8) {
      this.#bytes.push(this.#acc & 0xff);
      this.#acc >>>= 8;
      this.#bits -= 8;
    }
  }

  finish(): number[] {
    if (this.#bits > 0) this.#bytes.push(this.#acc & 0xff);
    return this.#bytes;
  }
}

/** LZW-compress palette indices the GIF way (variable code width up to 12 bits, no early change). */
function lzw(indices: Uint8Array, minCodeSize: number): number[] {
  const clear = 1 << minCodeSize;
  const eoi = clear + 1;
  const out = new BitWriter();
  const dict = new Map<number, number>();
  let width = minCodeSize + 1;
  let next = eoi + 1;
  out.write(clear, width);
  let prefix = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const k = indices[i];
    const key = prefix * 256 + k;
    const code = dict.get(key);
    if (code !== undefined) {
      prefix = code;
      continue;
    }
    out.write(prefix, width);
    if (next < 4096) {
      dict.set(key, next++);
      // The decoder adds its entry one code later, so it widens once `next` passes 2^width.
      if (next > 1 << width && width < 12) width++;
    } else {
      out.write(clear, width);
      dict.clear();
      width = minCodeSize + 1;
      next = eoi + 1;
    }
    prefix = k;
  }
  out.write(prefix, width);
  out.write(eoi, width);
  return out.finish();
}

/** Encode a palette image of `width`×`height` as GIF89a. */
export function encodeGif(q: Quantized, width: number, height: number): Buffer {
  let tableBits = 1;
  while (1 << tableBits < q.count) tableBits++;
  const tableSize = 1 << tableBits;
  let transparent = -1;
  for (let i = 0; i < q.count; i++) {
    if (q.palette[i * 4 + 3] < 128) {
      transparent = i;
      break;
    }
  }
  const head = Buffer.alloc(13 + tableSize * 3 + 8 + 10);
  head.write('GIF89a', 0, 'latin1');
  head.writeUInt16LE(width, 6);
  head.writeUInt16LE(height, 8);
  head[10] = 0x80 | ((tableBits - 1) << 4) | (tableBits - 1);
  for (let i = 0; i < q.count; i++) {
    head[13 + i * 3] = q.palette[i * 4];
    head[13 + i * 3 + 1] = q.palette[i * 4 + 1];
    head[13 + i * 3 + 2] = q.palette[i * 4 + 2];
  }
  let o = 13 + tableSize * 3;
  // Graphic control extension: only needed for the transparent index, harmless otherwise.
  head.set([0x21, 0xf9, 4, transparent >= 0 ? 1 : 0, 0, 0, Math.max(transparent, 0), 0], o);
  o += 8;
  head[o] = 0x2c;
  head.writeUInt16LE(width, o + 5);
  head.writeUInt16LE(height, o + 7);
  const minCodeSize = Math.max(2, tableBits);
  const data = lzw(q.indices, minCodeSize);
  const blocks = Buffer.alloc(1 + data.length + Math.ceil(data.length / 255) + 2);
  let b = 0;
  blocks[b++] = minCodeSize;
  for (let i = 0; i < data.length; i += 255) {
    const n = Math.min(255, data.length - i);
    blocks[b++] = n;
    for (let k = 0; k < n; k++) blocks[b++] = data[i + k];
  }
  blocks[b++] = 0;
  blocks[b++] = 0x3b;
  return Buffer.concat([head, blocks.subarray(0, b)]);
}
