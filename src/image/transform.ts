/**
 * Scaling and reprojection (REFERENCE §2.14). Same SRS: an exact crop when the resolutions match,
 * else an affine resample. Different SRS: MapProxy's mesh warp — the output is split into quads
 * until each is under 50 px or its centre (and, here, its quarter points) map within `maxPxErr`
 * pixels; each quad's corners are transformed exactly and its pixels mapped by bilinear
 * interpolation of the corners. Areas with no source pixels get the background (transparent when
 * asked: MapProxy's black fill is a bug, §6).
 */
import type { Bbox, Size, Srs } from '../grid/types.js';
import { backgroundOf, cropRaw, rawImage } from './raw.js';
import { onImagePool } from './pool.js';
import { sampler, type Sampler } from './sample.js';
import { sharpLib } from './sharp.js';
import type { RawImage, Resampling } from './types.js';

/** Options of `transformImage`. */
export interface TransformOptions {
  readonly resampling: Resampling;
  readonly bgcolor?: readonly [number, number, number];
  readonly transparent: boolean;
  /** Largest error of the mesh in output pixels (MapProxy: 1). */
  readonly maxPxErr?: number;
}

const KERNEL = { nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic' } as const;

/** Resize to exactly `size` (aspect ratio not kept) with libvips; the input when already that size. */
export async function scaleImage(raw: RawImage, size: Size, resampling: Resampling): Promise<RawImage> {
  if (raw.width === size[0] && raw.height === size[1]) return raw;
  const lib = await sharpLib();
  const { data, info } = await onImagePool(() =>
    lib(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } })
      .resize(size[0], size[1], { fit: 'fill', kernel: KERNEL[resampling] ?? 'cubic' })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
  return rawImage(data, info.width, info.height);
}

/**
 * The upstream request for a reprojected map: the destination bbox transformed through 16 points
 * per edge, and a size that keeps the destination's width or height (MapProxy's WMS source).
 */
export function sourceRequestFor(dstBbox: Bbox, dstSrs: Srs, dstSize: Size, srcSrs: Srs): { bbox: Bbox; size: Size } {
  const bbox = dstSrs.transformBboxTo(srcSrs, dstBbox, 16);
  const w = bbox[2] - bbox[0];
  const h = bbox[3] - bbox[1];
  const ratio = w / h;
  const size: Size = w / dstSize[0] < h / dstSize[1]
    ? [dstSize[0], Math.trunc(dstSize[0] / ratio + 0.5)]
    : [Math.trunc(dstSize[1] * ratio + 0.5), dstSize[1]];
  return { bbox, size };
}

/** A mesh quad: destination pixel rectangle and the source pixel positions of its corners. */
interface Quad {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  /** Source x/y of the corners nw, ne, sw, se. */
  readonly src: readonly number[];
}

/**
 * Render `src` (covering `srcBbox` in `srcSrs`) as an image of `dstSize` covering `dstBbox` in
 * `dstSrs`. Bboxes are x/y (east/north) order.
 */
