/**
 * `buildGrids`: the `grids:` section of a mapproxy.yaml turned into TileGrids, with `base`
 * inheritance, `align_resolutions_with`, the globals fallbacks and the built-in default grids.
 * Every invalid value or combination becomes a ConfigProblem naming its YAML path; all problems
 * are thrown together in one ConfigError.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseBbox } from './bbox.js';
import { createTileGrid, defaultBbox, type TileGridSpec } from './create.js';
import { DEFAULT_GRID_CONFIGS } from './defaults.js';
import type { ResFactor } from './resolutions.js';
import { BUILTIN_SRS, TransformationError, normalizeSrsCode, type SrsRegistry } from './srs.js';
import { parseOrigin, type TileGridImpl } from './tile-grid.js';
import type { Bbox, Size, Srs, TileGrid } from './types.js';

/** One entry of the `grids:` section, as YAML gives it (MapProxy's grid_opts). */
export interface GridConfig {
  base?: string;
  name?: string;
  srs?: string;
  /** `[minx, miny, maxx, maxy]` or `"minx,miny,maxx,maxy"`. */
  bbox?: readonly number[] | string;
  bbox_srs?: string;
  num_levels?: number;
  res?: readonly number[];
  res_factor?: number | 'sqrt2';
  min_res?: number;
  max_res?: number;
  threshold_res?: readonly number[];
  stretch_factor?: number;
  max_shrink_factor?: number;
  align_resolutions_with?: string;
  /** `ll`/`sw` (default) or `ul`/`nw`. */
  origin?: string;
  tile_size?: readonly number[];
}

/** Values from `globals` that grids fall back to. */
export interface GridGlobals {
  /** `globals.grid.tile_size` (default 256×256). */
  tileSize?: readonly [number, number];
  /** `globals.image.stretch_factor` (default 1.15). */
  stretchFactor?: number;
  /** `globals.image.max_shrink_factor` (default 4.0). */
  maxShrinkFactor?: number;
  /** The configuration's SRSs (`globals.srs`); default: the built-in ones only. */
  srs?: SrsRegistry;
}

type Raw = Record<string, unknown>;

/**
 * Build every grid of a configuration: the three defaults plus `conf` (a user grid named like a
 * default replaces it). The map keeps that order and is keyed by the `grids:` key; a grid's
 * `name` defaults to its key.
 * @throws ConfigError listing every problem, e.g. `grids.mygrid.res: cannot be combined with min_res`.
 */
export function buildGrids(conf: Readonly<Record<string, GridConfig>> | null | undefined, globals: GridGlobals = {}): Map<string, TileGrid> {
  return new GridBuilder(conf ?? {}, globals).build();
}

class GridBuilder {
  readonly #all: Record<string, unknown>;
  readonly #globals: GridGlobals;
  readonly #srs: SrsRegistry;
  readonly #problems: ConfigProblem[] = [];
  readonly #seen = new Set<string>();
  readonly #built = new Map<string, TileGridImpl | null>();
  readonly #building: string[] = [];

  constructor(conf: Readonly<Record<string, unknown>>, globals: GridGlobals) {
    this.#all = { ...DEFAULT_GRID_CONFIGS, ...conf };
    this.#globals = globals;
    this.#srs = globals.srs ?? BUILTIN_SRS;
  }

