/**
 * The one place sharp (libvips) is loaded: on the first image operation, not at import. Loading it
 * maps libvips and its codecs (~15 MiB of RSS per process), which a worker that only serves cache
 * hits never needs. Process settings given before the load are kept and applied when it happens.
 */
import type sharp from 'sharp';

/** sharp's default export: the constructor function with its process-wide settings. */
export type SharpLib = typeof sharp;

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

let loading: Promise<SharpLib> | undefined;
let loaded: SharpLib | undefined;
let pending: { concurrency?: number; cache?: boolean } = {};

function apply(lib: SharpLib, settings: ImagingSettings): void {
  if (settings.concurrency !== undefined) lib.concurrency(settings.concurrency);
  if (settings.cache !== undefined) lib.cache(settings.cache);
}

/**
 * sharp, loaded on the first call (concurrent first calls share one load) with the settings of
 * earlier `configureImaging` calls applied. A failed load is not memoised: the next call retries.
 */
export function sharpLib(): Promise<SharpLib> {
  loading ??= import('sharp').then(
    ({ default: lib }) => {
      apply(lib, pending);
      pending = {};
      loaded = lib;
      return lib;
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/** Whether sharp has been loaded in this process (for tests and diagnostics). */
export function isSharpLoaded(): boolean {
  return loaded !== undefined;
}

/**
 * Apply libvips settings for this process: at once when sharp is loaded, else at its first load
 * (later calls override earlier ones key by key). Never loads sharp itself.
 */
export function configureImaging(settings: ImagingSettings): void {
  if (loaded) {
    apply(loaded, settings);
    return;
  }
  pending = {
    ...pending,
    ...(settings.concurrency !== undefined ? { concurrency: settings.concurrency } : {}),
    ...(settings.cache !== undefined ? { cache: settings.cache } : {}),
  };
}
