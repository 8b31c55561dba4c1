/**
 * Image types shared by sources, caches and services. Encoded images travel as bytes plus a MIME
 * type; pixels are decoded once (sharp/libvips) into `RawImage` (always 8-bit RGBA) for cutting,
 * merging and re-encoding.
 */

/** Decoded pixels: 8-bit RGBA, row-major, `width * height * 4` bytes. */
export interface RawImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 4;
}

/** Resampling used when scaling or transforming. */
export type Resampling = 'nearest' | 'bilinear' | 'bicubic';

/**
 * Output options of a cache, source or request (MapProxy's image_opts, resolved with defaults).
 * `format` is a MIME type (`image/png`, `image/jpeg`, …) or `mixed` (PNG when any pixel is
 * transparent, else JPEG).
 */
export interface ImageOptions {
  readonly format: string;
  /** `RGB`, `RGBA`, `P` (paletted) or `I`/`L`; undefined lets the format decide. */
  readonly mode?: 'RGB' | 'RGBA' | 'P' | 'I' | 'L';
  readonly transparent: boolean;
  /** PNG palette size: 0 = no quantising; default 256 (255 when globals.image.paletted forces it). */
  readonly colors: number;
  /** JPEG quality 1–100, default 90. */
  readonly jpegQuality: number;
  readonly resampling: Resampling;
  /** Background for opaque output, `[r, g, b]`; default white. */
  readonly bgcolor: readonly [number, number, number];
  /** 0–1, applied when merging this image onto others. */
  readonly opacity?: number;
  /** TIFF compression (MapProxy's encoding_options.tiff_compression); default `raw` (none). */
  readonly tiffCompression?: 'raw' | 'tiff_lzw' | 'jpeg';
}

/** An encoded image as bytes with its MIME type (what sources return and storage holds). */
export interface EncodedImage {
  readonly data: Buffer;
  readonly mime: string;
}
