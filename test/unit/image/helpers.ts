// Shared fixtures of the image tests: synthetic images and a small PNG chunk reader.
import type { ImageOptions, RawImage } from '../../../src/image/types.js';

/** Default output options as the config layer resolves them (MapProxy: paletted PNG, 256 colours). */
export const PNG: ImageOptions = {
  format: 'image/png',
  transparent: false,
  colors: 256,
  jpegQuality: 90,
  resampling: 'bicubic',
  bgcolor: [255, 255, 255],
};

/** An image whose every pixel is `fn(x, y)`. */
export function makeRaw(width: number, height: number, fn: (x: number, y: number) => readonly number[]): RawImage {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = fn(x, y);
      data.set([c[0], c[1], c[2], c[3] ?? 255], (y * width + x) * 4);
    }
  }
  return { data, width, height, channels: 4 };
}

/** Colour that encodes a position below 4096×4096 uniquely (opaque). */
export function posColor(x: number, y: number): [number, number, number, number] {
  return [x & 255, y & 255, (x >> 8) | ((y >> 8) << 4), 255];
}

/** The position encoded by `posColor`. */
export function colorPos(r: number, g: number, b: number): [number, number] {
  return [r | ((b & 15) << 8), g | ((b >> 4) << 8)];
}

/** The RGBA of pixel (x, y). */
export function px(raw: RawImage, x: number, y: number): number[] {
  const i = (y * raw.width + x) * 4;
  return [...raw.data.subarray(i, i + 4)];
}

/** PNG chunks by type (first occurrence) and the IHDR fields. */
export function pngInfo(buf: Buffer): { colorType: number; bitDepth: number; width: number; height: number; chunks: Map<string, Buffer> } {
  const chunks = new Map<string, Buffer>();
  let o = 8;
  while (o < buf.length) {
    const len = buf.readUInt32BE(o);
    const type = buf.toString('latin1', o + 4, o + 8);
    if (!chunks.has(type)) chunks.set(type, buf.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), bitDepth: buf[24], colorType: buf[25], chunks };
}
