/**
 * The debug source (`type: debug`): a transparent image with the request's bbox and resolution
 * written on it, as MapProxy's DebugSource draws them. No meta tiles; tile services ignore it.
 */
import { debugImage, debugLines } from '../image/index.js';
import type { MapQuery, Source, SourceImage } from './types.js';

/** Draws `bbox: (…)` and `res: x(y)` onto a transparent PNG of the query size. */
export class DebugSource implements Source {
  readonly name: string;
  readonly type = 'debug';
  readonly supportsMetaTiles = false;
  readonly transparent = true;

  constructor(name: string) {
    this.name = name;
  }

  /** The debug image for `query`; never fails, never cached as a blank. */
  async getMap(query: MapQuery): Promise<SourceImage> {
    const data = await debugImage(query.size, debugLines(query.bbox, query.size));
    return { data, mime: 'image/png', cacheable: true };
  }
}

/** Build a debug source (it has no options). */
export function createDebugSource(name: string): DebugSource {
  return new DebugSource(name);
}
