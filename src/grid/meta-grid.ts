/**
 * Meta tiles: blocks of `meta_size` tiles fetched with one upstream request plus `meta_buffer`
 * pixels on each side (MapProxy's MetaGrid, REFERENCE.md §2.5) — the request bbox and pixel size,
 * and where each tile sits in the meta image.
 */
import { GridRequestError } from './tile-grid.js';
import { pyRound, pyRoundInt } from './pyfloat.js';
import type { AffectedTiles, Bbox, MetaGrid, MetaTile, MetaTilePart, Size, TileCoord, TileGrid } from './types.js';

type Buffers = [number, number, number, number];

export class MetaGridImpl implements MetaGrid {
  readonly grid: TileGrid;
  readonly metaSize: Size;
  readonly metaBuffer: number;

  constructor(grid: TileGrid, metaSize: Size, metaBuffer = 0) {
    if (!(metaSize[0] >= 1 && metaSize[1] >= 1) || !Number.isInteger(metaSize[0]) || !Number.isInteger(metaSize[1])) {
      throw new RangeError(`meta_size must be two integers ≥ 1, got ${metaSize.join(',')}`);
    }
    if (!(metaBuffer >= 0)) throw new RangeError(`meta_buffer must be ≥ 0, got ${metaBuffer}`);
    this.grid = grid;
    this.metaSize = [metaSize[0], metaSize[1]];
    this.metaBuffer = metaBuffer;
  }

  /** The meta size at `level`: `meta_size` cut to the level's grid size. */
  metaSizeAt(level: number): Size {
    const [nx, ny] = this.#gridSize(level);
    return [Math.min(this.metaSize[0], nx), Math.min(this.metaSize[1], ny)];
  }

  mainTile(coord: TileCoord): TileCoord {
    const [x, y, z] = coord;
    const [mx, my] = this.metaSizeAt(z);
    return [Math.floor(x / mx) * mx, Math.floor(y / my) * my, z];
  }

  metaTile(coord: TileCoord): MetaTile {
    const main = this.mainTile(coord);
    const [x0, y0, z] = main;
    const size = this.metaSizeAt(z);
    const unbuffered = this.grid.tilesBbox([main, [x0 + size[0] - 1, y0 + size[1] - 1, z]]);
    const [gx, gy] = this.#gridSize(z);
    // Rows from the top: ascending y on ul grids, descending on ll grids.
    const ys = this.#rowsFromTop(y0, y0 + size[1] - 1);
    const tiles: Array<TileCoord | null> = [];
    for (const y of ys) {
      for (let x = x0; x < x0 + size[0]; x++) tiles.push(x < 0 || y < 0 || x >= gx || y >= gy ? null : [x, y, z]);
    }
    return this.#build(main, unbuffered, z, size, tiles);
  }

  minimalMetaTile(coords: readonly TileCoord[]): MetaTile {
    if (coords.length === 0) throw new RangeError('minimalMetaTile needs at least one tile');
    const z = coords[coords.length - 1][2];
    let minx = Infinity;
    let miny = Infinity;
    let maxx = -Infinity;
    let maxy = -Infinity;
    for (const [x, y] of coords) {
      minx = Math.min(minx, x);
      maxx = Math.max(maxx, x);
      miny = Math.min(miny, y);
      maxy = Math.max(maxy, y);
    }
    const size: Size = [1 + maxx - minx, 1 + maxy - miny];
    const tiles: Array<TileCoord | null> = [];
    for (const y of this.#rowsFromTop(miny, maxy)) {
      for (let x = minx; x <= maxx; x++) tiles.push(x < 0 || y < 0 ? null : [x, y, z]);
    }
    const bbox = this.grid.tilesBbox([
      [minx, miny, z],
      [maxx, maxy, z],
    ]);
    return this.#build([minx, miny, z], bbox, z, size, tiles);
  }

