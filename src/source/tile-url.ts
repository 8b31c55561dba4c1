/**
 * Tile URL templates of tile sources: Python `%(name)s` placeholders for `x y z format quadkey
 * tc_path tms_path arcgiscache_path bbox`, with the path helpers of MapProxy's tile client
 * (REFERENCE §2.6: the same formulas as the file cache layouts).
 */
import { ConfigError } from '../errors.js';
import type { Bbox, TileCoord } from '../grid/types.js';

/** The names a template may use. */
export const TEMPLATE_VARS = ['x', 'y', 'z', 'format', 'quadkey', 'tc_path', 'tms_path', 'arcgiscache_path', 'bbox'] as const;
type TemplateVar = (typeof TEMPLATE_VARS)[number];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** `%02d(z)/%03d(x/1e6)/…/%03d(y%1000)`, no extension: `09/001/234/567/087/654/321`. */
export function tcPath([x, y, z]: TileCoord): string {
  const t = Math.trunc;
  return [pad(z, 2), pad(t(x / 1e6), 3), pad(t(x / 1000) % 1000, 3), pad(x % 1000, 3), pad(t(y / 1e6), 3), pad(t(y / 1000) % 1000, 3), pad(y % 1000, 3)].join('/');
}

/** `z/x/y`. */
export function tmsPath([x, y, z]: TileCoord): string {
  return `${z}/${x}/${y}`;
}

/** `L%02d/R%08x/C%08x` with lower-case hex: `L09/R05397fb1/C0012d687`. */
export function arcgiscachePath([x, y, z]: TileCoord): string {
  return `L${pad(z, 2)}/R${y.toString(16).padStart(8, '0')}/C${x.toString(16).padStart(8, '0')}`;
}

/** Bing-style quadkey: for bit i from z-1 down to 0, x adds 1 and y adds 2. */
export function quadkey([x, y, z]: TileCoord): string {
  let key = '';
  for (let i = z; i > 0; i--) {
    const mask = 1 << (i - 1);
    key += String((x & mask ? 1 : 0) + (y & mask ? 2 : 0));
  }
  return key;
}

/** `%.8f,%.8f,%.8f,%.8f`. */
export function bboxParam(bbox: Bbox): string {
  return bbox.map((v) => v.toFixed(8)).join(',');
}

const PLACEHOLDER = /%%|%\((\w+)\)([sd])/g;

/** A parsed tile URL template. */
export class TileUrlTemplate {
  readonly template: string;
  /** The template up to the first placeholder (the part no tile can change). */
  readonly fixedPrefix: string;
  readonly #uses: ReadonlySet<TemplateVar>;

  /** Throws ConfigError (at `path`) for an unknown placeholder. */
  constructor(template: string, path: string) {
    this.template = template;
    const uses = new Set<TemplateVar>();
    let first = -1;
    for (const m of template.matchAll(PLACEHOLDER)) {
      if (m[0] === '%%') continue;
      if (first < 0) first = m.index ?? 0;
      if (!(TEMPLATE_VARS as readonly string[]).includes(m[1])) {
        throw new ConfigError([{ path, message: `unknown placeholder %(${m[1]})${m[2]} in tile URL; known: ${TEMPLATE_VARS.map((v) => `%(${v})s`).join(' ')}` }]);
      }
      uses.add(m[1] as TemplateVar);
    }
    this.#uses = uses;
    this.fixedPrefix = (first < 0 ? template : template.slice(0, first)).replace(/%%/g, '%');
  }

  /** Whether the template uses `name`. */
  uses(name: TemplateVar): boolean {
    return this.#uses.has(name);
  }

  /** Fill in a tile; `bbox` is needed only when the template uses `%(bbox)s`. */
  substitute(coord: TileCoord, format: string, bbox?: Bbox): string {
    return this.template.replace(PLACEHOLDER, (all, name: string) => {
      if (all === '%%') return '%';
      switch (name as TemplateVar) {
        case 'x':
          return String(coord[0]);
        case 'y':
          return String(coord[1]);
        case 'z':
          return String(coord[2]);
        case 'format':
          return format;
        case 'quadkey':
          return quadkey(coord);
        case 'tc_path':
          return tcPath(coord);
        case 'tms_path':
          return tmsPath(coord);
        case 'arcgiscache_path':
          return arcgiscachePath(coord);
        case 'bbox':
          if (!bbox) throw new Error('tile URL template uses %(bbox)s but no bbox was given');
          return bboxParam(bbox);
      }
      return all;
    });
  }
}
