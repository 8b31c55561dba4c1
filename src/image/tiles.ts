/**
 * Cutting a decoded meta tile into its tiles and encoding them (REFERENCE §2.5): each tile is a
 * row copy out of the meta image's RGBA buffer; the encodes run concurrently on libuv's pool.
 */
import type { MetaTilePart, Size, TileCoord } from '../grid/types.js';
import { encodeImage } from './codec.js';
import { backgroundOf, cropRaw } from './raw.js';
import type { ImageOptions, RawImage } from './types.js';

export { singleColor } from './raw.js';

/** One encoded tile of a meta tile. */
export interface SplitTile {
  readonly coord: TileCoord;
  readonly data: Buffer;
}

/**
 * Cut `meta` at each part's offset into `tileSize` tiles and encode them with `opts`. Where a tile
 * reaches outside the meta image (a clamped meta tile at the grid edge) the rest is the
 * background: transparent when `opts.transparent`, else `bgcolor` (MapProxy's TileSplitter).
 * The result keeps the order of `parts`.
 */
export async function splitMetaTile(
  meta: RawImage,
  parts: readonly MetaTilePart[],
  tileSize: Size,
  opts: ImageOptions,
): Promise<SplitTile[]> {
  const [tw, th] = tileSize;
  const fill = backgroundOf(opts);
  const pending: Array<Promise<SplitTile>> = [];
  for (const [i, part] of parts.entries()) {
    // The synchronous share of an encode (quantising) is a few ms per tile: let I/O in between
    // tiles, while the started encodes continue on the pool.
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const tile = cropRaw(meta, part.offset[0], part.offset[1], tw, th, fill);
    const p = encodeImage(tile, opts).then((data) => ({ coord: part.coord, data }));
    p.catch(() => undefined);
    pending.push(p);
  }
  return Promise.all(pending);
}

/** The pixels of each part, not yet encoded (for callers that draw a watermark before encoding). */
export function cutMetaTile(meta: RawImage, parts: readonly MetaTilePart[], tileSize: Size, opts: Pick<ImageOptions, 'bgcolor' | 'transparent'>): Array<{ coord: TileCoord; image: RawImage }> {
  const fill = backgroundOf(opts);
  return parts.map((p) => ({ coord: p.coord, image: cropRaw(meta, p.offset[0], p.offset[1], tileSize[0], tileSize[1], fill) }));
}
