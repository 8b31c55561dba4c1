/**
 * Point sampling of RGBA pixels at fractional positions, for reprojection: nearest, bilinear and
 * bicubic (Keys, a = −0.5, as Pillow). Interpolation weights colours by alpha (premultiplied), so
 * transparent pixels do not bleed their hidden colour into edges. Positions are continuous pixel
 * coordinates: pixel (i, j) covers [i, i+1) × [j, j+1); positions outside the image get the
 * background; taps beyond the edge repeat the edge pixel.
 */
import type { Rgba } from './raw.js';
import type { RawImage, Resampling } from './types.js';

/** Writes the sample at (`sx`, `sy`) into `out` at byte offset `o`. */
export type Sampler = (sx: number, sy: number, out: Buffer, o: number) => void;

const clamp255 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

function cubic(t: number): number {
  const a = -0.5;
  const x = Math.abs(t);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** A sampler over `src` with `bg` outside it. */
export function sampler(src: RawImage, resampling: Resampling, bg: Rgba): Sampler {
  if (resampling === 'nearest') return nearest(src, bg);
  return resampling === 'bilinear' ? bilinear(src, bg) : bicubic(src, bg);
}

function writeBg(out: Buffer, o: number, bg: Rgba): void {
  out[o] = bg[0];
  out[o + 1] = bg[1];
  out[o + 2] = bg[2];
  out[o + 3] = bg[3];
}

/** Store alpha-weighted sums (`a` = Σ weight·alpha) as a straight-alpha pixel. */
function store(out: Buffer, o: number, r: number, g: number, b: number, a: number): void {
  if (a <= 0) {
    out[o] = 0;
    out[o + 1] = 0;
    out[o + 2] = 0;
    out[o + 3] = 0;
    return;
  }
  out[o] = clamp255(r / a);
  out[o + 1] = clamp255(g / a);
  out[o + 2] = clamp255(b / a);
  out[o + 3] = clamp255(a);
}

function nearest(src: RawImage, bg: Rgba): Sampler {
  const { data: s, width: W, height: H } = src;
  return (sx, sy, out, o) => {
    if (!(sx >= 0 && sx < W && sy >= 0 && sy < H)) return writeBg(out, o, bg);
    const i = (Math.floor(sy) * W + Math.floor(sx)) * 4;
    out[o] = s[i];
    out[o + 1] = s[i + 1];
    out[o + 2] = s[i + 2];
    out[o + 3] = s[i + 3];
  };
}

function bilinear(src: RawImage, bg: Rgba): Sampler {
  const { data: s, width: W, height: H } = src;
  return (sx, sy, out, o) => {
    if (!(sx >= 0 && sx < W && sy >= 0 && sy < H)) return writeBg(out, o, bg);
    const fx = sx - 0.5;
    const fy = sy - 0.5;
    const bx = Math.floor(fx);
    const by = Math.floor(fy);
    const tx = fx - bx;
    const ty = fy - by;
    const x0 = (bx < 0 ? 0 : bx) * 4;
    const x1 = (bx + 1 >= W ? W - 1 : bx + 1) * 4;
    const y0 = (by < 0 ? 0 : by) * W * 4;
    const y1 = (by + 1 >= H ? H - 1 : by + 1) * W * 4;
    const w00 = (1 - tx) * (1 - ty) * s[y0 + x0 + 3];
    const w10 = tx * (1 - ty) * s[y0 + x1 + 3];
    const w01 = (1 - tx) * ty * s[y1 + x0 + 3];
    const w11 = tx * ty * s[y1 + x1 + 3];
    let i = y0 + x0;
    let r = w00 * s[i];
    let g = w00 * s[i + 1];
    let b = w00 * s[i + 2];
    i = y0 + x1;
    r += w10 * s[i];
    g += w10 * s[i + 1];
    b += w10 * s[i + 2];
    i = y1 + x0;
    r += w01 * s[i];
    g += w01 * s[i + 1];
    b += w01 * s[i + 2];
    i = y1 + x1;
    r += w11 * s[i];
    g += w11 * s[i + 1];
    b += w11 * s[i + 2];
    store(out, o, r, g, b, w00 + w10 + w01 + w11);
  };
}

function bicubic(src: RawImage, bg: Rgba): Sampler {
  const { data: s, width: W, height: H } = src;
  const cx = (x: number): number => (x < 0 ? 0 : x >= W ? W - 1 : x) * 4;
  const cy = (y: number): number => (y < 0 ? 0 : y >= H ? H - 1 : y) * W * 4;
  return (sx, sy, out, o) => {
    if (!(sx >= 0 && sx < W && sy >= 0 && sy < H)) return writeBg(out, o, bg);
    const fx = sx - 0.5;
    const fy = sy - 0.5;
    const bx = Math.floor(fx);
    const by = Math.floor(fy);
    const tx = fx - bx;
    const ty = fy - by;
    const wx0 = cubic(tx + 1);
    const wx1 = cubic(tx);
    const wx2 = cubic(1 - tx);
    const wx3 = cubic(2 - tx);
    const x0 = cx(bx - 1);
    const x1 = cx(bx);
    const x2 = cx(bx + 1);
    const x3 = cx(bx + 2);
    let r = 0, g = 0, b = 0, a = 0;
    for (let j = 0; j < 4; j++) {
      const wy = cubic(ty + 1 - j);
      const row = cy(by - 1 + j);
      let i = row + x0;
      let w = wy * wx0 * s[i + 3];
      r += w * s[i];
      g += w * s[i + 1];
      b += w * s[i + 2];
      a += w;
      i = row + x1;
      w = wy * wx1 * s[i + 3];
      r += w * s[i];
      g += w * s[i + 1];
      b += w * s[i + 2];
      a += w;
      i = row + x2;
      w = wy * wx2 * s[i + 3];
      r += w * s[i];
      g += w * s[i + 1];
      b += w * s[i + 2];
      a += w;
      i = row + x3;
      w = wy * wx3 * s[i + 3];
      r += w * s[i];
      g += w * s[i + 1];
      b += w * s[i + 2];
      a += w;
    }
    store(out, o, r, g, b, a);
  };
}
