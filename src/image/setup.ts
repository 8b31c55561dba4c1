/**
 * Process-wide libvips settings a worker applies once at start-up. Every sharp call and zlib
 * deflate here runs on libuv's thread pool (UV_THREADPOOL_SIZE, default 4), so that pool size
 * bounds how many images encode at once.
 */
import sharp from 'sharp';

/** Options of `configureImaging`. */
export interface ImagingSettings {
  /** libvips threads per image operation (sharp default: the number of cores). */
  readonly concurrency?: number;
  /**
   * libvips' operation cache. Inputs here are always fresh buffers, so it never hits; off (false)
   * saves its memory (up to 50 MB by default).
   */
  readonly cache?: boolean;
}

/** Apply libvips settings for this process. */
export function configureImaging(settings: ImagingSettings): void {
  if (settings.concurrency !== undefined) sharp.concurrency(settings.concurrency);
  if (settings.cache !== undefined) sharp.cache(settings.cache);
}