  affectedLevelTiles(bbox: Bbox, level: number): AffectedTiles {
    const delta = this.grid.resolution(level) / 10;
    const [mx, my] = this.metaSizeAt(level);
    const a = this.grid.pointToTile(bbox[0] + delta, bbox[1] + delta, level);
    const b = this.grid.pointToTile(bbox[2] - delta, bbox[3] - delta, level);
    const x0 = Math.floor(a[0] / mx) * mx;
    const x1 = Math.floor(b[0] / mx) * mx;
    const ya = Math.floor(a[1] / my) * my;
    const yb = Math.floor(b[1] / my) * my;
    const xs = steps(x0, x1, mx);
    const ys = this.grid.origin === 'ul' ? steps(yb, ya, my) : steps(yb, ya, -my);
    if (xs.length === 0 || ys.length === 0) {
      throw new GridRequestError(`invalid bbox for grid ${this.grid.name} at level ${level}`, 'invalid-bbox');
    }
    // MapProxy grows the last main tile by the meta size upwards in y on both origins; on ul grids
    // that undershoots the top rows. Kept for identical seeding bboxes.
    const ll: TileCoord = [xs[0], ys[ys.length - 1], level];
    const ur: TileCoord = [xs[xs.length - 1] + mx - 1, ys[0] + my - 1, level];
    const [gx, gy] = this.#gridSize(level);
    const tiles: Array<TileCoord | null> = [];
    for (const y of ys) for (const x of xs) tiles.push(x < 0 || y < 0 || x >= gx || y >= gy ? null : [x, y, level]);
    return { bbox: this.grid.tilesBbox([ll, ur]), gridSize: [xs.length, ys.length], tiles };
  }

  #build(main: TileCoord, unbuffered: Bbox, z: number, gridSize: Size, tiles: Array<TileCoord | null>): MetaTile {
    const res = this.grid.resolution(z);
    const { bbox, buffers } = this.#buffered(unbuffered, res);
    const size: Size = [pyRoundInt((bbox[2] - bbox[0]) / res), pyRoundInt((bbox[3] - bbox[1]) / res)];
    const [tw, th] = this.grid.tileSize;
    const parts: MetaTilePart[] = [];
    for (let i = 0; i < gridSize[1]; i++) {
      for (let j = 0; j < gridSize[0]; j++) {
        const coord = tiles[j + i * gridSize[0]];
        if (coord) parts.push({ coord, offset: [j * tw + buffers[0], i * th + buffers[3]] });
      }
    }
    const lockCoord = parts.length > 0 ? parts[0].coord : main;
    return { main, lockCoord, bbox, size, gridSize, buffers, parts };
  }

  #buffered(bbox: Bbox, res: number): { bbox: Bbox; buffers: Buffers } {
    const buf = this.metaBuffer;
    if (!(buf > 0)) return { bbox, buffers: [0, 0, 0, 0] };
    const g = this.grid.bbox;
    let [minx, miny, maxx, maxy] = [bbox[0] - buf * res, bbox[1] - buf * res, bbox[2] + buf * res, bbox[3] + buf * res];
    const buffers: Buffers = [buf, buf, buf, buf];
    // At the grid edge the buffer is cut off; MapProxy truncates round(delta / res, 5) pixels.
    const cut = (delta: number) => Math.trunc(pyRound(delta / res, 5));
    if (g[0] > minx) {
      buffers[0] -= cut(g[0] - minx);
      minx = g[0];
    }
    if (g[1] > miny) {
      buffers[1] -= cut(g[1] - miny);
      miny = g[1];
    }
    if (g[2] < maxx) {
      buffers[2] -= cut(maxx - g[2]);
      maxx = g[2];
    }
    if (g[3] < maxy) {
      buffers[3] -= cut(maxy - g[3]);
      maxy = g[3];
    }
    return { bbox: [minx, miny, maxx, maxy], buffers };
  }

  #rowsFromTop(ymin: number, ymax: number): number[] {
    return this.grid.origin === 'ul' ? steps(ymin, ymax, 1) : steps(ymax, ymin, -1);
  }

  #gridSize(level: number): Size {
    const s = this.grid.gridSizes[level];
    if (!s) throw new GridRequestError(`level ${level} is outside grid ${this.grid.name} (0-${this.grid.levels - 1})`, 'invalid-level');
    return s;
  }
}

/** Meta tiling over `grid` with `metaSize` tiles per request and `metaBuffer` pixels on each side. */
export function metaGrid(grid: TileGrid, metaSize: Size = [4, 4], metaBuffer = 80): MetaGridImpl {
  return new MetaGridImpl(grid, metaSize, metaBuffer);
}

function steps(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  if (step > 0) for (let v = from; v <= to; v += step) out.push(v);
  else for (let v = from; v >= to; v += step) out.push(v);
  return out;
}
