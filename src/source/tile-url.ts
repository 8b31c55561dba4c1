/**
 * Tile URL templates of tile sources: Python `%(name)s` placeholders for `x y z format quadkey
 * tc_path tms_path arcgiscache_path bbox`, with the path helpers of MapProxy's tile client
 * (REFERENCE §2.6: the same formulas as the file cache layouts).
 */
import { ConfigError } from '../errors.js';
import type { Bbox, TileCoord } from '../grid/types.js';
import { arcgisCachePath, quadkey, tcPath, tmsPath } from '../grid/tile-paths.js';

export { arcgisCachePath, quadkey, tcPath, tmsPath };

/** The names a template may use. */
export const TEMPLATE_VARS = ['x', 'y', 'z', 'format', 'quadkey', 'tc_path', 'tms_path', 'arcgiscache_path', 'bbox'] as const;
type TemplateVar = (typeof TEMPLATE_VARS)[number];

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
          return arcgisCachePath(coord);
        case 'bbox':
          if (!bbox) throw new Error('tile URL template uses %(bbox)s but no bbox was given');
          return bboxParam(bbox);
      }
      return all;
    });
  }
}