export async function transformImage(
  src: RawImage,
  srcBbox: Bbox,
  srcSrs: Srs,
  dstBbox: Bbox,
  dstSrs: Srs,
  dstSize: Size,
  opts: TransformOptions,
): Promise<RawImage> {
  const [dw, dh] = dstSize;
  const bg = backgroundOf({ bgcolor: opts.bgcolor ?? [255, 255, 255], transparent: opts.transparent });
  const sResX = (srcBbox[2] - srcBbox[0]) / src.width;
  const sResY = (srcBbox[3] - srcBbox[1]) / src.height;
  const dResX = (dstBbox[2] - dstBbox[0]) / dw;
  const dResY = (dstBbox[3] - dstBbox[1]) / dh;
  const toSrcPx = (x: number, y: number): [number, number] => [(x - srcBbox[0]) / sResX, (srcBbox[3] - y) / sResY];

  if (srcSrs.equals(dstSrs)) {
    const [sx0, sy0] = toSrcPx(dstBbox[0], dstBbox[3]);
    const [sx1, sy1] = toSrcPx(dstBbox[2], dstBbox[1]);
    // MapProxy: the same resolution within a tenth of a pixel over the whole image is a plain crop.
    if (Math.abs(sResX - dResX) < Math.abs(dResX / (dw * 10)) && Math.abs(sResY - dResY) < Math.abs(dResY / (dh * 10))) {
      const x = Math.round(sx0);
      const y = Math.round(sy0);
      if (x === 0 && y === 0 && src.width === dw && src.height === dh) return src;
      return cropRaw(src, x, y, dw, dh, bg);
    }
    const out = rawImage(Buffer.allocUnsafe(dw * dh * 4), dw, dh);
    await renderQuads(out, [{ x0: 0, y0: 0, x1: dw, y1: dh, src: [sx0, sy0, sx1, sy0, sx0, sy1, sx1, sy1] }], sampler(src, opts.resampling, bg));
    return out;
  }

  const toDstWorld = (px: number, py: number): [number, number] => [dstBbox[0] + px * dResX, dstBbox[3] - py * dResY];
  const maxErr = (opts.maxPxErr ?? 1) * dResX;
  const project = (pts: Array<[number, number]>): Array<[number, number]> => {
    try {
      return dstSrs.transformTo(srcSrs, pts);
    } catch {
      return pts.map(() => [NaN, NaN]);
    }
  };
  const corners = (x0: number, y0: number, x1: number, y1: number): number[] => {
    const w = project([toDstWorld(x0, y0), toDstWorld(x1, y0), toDstWorld(x0, y1), toDstWorld(x1, y1)]);
    return w.flatMap(([x, y]) => toSrcPx(x, y));
  };
  // MapProxy checks the centre only, which a symmetric quad (the whole world) passes however
  // curved the mapping is; the quarter points catch that.
  const meshOk = (q: Quad): boolean => {
    const s = q.src;
    const pts: Array<[number, number]> = CHECK_POINTS.map(([u, v]) => {
      const sx = (1 - v) * ((1 - u) * s[0] + u * s[2]) + v * ((1 - u) * s[4] + u * s[6]);
      const sy = (1 - v) * ((1 - u) * s[1] + u * s[3]) + v * ((1 - u) * s[5] + u * s[7]);
      return [srcBbox[0] + sx * sResX, srcBbox[3] - sy * sResY];
    });
    let back: Array<[number, number]>;
    try {
      back = srcSrs.transformTo(dstSrs, pts);
    } catch {
      return false;
    }
    return CHECK_POINTS.every(([u, v], i) => {
      const [ex, ey] = toDstWorld(q.x0 + u * (q.x1 - q.x0), q.y0 + v * (q.y1 - q.y0));
      return Math.max(Math.abs(back[i][0] - ex), Math.abs(back[i][1] - ey)) < maxErr;
    });
  };

  const quads: Quad[] = [];
  const exact: Array<[number, number, number, number]> = [];
  const visit = (x0: number, y0: number, x1: number, y1: number): void => {
    const w = x1 - x0;
    const h = y1 - y0;
    const q: Quad = { x0, y0, x1, y1, src: corners(x0, y0, x1, y1) };
    if (!q.src.every(Number.isFinite)) {
      // A corner outside the projection's domain (a pole in Mercator): narrow the area down and
      // transform the last few pixels one by one.
      if (w <= 8 && h <= 8) exact.push([x0, y0, x1, y1]);
      else for (const r of divide(x0, y0, x1, y1)) visit(...r);
      return;
    }
    if (w < 50 || h < 50 || meshOk(q)) quads.push(q);
    else for (const r of divide(x0, y0, x1, y1)) visit(...r);
  };
  visit(0, 0, dw, dh);

  const out = rawImage(Buffer.allocUnsafe(dw * dh * 4), dw, dh);
  const sample = sampler(src, opts.resampling, bg);
  await renderQuads(out, quads, sample);
  for (const [x0, y0, x1, y1] of exact) {
    const pts: Array<[number, number]> = [];
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) pts.push(toDstWorld(x + 0.5, y + 0.5));
    const world = project(pts);
    let k = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++, k++) {
        const [sx, sy] = toSrcPx(world[k][0], world[k][1]);
        sample(sx, sy, out.data, (y * dw + x) * 4);
      }
    }
  }
  return out;
}

/** Where a quad's bilinear mapping is compared with the exact one: centre and quarter points. */
const CHECK_POINTS: ReadonlyArray<readonly [number, number]> = [[0.5, 0.5], [0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]];

/** Split a rectangle in two along its long side when it is over twice as long, else in four. */
function divide(x0: number, y0: number, x1: number, y1: number): Array<[number, number, number, number]> {
  const w = x1 - x0;
  const h = y1 - y0;
  const xc = Math.trunc(x0 + w / 2);
  const yc = Math.trunc(y0 + h / 2);
  if (w > 2 * h || h < 2) return [[x0, y0, xc, y1], [xc, y0, x1, y1]];
  if (h > 2 * w || w < 2) return [[x0, y0, x1, yc], [x0, yc, x1, y1]];
  return [[x0, y0, xc, yc], [xc, y0, x1, yc], [x0, yc, xc, y1], [xc, yc, x1, y1]];
}

/** Pixels rendered between two yields to the event loop. */
const CHUNK = 1 << 16;

async function renderQuads(out: RawImage, quads: readonly Quad[], sample: Sampler): Promise<void> {
  const d = out.data;
  const w = out.width;
  let done = 0;
  for (const q of quads) {
    const [nwx, nwy, nex, ney, swx, swy, sex, sey] = q.src;
    const qw = q.x1 - q.x0;
    const qh = q.y1 - q.y0;
    for (let y = q.y0; y < q.y1; y++) {
      const v = (y + 0.5 - q.y0) / qh;
      // Source positions along the quad's left and right edges at this row.
      const lx = nwx + (swx - nwx) * v;
      const ly = nwy + (swy - nwy) * v;
      const rx = nex + (sex - nex) * v;
      const ry = ney + (sey - ney) * v;
      let o = (y * w + q.x0) * 4;
      for (let x = q.x0; x < q.x1; x++, o += 4) {
        const u = (x + 0.5 - q.x0) / qw;
        sample(lx + (rx - lx) * u, ly + (ry - ly) * u, d, o);
      }
      done += qw;
      if (done >= CHUNK) {
        done = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
}