  build(): Map<string, TileGrid> {
    const out = new Map<string, TileGrid>();
    for (const name of Object.keys(this.#all)) {
      const grid = this.#grid(name);
      if (grid) out.set(name, grid);
    }
    if (this.#problems.length > 0) throw new ConfigError(this.#problems);
    return out;
  }

  #problem(path: string, message: string): void {
    const key = `${path}\u0000${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#problems.push({ path, message });
  }

  #grid(name: string): TileGridImpl | null {
    if (this.#built.has(name)) return this.#built.get(name) ?? null;
    this.#building.push(name);
    let grid: TileGridImpl | null = null;
    try {
      grid = this.#make(name);
    } finally {
      this.#building.pop();
    }
    this.#built.set(name, grid);
    return grid;
  }

  /** The entry with its `base` chain merged in, and for each key the grid that set it (for paths). */
  #merged(name: string): { conf: Raw; from: Record<string, string> } | undefined {
    const chain: string[] = [];
    let cur: string | undefined = name;
    const layers: Array<[string, Raw]> = [];
    while (cur !== undefined) {
      const entry: unknown = this.#all[cur];
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        this.#problem(`grids.${cur}`, 'must be a mapping of grid options');
        return undefined;
      }
      chain.push(cur);
      layers.push([cur, entry as Raw]);
      const base: unknown = (entry as Raw).base;
      if (base === undefined || base === null) break;
      if (typeof base !== 'string') {
        this.#problem(`grids.${cur}.base`, 'must be the name of another grid');
        return undefined;
      }
      if (chain.includes(base)) {
        this.#problem(`grids.${name}.base`, `base grids form a cycle: ${[...chain, base].join(' -> ')}`);
        return undefined;
      }
      if (!(base in this.#all)) {
        this.#problem(`grids.${cur}.base`, `unknown base grid '${base}' (known: ${Object.keys(this.#all).join(', ')})`);
        return undefined;
      }
      cur = base;
    }
    const conf: Raw = {};
    const from: Record<string, string> = {};
    for (const [grid, entry] of layers.reverse()) {
      for (const [k, v] of Object.entries(entry)) {
        if (k === 'base' || v === undefined || v === null) continue;
        conf[k] = v;
        from[k] = grid;
      }
    }
    // MapProxy sets `name` on every entry before merging, so a base never lends its name.
    conf.name = (this.#all[name] as Raw).name ?? name;
    from.name = name;
    return { conf, from };
  }

  #make(name: string): TileGridImpl | null {
    const merged = this.#merged(name);
    if (!merged) return null;
    const { conf, from } = merged;
    const path = (key: string) => `grids.${from[key] ?? name}.${key}`;
    const before = this.#problems.length;
    const bad = (key: string, message: string) => this.#problem(path(key), message);

    const gridName = conf.name;
    if (typeof gridName !== 'string' || gridName === '') bad('name', 'must be a non-empty string');

    let srs: Srs | undefined;
    const srsCode = conf.srs ?? 'EPSG:900913';
    if (typeof srsCode !== 'string' && typeof srsCode !== 'number') bad('srs', 'must be an SRS code such as EPSG:3857');
    else if (!this.#srs.isKnown(srsCode)) {
      bad('srs', `unknown SRS '${normalizeSrsCode(srsCode)}' (define it in globals.srs.proj4_defs)`);
    } else srs = this.#srs.get(srsCode);

    let bbox: Bbox | undefined;
    if (conf.bbox !== undefined) {
      bbox = parseBbox(conf.bbox);
      if (!bbox) bad('bbox', "must be four numbers [minx, miny, maxx, maxy] or a string 'minx,miny,maxx,maxy'");
      else if (!(bbox[0] < bbox[2] && bbox[1] < bbox[3])) {
        bad('bbox', `minx must be less than maxx and miny less than maxy, got ${bbox.join(',')}`);
        bbox = undefined;
      }
    } else if (srs && !defaultBbox(srs)) {
      bad('bbox', `is required for a grid in ${srs.code} (only EPSG:4326, EPSG:900913, EPSG:3857, EPSG:102100 and EPSG:102113 have a default bbox)`);
    }

    let bboxSrs: Srs | undefined;
    if (conf.bbox_srs !== undefined) {
      const code = conf.bbox_srs;
      if (typeof code !== 'string' && typeof code !== 'number') bad('bbox_srs', 'must be an SRS code such as EPSG:4326');
      else if (!this.#srs.isKnown(code)) bad('bbox_srs', `unknown SRS '${normalizeSrsCode(code)}' (define it in globals.srs.proj4_defs)`);
      else if (conf.bbox === undefined) bad('bbox_srs', 'is set but bbox is not');
      else bboxSrs = this.#srs.get(code);
    }

    const tileSize = this.#tileSize(conf.tile_size, path('tile_size'));
    const res = numberList(conf.res);
    if (conf.res !== undefined && (!res || res.length === 0)) bad('res', 'must be a non-empty list of positive numbers');
    if (res && res.length > 0) {
      for (const key of ['min_res', 'max_res', 'align_resolutions_with']) {
        if (conf[key] !== undefined) bad('res', `cannot be combined with ${key}`);
      }
    }

    let resFactor: ResFactor | undefined;
    if (conf.res_factor !== undefined) {
      const f = conf.res_factor;
      if (f === 'sqrt2' || (typeof f === 'number' && Number.isFinite(f) && f > 1)) resFactor = f;
      else bad('res_factor', "must be a number greater than 1 or 'sqrt2'");
    }
    const numLevels = conf.num_levels;
    if (numLevels !== undefined && !(typeof numLevels === 'number' && Number.isInteger(numLevels) && numLevels >= 1)) {
      bad('num_levels', 'must be an integer of at least 1');
    }
    const minRes = this.#positive(conf, 'min_res', path);
    const maxRes = this.#positive(conf, 'max_res', path);
    if (minRes !== undefined && maxRes !== undefined && maxRes >= minRes) {
      bad('max_res', `must be smaller than min_res (${minRes}), got ${maxRes}`);
    }
    if (maxRes !== undefined && numLevels === 1 && !(res && res.length > 0)) {
      bad('num_levels', 'must be at least 2 when max_res is set (levels are spaced from min_res to max_res)');
    }
    const thresholdRes = numberList(conf.threshold_res);
    if (conf.threshold_res !== undefined && !thresholdRes) bad('threshold_res', 'must be a list of positive numbers');
    const stretchFactor = this.#positive(conf, 'stretch_factor', path) ?? this.#globals.stretchFactor ?? 1.15;
    const maxShrinkFactor = this.#positive(conf, 'max_shrink_factor', path) ?? this.#globals.maxShrinkFactor ?? 4.0;

    let origin: string | undefined;
    if (conf.origin !== undefined) {
      if (typeof conf.origin !== 'string' || !['ll', 'sw', 'ul', 'nw'].includes(conf.origin.toLowerCase())) {
        bad('origin', `must be one of ll, sw, ul, nw, got ${JSON.stringify(conf.origin)}`);
      } else origin = conf.origin;
    }

    let alignWith: TileGridImpl | undefined;
    const align = conf.align_resolutions_with;
    if (align !== undefined && !(res && res.length > 0)) {
      if (typeof align !== 'string') bad('align_resolutions_with', 'must be the name of another grid');
      else if (!(align in this.#all)) bad('align_resolutions_with', `unknown grid '${align}'`);
      else if (this.#building.includes(align)) {
        bad('align_resolutions_with', `grids align with each other in a cycle: ${[...this.#building, align].join(' -> ')}`);
      } else {
        const other = this.#grid(align);
        if (!other) bad('align_resolutions_with', `grid '${align}' is invalid`);
        else alignWith = other;
      }
    }

    if (this.#problems.length > before || !srs) return null;
    try {
      const spec: TileGridSpec = {
        name: gridName as string,
        srs,
        bbox,
        bboxSrs,
        tileSize,
        res,
        resFactor,
        numLevels: numLevels as number | undefined,
        minRes,
        maxRes,
        thresholdRes,
        stretchFactor,
        maxShrinkFactor,
        alignWith,
        origin: origin === undefined ? undefined : parseOrigin(origin),
      };
      const grid = createTileGrid(spec);
      if (alignWith && grid.levels < 2) {
        bad('align_resolutions_with', alignMessage(align as string));
        return null;
      }
      return grid;
    } catch (err) {
      if (err instanceof TransformationError) {
        bad('bbox_srs', err.message);
        return null;
      }
      if (alignWith && err instanceof RangeError) {
        bad('align_resolutions_with', alignMessage(align as string));
        return null;
      }
      throw err;
    }
  }

  #tileSize(value: unknown, path: string): Size {
    if (value === undefined) {
      const g = this.#globals.tileSize;
      return g ? [g[0], g[1]] : [256, 256];
    }
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)) {
      return [value[0] as number, value[1] as number];
    }
    this.#problem(path, 'must be two positive integers [width, height]');
    return [256, 256];
  }

  #positive(conf: Raw, key: string, path: (key: string) => string): number | undefined {
    const v = conf[key];
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
    this.#problem(path(key), 'must be a positive number');
    return undefined;
  }
}

function numberList(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) return undefined;
  return value as number[];
}

function alignMessage(other: string): string {
  return `keeps fewer than 2 resolutions of grid '${other}' (check min_res, max_res and num_levels)`;
}
