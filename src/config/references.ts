/**
 * Checks across sections, after the shape checks: every name a layer, cache, grid or tile source
 * refers to exists (with a "did you mean"), layer names are unique, and MapProxy's rules that span
 * several keys hold (meta tiling with tile sources, `res` with `min_res`, one `directory` for
 * several grids, …). Values of the wrong type are skipped here: the schema pass reports them.
 */
import type { ConfigProblem } from '../errors.js';
import { DEFAULT_GRID_NAMES, DEFAULTS, SRS_WITH_DEFAULT_BBOX } from './defaults.js';
import { CACHE_AS_CACHE_SOURCE, TAGGED_SOURCES } from './support.js';
import { didYouMean, formatPath, isPlainObject, type PathSegment } from './util.js';
import { isKnownSrs, normalizeSrsCode } from '../grid/index.js';
import { tryParseImageFormat } from '../image/index.js';

type Dict = Record<string, unknown>;

const dict = (v: unknown): Dict => (isPlainObject(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Items of a list that are strings, with their index. */
function names(list: unknown): Array<[string, number]> {
  return Array.isArray(list) ? list.flatMap((v, i): Array<[string, number]> => (typeof v === 'string' ? [[v, i]] : [])) : [];
}

/** Source types whose images can be requested in any size (MapProxy: `supports_meta_tiles`). */
const META_TILE_SOURCE_TYPES = new Set(['wms', 'mapserver', 'mapnik', 'arcgis', 'ogcapimaps']);
/** Source types only available as tiles: a layer cannot use them without a cache. */
const TILED_SOURCE_TYPES = new Set(['tile', 'ogcapitiles']);

class Checker {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];
  readonly sources: Dict;
  readonly caches: Dict;
  readonly grids: Dict;
  readonly gridNames: string[];
  readonly globals: Dict;

  constructor(readonly data: Dict) {
    this.sources = dict(data.sources);
    this.caches = dict(data.caches);
    this.grids = dict(data.grids);
    this.globals = dict(data.globals);
    this.gridNames = [...DEFAULT_GRID_NAMES.filter((g) => !Object.hasOwn(this.grids, g)), ...Object.keys(this.grids)];
  }

  error(segs: PathSegment[], message: string): void {
    this.problems.push({ path: formatPath(segs), message });
  }

  warn(segs: PathSegment[], message: string): void {
    this.warnings.push({ path: formatPath(segs), message });
  }

  isGrid(name: string): boolean {
    return DEFAULT_GRID_NAMES.includes(name) || Object.hasOwn(this.grids, name);
  }

  checkGridRef(segs: PathSegment[], value: unknown): void {
    const name = str(value);
    if (name !== undefined && !this.isGrid(name)) this.error(segs, `unknown grid "${name}"${didYouMean(name, this.gridNames)}`);
  }

  sourceType(name: string): string | undefined {
    return str(dict(this.sources[name]).type);
  }

  /** `wms1:l1,l2` → `wms1` when the part before the colon is a source. */
  taggedSource(name: string): string | undefined {
    const idx = name.indexOf(':');
    if (idx < 0) return undefined;
    const base = name.slice(0, idx);
    return Object.hasOwn(this.sources, base) ? base : undefined;
  }

  checkCoverage(segs: PathSegment[], cov: unknown): void {
    const c = dict(cov);
    if (c.bbox !== undefined && c.srs === undefined && c.bbox_srs === undefined) {
      this.error(segs, 'a coverage with a bbox needs srs (or bbox_srs)');
    }
    this.checkSrs([...segs, 'srs'], c.srs);
    this.checkSrs([...segs, 'bbox_srs'], c.bbox_srs);
  }

  /** An SRS code must be built in or defined in `globals.srs.proj4_defs`. */
  checkSrs(segs: PathSegment[], value: unknown): void {
    if (typeof value !== 'string' && typeof value !== 'number') return;
    if (isKnownSrs(value)) return;
    const userCodes = Object.keys(dict(dict(this.globals.srs).proj4_defs)).map((c) => normalizeSrsCode(c));
    const norm = normalizeSrsCode(value);
    if (!userCodes.includes(norm)) {
      this.error(segs, `unknown SRS "${value}": not built in; define it in globals.srs.proj4_defs`);
    }
  }

  /** An image format name must be one mapproxy-ts can read and write. */
  checkFormat(segs: PathSegment[], value: unknown, allowMixed = false): void {
    if (typeof value !== 'string') return;
    if (allowMixed && value === 'mixed') return;
    if (Object.hasOwn(dict(dict(this.globals.image).formats), value)) {
      // MapProxy: a name of globals.image.formats stands for its options; that section is refused.
      if (tryParseImageFormat(value) === null) this.error(segs, `not supported yet: image format "${value}" of globals.image.formats`);
      return;
    }
    if (tryParseImageFormat(value) === null) {
      this.error(segs, `unknown image format "${value}" (expected image/png, image/jpeg, image/gif, image/tiff${allowMixed ? ' or mixed' : ''})`);
    }
  }

  /** The grid's keys with those of its `base` chain underneath (MapProxy copies the base's conf). */
  effectiveGrid(name: string, seen: string[] = []): Dict | undefined {
    const own = dict(this.grids[name]);
    const base = str(own.base);
    if (base === undefined || !this.isGrid(base)) return own;
    if (seen.includes(base) || base === name) return undefined;
    if (!Object.hasOwn(this.grids, base)) return { ...own };
    const inherited = this.effectiveGrid(base, [...seen, name]);
    return inherited === undefined ? undefined : { ...inherited, ...own };
  }

  checkGrids(): void {
    for (const [name, raw] of Object.entries(this.grids)) {
      const g = dict(raw);
      this.checkGridRef(['grids', name, 'base'], g.base);
      this.checkGridRef(['grids', name, 'align_resolutions_with'], g.align_resolutions_with);
      const eff = this.effectiveGrid(name);
      if (eff === undefined) {
        this.error(['grids', name, 'base'], `the base grids form a cycle (${this.baseChain(name).join(' -> ')})`);
        continue;
      }
      if (eff.res !== undefined) {
        const clash = ['min_res', 'max_res', 'align_resolutions_with'].filter((k) => eff[k] !== undefined);
        if (clash.length > 0) this.error(['grids', name, 'res'], `res cannot be combined with ${clash.join(', ')}`);
      }
      this.checkSrs(['grids', name, 'srs'], g.srs);
      this.checkSrs(['grids', name, 'bbox_srs'], g.bbox_srs);
      const srs = (str(eff.srs) ?? DEFAULTS.gridSrs).toUpperCase();
      if (eff.bbox === undefined && !SRS_WITH_DEFAULT_BBOX.includes(srs)) {
        this.error(['grids', name], `a grid in ${srs} needs a bbox (only EPSG:4326 and the web mercator SRS have a default)`);
      }
    }
  }

  baseChain(name: string): string[] {
    const chain = [name];
    let cur = str(dict(this.grids[name]).base);
    while (cur !== undefined && !chain.includes(cur)) {
      chain.push(cur);
      cur = str(dict(this.grids[cur]).base);
    }
    return cur === undefined ? chain : [...chain, cur];
  }

  checkSources(): void {
    for (const [name, raw] of Object.entries(this.sources)) {
      const s = dict(raw);
      if (s.type === 'tile') {
        this.checkGridRef(['sources', name, 'grid'], s.grid);
        // MapProxy logs this when it builds the source: its default will change with 2.0.
        if (s.grid === undefined) this.warn(['sources', name], 'no grid: defaults to GLOBAL_MERCATOR (set grid; MapProxy 2.0 changes the default)');
      }
      if (s.coverage !== undefined) this.checkCoverage(['sources', name, 'coverage'], s.coverage);
      if (Array.isArray(s.supported_srs)) s.supported_srs.forEach((v, i) => this.checkSrs(['sources', name, 'supported_srs', i], v));
      if (Array.isArray(s.supported_formats)) s.supported_formats.forEach((v, i) => this.checkFormat(['sources', name, 'supported_formats', i], v));
      this.checkFormat(['sources', name, 'req', 'format'], dict(s.req).format);
      for (const key of Object.keys(dict(s.on_error))) {
        if (key !== 'other' && !/^[1-5]\d\d$/.test(key)) {
          this.error(['sources', name, 'on_error', key], 'expected an HTTP status code (100-599) or "other" as key');
        }
      }
    }
  }

  checkCaches(): void {
    const gCache = dict(this.globals.cache);
    for (const [name, raw] of Object.entries(this.caches)) {
      const c = dict(raw);
      const backend = dict(c.cache);
      const grids = Array.isArray(c.grids) ? c.grids : DEFAULTS.cacheGrids;
      for (const [g, i] of names(c.grids)) this.checkGridRef(['caches', name, 'grids', i], g);
      const kinds = new Map<string, string>();
      for (const [src, i] of names(c.sources)) {
        const segs = ['caches', name, 'sources', i];
        if (Object.hasOwn(this.sources, src)) kinds.set(src, this.sourceType(src) ?? '');
        else if (Object.hasOwn(this.caches, src)) {
          if (!CACHE_AS_CACHE_SOURCE) this.error(segs, `not supported yet: a cache ("${src}") as the source of another cache`);
        } else if (this.taggedSource(src) !== undefined) {
          if (!TAGGED_SOURCES) this.error(segs, `not supported yet: tagged source "${src}"`);
        } else {
          const candidates = [...Object.keys(this.sources), ...Object.keys(this.caches)];
          this.error(segs, `unknown source "${src}"${didYouMean(src, candidates)}`);
        }
      }
      this.checkMetaTiling(name, c, gCache, kinds);
      if (str(backend.directory) !== undefined) {
        if (grids.length > 1) {
          this.error(['caches', name, 'cache', 'directory'], `one directory cannot hold several grids (${grids.join(', ')}): remove directory or use one grid`);
        }
        if (c.cache_dir !== undefined) this.warn(['caches', name, 'cache_dir'], 'ignored: cache.directory is set');
      }
      this.checkFormat(['caches', name, 'format'], c.format, true);
      this.checkFormat(['caches', name, 'request_format'], c.request_format);
      // MapProxy 1.15: "request_format must be set to image/png if mixed mode is enabled".
      if (c.format === 'mixed' && c.request_format !== 'image/png') {
        this.error(['caches', name, 'request_format'], 'format mixed needs request_format image/png');
      }
      if (backend.coverage !== undefined) this.checkCoverage(['caches', name, 'cache', 'coverage'], backend.coverage);
    }
  }

  /** MapProxy: meta tiling needs every source to take arbitrary requests; mixing is an error. */
  checkMetaTiling(name: string, c: Dict, gCache: Dict, kinds: Map<string, string>): void {
    const metaSize = c.meta_size ?? gCache.meta_size ?? DEFAULTS.metaSize;
    const metaBuffer = c.meta_buffer ?? gCache.meta_buffer ?? DEFAULTS.metaBuffer;
    const single = Array.isArray(metaSize) && metaSize.length === 2 && metaSize[0] === 1 && metaSize[1] === 1;
    if (!metaBuffer && single) return;
    const meta = [...kinds].filter(([, t]) => META_TILE_SOURCE_TYPES.has(t)).map(([s]) => s);
    const tiled = [...kinds].filter(([, t]) => !META_TILE_SOURCE_TYPES.has(t) && t !== '').map(([s]) => s);
    if (meta.length === 0 || tiled.length === 0) return;
    this.error(
      ['caches', name, 'sources'],
      `meta tiling (meta_size ${JSON.stringify(metaSize)}, meta_buffer ${String(metaBuffer)}) needs sources that take any request, ` +
        `but ${tiled.map((s) => `"${s}"`).join(', ')} cannot be mixed with ${meta.map((s) => `"${s}"`).join(', ')}: ` +
        'set meta_size [1, 1] and meta_buffer 0, or use separate caches',
    );
  }

  checkLayers(): void {
    const seen = new Map<string, string>();
    const visit = (list: unknown, segs: PathSegment[]): void => {
      if (!Array.isArray(list)) return;
      list.forEach((raw, i) => {
        const at = [...segs, i];
        const layer = dict(raw);
        const name = str(layer.name);
        if (name !== undefined) {
          const first = seen.get(name);
          if (first !== undefined) this.error([...at, 'name'], `layer name "${name}" is used twice (first at ${first})`);
          else seen.set(name, formatPath([...at, 'name']));
        }
        for (const [src, j] of names(layer.sources)) this.checkLayerSource([...at, 'sources', j], src);
        for (const [src, j] of names(layer.tile_sources)) {
          if (!Object.hasOwn(this.caches, src)) {
            this.error([...at, 'tile_sources', j], `unknown cache "${src}"${didYouMean(src, Object.keys(this.caches))}`);
          }
        }
        if (isPlainObject(raw) && layer.sources === undefined && layer.tile_sources === undefined && layer.layers === undefined) {
          this.warn(at, `layer${name === undefined ? '' : ` "${name}"`} has no sources, tile_sources or layers`);
        }
        visit(layer.layers, [...at, 'layers']);
      });
    };
    visit(this.data.layers, ['layers']);
  }

  checkLayerSource(segs: PathSegment[], src: string): void {
    if (Object.hasOwn(this.caches, src)) return;
    if (Object.hasOwn(this.sources, src)) {
      const type = this.sourceType(src) ?? '';
      if (TILED_SOURCE_TYPES.has(type)) {
        this.error(segs, `the ${type} source "${src}" only serves tiles: use it through a cache`);
      }
      return;
    }
    if (this.taggedSource(src) !== undefined) {
      if (!TAGGED_SOURCES) this.error(segs, `not supported yet: tagged source "${src}"`);
      return;
    }
    const candidates = [...Object.keys(this.caches), ...Object.keys(this.sources)];
    this.error(segs, `unknown cache or source "${src}"${didYouMean(src, candidates)}`);
  }

  checkSections(): void {
    if (!Array.isArray(this.data.layers) || this.data.layers.length === 0) this.warn(['layers'], 'no layers configured');
    if (Object.keys(dict(this.data.services)).length === 0) this.warn(['services'], 'no services configured');
  }
}

/** Reference and cross-key checks of a prepared configuration. */
export function checkReferences(data: Dict, opts: { layersReported?: boolean } = {}): {
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
} {
  const c = new Checker(data);
  c.checkGrids();
  c.checkSources();
  c.checkCaches();
  c.checkLayers();
  if (!opts.layersReported) c.checkSections();
  return { problems: c.problems, warnings: c.warnings };
}
