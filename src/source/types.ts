/**
 * The Source contract: anything that renders a map for a bbox (a WMS, a tile server, the debug
 * source, another cache). TileManager and WMS rendering depend only on this.
 */
import type { Bbox, Size, Srs, TileGrid } from '../grid/types.js';
import type { EncodedImage, RawImage } from '../image/types.js';

/** What to render. `bbox` is in `srs`, in x/y (east/north) order. */
export interface MapQuery {
  readonly bbox: Bbox;
  readonly size: Size;
  readonly srs: Srs;
  /** MIME type wanted (`image/png`); a source may answer in another format it supports. */
  readonly format: string;
  readonly transparent?: boolean;
  /** Dimension values (`time`, `elevation`, `dim_*`) to pass upstream. */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** Set by seeding: seed_only sources answer only then. */
  readonly seeding?: boolean;
}

/**
 * A rendered image. `data`/`mime` are the encoded bytes as received (passed through unchanged
 * when nothing needs to be done to them); `raw` is set when the source already decoded them.
 * `cacheable: false` marks an on_error substitute that must not be stored. Sources that produce
 * pixels (a cache used as a source) may leave `data` empty and set `raw`.
 */
export interface SourceImage extends EncodedImage {
  readonly raw?: RawImage;
  readonly cacheable: boolean;
  /** True when the image is known to be fully transparent/blank (outside coverage, seed_only). */
  readonly blank?: boolean;
}

/**
 * A map source. `getMap` either resolves to an image of exactly `query.size` covering exactly
 * `query.bbox`, or rejects with a `SourceError` naming the URL.
 */
export interface Source {
  readonly name: string;
  readonly type: 'wms' | 'tile' | 'debug' | 'cache' | string;
  /** Whether it may be asked for arbitrary bboxes (meta tiles); tile sources may not. */
  readonly supportsMetaTiles: boolean;
  /** Whether its images may contain transparency (merge order and format decisions use it). */
  readonly transparent: boolean;
  /** For tile sources: the grid its tiles come in (requests must match it). */
  readonly grid?: TileGrid;
  /** The area it has data for, in `extentSrs` (undefined: everywhere). */
  readonly coverage?: { readonly bbox: Bbox; readonly srs: Srs };
  /** Resolution range it answers for (min_res exclusive upper bound on coarseness, max_res inclusive). */
  readonly resRange?: { readonly minRes?: number; readonly maxRes?: number };
  readonly seedOnly?: boolean;
  /** 0–1: how opaque this source is drawn when merged with others (`image.opacity`). */
  readonly opacity?: number;
  getMap(query: MapQuery): Promise<SourceImage>;
  /** Release sockets and timers. */
  close?(): Promise<void>;
}
