/**
 * Text drawn into images: the debug source's tiles (bbox and resolution on a transparent image with
 * a border) and message images such as in-image error reports. Text is rendered by librsvg from an
 * SVG, with DejaVu Sans when installed and any sans-serif font otherwise.
 */
import type sharp from 'sharp';
import { pyFloatRepr } from '../grid/pyfloat.js';
import type { Size } from '../grid/types.js';
import { onImagePool } from './pool.js';
import { rawImage, type Rgba } from './raw.js';
import { sharpLib } from './sharp.js';
import type { RawImage } from './types.js';

/** How to draw text. */
export interface TextOptions {
  /** Text colour; default black. */
  readonly color?: Rgba;
  /** Background; default fully transparent. */
  readonly background?: Rgba;
  /** Border colour; no border when undefined. */
  readonly border?: Rgba;
  /** Font size in px; default 12. */
  readonly fontSize?: number;
}

function escapeXml(s: string): string {
  // Control characters are not allowed in XML 1.0; they are dropped.
  const clean = Array.from(s).filter((c) => c.charCodeAt(0) >= 0x20 || c === '\t').join('');
  return clean.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function css([r, g, b, a]: Rgba): string {
  return `rgb(${r},${g},${b})" fill-opacity="${(a / 255).toFixed(3)}`;
}

function svgFor(size: Size, lines: readonly string[], opts: TextOptions): string {
  const [w, h] = size;
  const fs = opts.fontSize ?? 12;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`];
  if (opts.background && opts.background[3] > 0) parts.push(`<rect x="0" y="0" width="${w}" height="${h}" fill="${css(opts.background)}"/>`);
  if (opts.border) {
    const [r, g, b, a] = opts.border;
    parts.push(`<rect x="0.5" y="0.5" width="${w - 1}" height="${h - 1}" fill="none" stroke="rgb(${r},${g},${b})" stroke-opacity="${(a / 255).toFixed(3)}" stroke-width="1"/>`);
  }
  parts.push(`<g font-family="DejaVu Sans, Verdana, sans-serif" font-size="${fs}" fill="${css(opts.color ?? [0, 0, 0, 255])}">`);
  lines.forEach((line, i) => {
    parts.push(`<text x="5" y="${5 + fs + i * Math.round(fs * 1.3)}" xml:space="preserve">${escapeXml(line)}</text>`);
  });
  parts.push('</g></svg>');
  return parts.join('');
}

async function render(size: Size, lines: readonly string[], opts: TextOptions): Promise<sharp.Sharp> {
  const lib = await sharpLib();
  return lib(Buffer.from(svgFor(size, lines, opts)), { density: 72 }).ensureAlpha();
}

/** `lines` drawn top-left onto an image of `size`, as RGBA pixels. */
export async function textImage(size: Size, lines: readonly string[], opts: TextOptions = {}): Promise<RawImage> {
  const p = (await render(size, lines, opts)).raw();
  const { data, info } = await onImagePool(() => p.toBuffer({ resolveWithObject: true }));
  return rawImage(data, info.width, info.height);
}

/**
 * The debug source's image: a transparent PNG of `size` with `lines` (MapProxy writes the bbox and
 * the resolution) in black and a black border.
 */
export async function debugImage(size: Size, lines: readonly string[]): Promise<Buffer> {
  const p = (await render(size, lines, { border: [0, 0, 0, 255] })).png();
  return onImagePool(() => p.toBuffer());
}

/** The debug source's text for a request: `bbox: (…)` and `res: x(y)` as MapProxy writes them. */
export function debugLines(bbox: readonly [number, number, number, number], size: Size): string[] {
  const resX = (bbox[2] - bbox[0]) / size[0];
  const resY = (bbox[3] - bbox[1]) / size[1];
  return [`bbox: (${bbox.map(pyFloatRepr).join(', ')})`, `res: ${resX.toFixed(8)}(${resY.toFixed(8)})`];
}
