/**
 * Build: turns a validated mapproxy.yaml into runtime objects — grids, sources, one TileManager
 * per (cache, grid), the tile layers the services offer, and the service options. Everything that
 * can be computed once (paths, grids, image options) is computed here, never per request.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { Bbox, TileGrid } from '../grid/types.js';
import type { ImageOptions, Resampling } from '../image/types.js';
import type { Source } from '../source/types.js';
import type { TileLayer, TileResult } from '../service/types.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { SrsRegistry, buildGrids, metaGrid } from '../grid/index.js';
import { parseImageFormat } from '../image/index.js';
import { createSource, type SourceContext } from '../source/index.js';
import { FileTileStorage } from '../cache/storage/file.js';
import { DEFAULT_MEMORY_TIER, MemoryTier } from '../cache/storage/memory-tier.js';
import { OpenFiles, descriptorLimit, openFilesWithin } from '../cache/storage/open-files.js';
import { blockingReadsRisk } from '../cache/storage/file-system.js';
import { getLogger } from '../log/index.js';
import { TileManager } from '../cache/tile-manager.js';
import { CacheSource } from '../cache/cache-source.js';
import { DEFAULTS } from './defaults.js';
import { refreshBefore } from '../cache/refresh.js';
import { cacheExtent, cacheSourceExtent } from './extent.js';
import type { MapProxyConfig } from './schema.js';

/** One cache: a TileManager per grid, keyed by grid name. */
export interface BuiltCache {
  readonly name: string;
  readonly managers: ReadonlyMap<string, TileManager>;
}

/** Options of the TMS and /tiles services. */
export interface TmsOptions {
  readonly useGridNames: boolean;
  readonly origin?: 'sw' | 'nw';
  readonly md: Record<string, unknown>;
}

/** Options of the WMTS service. */
export interface WmtsOptions {
  readonly kvp: boolean;
  readonly restful: boolean;
  readonly restfulTemplate?: string;
  readonly md: Record<string, unknown>;
}

/** Everything a request handler needs, built from one configuration. */
export interface BuiltConfig {
  readonly file: string | undefined;
  readonly dir: string;
  readonly grids: ReadonlyMap<string, TileGrid>;
  /** This configuration's SRSs (`globals.srs`): resolve request codes here, not globally. */
  readonly srs: SrsRegistry;
  readonly sources: ReadonlyMap<string, Source>;
  readonly caches: ReadonlyMap<string, BuiltCache>;
  readonly tileLayers: readonly TileLayer[];
  readonly services: { readonly tms?: TmsOptions; readonly wmts?: WmtsOptions };
  readonly accessControlAllowOrigin: string;
  /** Cache-Control max-age of tiles, seconds. */
  readonly tileMaxAge: number;
  /** `globals.tiles.x_cache_header` (ours; default true): tiles say `X-Cache: HIT|MISS`. */
  readonly xCacheHeader: boolean;
  /** The memory tier shared by this configuration's file caches (null when off). */
  readonly memoryTier: MemoryTier | null;
  /** Open-file level of the hit path (`memory_tier.open_files`); null when 0. */
  readonly openFiles: OpenFiles | null;
  /** Release sockets and timers of every source. */
  close(): Promise<void>;
}

type Dict = Record<string, unknown>;
const asDict = (v: unknown): Dict => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Dict) : {});

/** How long (ms) a dead lock holder may keep a meta tile blocked before its lock is taken over. */
export const LOCK_STALE_MS = 10_000;

/** Run `fn`; a ConfigError's problems go to `problems` and the result is undefined. */
function collect<T>(problems: ConfigProblem[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}

function resolvePath(dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}

function octal(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  return parseInt(String(v), 8);
}

/** `name` → the directory a file cache uses for one grid (REFERENCE.md §2.6). */
function cacheDirectory(name: string, cache: Dict, grid: TileGrid, baseDir: string, dir: string): string {
  const c = asDict(cache.cache);
  if (typeof c.directory === 'string') return resolvePath(dir, c.directory);
  const root = typeof cache.cache_dir === 'string' ? resolvePath(dir, cache.cache_dir) : baseDir;
  // MapProxy: the grid's `name` (its key unless `name:` is set), as in WMTS and TMS URLs.
  if (c.use_grid_names === true) return join(root, name, grid.name);
  return join(root, `${name}_${grid.srs.code.replace(':', '')}`);
}

/**
 * `globals.cache.memory_tier` defaults: no tile bytes in memory, 4096 tile files kept open per
 * process. The kernel's page cache is the memory tier every worker shares; a per-process tier keeps
 * one copy per worker. On the rig (2 workers, 2720 uniformly random tiles, wrk -t2 -c32) open files
 * alone served 23.7k req/s at 93 MiB worker peak RSS, a 32 MiB tier alone 10.9k at 164 MiB, and
 * both 15.6k at 173 MiB (a tier smaller than the working set churns: every read replaces a tile).
 */
const DEFAULT_TIER_MB = 0;
const DEFAULT_OPEN_FILES = 4096;

/**
 * `blocking_reads: true` for cache `name` in `directory`, said once per cache when the directory
 * is on a network file system (or one statfs cannot tell): a read there may wait on a server.
 */
function warnBlockingReads(name: string, directory: string, told: Set<string>, warn: (w: ConfigProblem) => void): void {
  if (told.has(name)) return;
  told.add(name);
  const risk = blockingReadsRisk(directory);
  if (risk === undefined) return;
  warn({
    path: 'globals.cache.memory_tier.blocking_reads',
    message: `cache ${name} is in ${directory}, ${risk === 'unknown' ? 'on a file system statfs cannot tell' : `on ${risk}`}: a tile read waits for the disk or server there and stops the worker's other requests meanwhile`,
  });
}

/** Where build warnings go by default: one `mapproxy.config` log line each, led by the path. */
const logWarning = (w: ConfigProblem): void => getLogger('mapproxy.config').warn(`${w.path}: ${w.message}`);

/**
 * Build runtime objects from a validated configuration. Throws ConfigError on semantic problems.
 * Warnings that depend on the machine (descriptor limit, file system of a cache) go to `warn`
 * (default: the `mapproxy.config` logger).
 */
export function buildConfig(config: MapProxyConfig, opts: { dir: string; file?: string; warn?: (w: ConfigProblem) => void }): BuiltConfig {
  const conf = config as unknown as Dict;
  const dir = opts.dir;
  const warn = opts.warn ?? logWarning;
  const globals = asDict(conf.globals);
  const gCache = asDict(globals.cache);
  // One tier for all file caches of this configuration: the bound is per process and app.
  const tierConf = asDict(gCache.memory_tier);
  const tierMb = typeof tierConf.max_mb === 'number' ? tierConf.max_mb : DEFAULT_TIER_MB;
  const tierRevalidate = typeof tierConf.revalidate_seconds === 'number' ? tierConf.revalidate_seconds * 1000 : DEFAULT_MEMORY_TIER.revalidateMs;
  const memoryTier = tierMb > 0 ? new MemoryTier({ maxBytes: Math.round(tierMb * 1048576), revalidateMs: tierRevalidate }) : null;
  const openFilesAsked = typeof tierConf.open_files === 'number' ? tierConf.open_files : DEFAULT_OPEN_FILES;
  const fdLimit = openFilesAsked > 0 ? descriptorLimit() : null;
  const openFilesMax = openFilesWithin(openFilesAsked, fdLimit);
  if (openFilesMax < openFilesAsked) {
    warn({
      path: 'globals.cache.memory_tier.open_files',
      message: `keeping ${openFilesMax} tile files open, not ${openFilesAsked}: the process may open ${fdLimit} files (raise LimitNOFILE / ulimit -n)`,
    });
  }
  const openFiles = openFilesMax > 0 ? new OpenFiles({ max: openFilesMax, revalidateMs: tierRevalidate }) : null;
  // Off by default: no synchronous file system call on the hit path (ARCHITECTURE.md). The
  // storage decides whether it applies (open files, no memory tier).
  const blockingReads = tierConf.blocking_reads === true;
  const toldRisk = new Set<string>();
  const gImage = asDict(globals.image);
  const gHttp = asDict(globals.http);
  const gSrs = asDict(globals.srs);
  const problems: ConfigProblem[] = [];

  // This configuration's SRSs: its grids, sources and caches resolve codes here, and each SRS
  // keeps this configuration's axis order for the requests it serves later.
  const srs = new SrsRegistry({
    proj4Defs: Object.fromEntries(Object.entries(asDict(gSrs.proj4_defs)).map(([code, def]) => [code, String(def)])),
    axisOrderNE: (gSrs.axis_order_ne as string[] | undefined) ?? [],
    axisOrderEN: (gSrs.axis_order_en as string[] | undefined) ?? [],
  });

  const tileSize = (asDict(globals.grid).tile_size as [number, number] | undefined) ?? DEFAULTS.tileSize;
  // buildGrids reports every grid problem at once; sources and caches then collect theirs, so
  // one run of check-config names as many problems as it can.
  const grids = buildGrids(asDict(conf.grids) as never, {
    tileSize,
    stretchFactor: (gImage.stretch_factor as number | undefined) ?? DEFAULTS.stretchFactor,
    maxShrinkFactor: (gImage.max_shrink_factor as number | undefined) ?? DEFAULTS.maxShrinkFactor,
    srs,
  });

  const baseDir = resolvePath(dir, (gCache.base_dir as string | undefined) ?? DEFAULTS.baseDir);
  const lockDir = resolvePath(dir, (gCache.lock_dir as string | undefined) ?? DEFAULTS.lockDir);
  const clientTimeout = (gHttp.client_timeout as number | undefined) ?? DEFAULTS.clientTimeout;
  const paletted = (gImage.paletted as boolean | undefined) ?? true;
  const resampling = ((gImage.resampling_method as string | undefined) ?? DEFAULTS.resampling) as Resampling;
  const jpegQuality = (gImage.jpeg_quality as number | undefined) ?? DEFAULTS.jpegQuality;

  const sourceCtx: SourceContext = { globals: globals as never, lockDir, grids, configDir: dir, srs };
  const sources = new Map<string, Source>();
  for (const [name, sconf] of Object.entries(asDict(conf.sources))) {
    const source = collect(problems, () => createSource(name, sconf as never, sourceCtx));
    if (source) sources.set(name, source);
  }
  if (problems.length > 0) {
    // Caches of a source that failed would only report it as unknown.
    void Promise.all([...sources.values()].map((s) => s.close?.()));
    throw new ConfigError(problems, opts.file);
  }

  const cachesConf = asDict(conf.caches);
  const caches = new Map<string, BuiltCache>();
  const building = new Set<string>();

  const buildCache = (name: string): BuiltCache => {
    const done = caches.get(name);
    if (done) return done;
    if (building.has(name)) throw new ConfigError([{ path: `caches.${name}.sources`, message: 'caches refer to each other in a cycle' }]);
    building.add(name);
    const cache = asDict(cachesConf[name]);
    const gridNames = (cache.grids as string[] | undefined) ?? ['GLOBAL_MERCATOR'];
    const format = parseImageFormat(String(cache.format ?? 'image/png'));
    const requestFormat = cache.request_format
      ? parseImageFormat(String(cache.request_format)).mime
      : format.mime === 'mixed' ? 'image/png' : format.mime;
    const img = asDict(cache.image);
    const enc = asDict(img.encoding_options);
    const cacheConf = asDict(cache.cache);
    const metaSize = (cache.meta_size as [number, number] | undefined) ?? (gCache.meta_size as [number, number] | undefined) ?? DEFAULTS.metaSize;
    const metaBuffer = (cache.meta_buffer as number | undefined) ?? (gCache.meta_buffer as number | undefined) ?? DEFAULTS.metaBuffer;
    const bulk = (cache.bulk_meta_tiles as boolean | undefined) ?? (gCache.bulk_meta_tiles as boolean | undefined) ?? false;
    const disableStorage = cache.disable_storage === true;
    const linkSingle = cache.link_single_color_images ?? gCache.link_single_color_images ?? false;
    const refresh = cache.refresh_before ? collect(problems, () => refreshBefore(asDict(cache.refresh_before), dir, `caches.${name}.refresh_before`)) : undefined;
    const managers = new Map<string, TileManager>();

    for (const [gi, gridName] of gridNames.entries()) {
      const grid = grids.get(gridName);
      if (!grid) {
        problems.push({ path: `caches.${name}.grids[${gi}]`, message: `unknown grid "${gridName}"` });
        continue;
      }
      // In config order: a source, or the TileManager of a cache used as a source.
      const picked: Array<Source | { cache: string; tm: TileManager }> = [];
      for (const [si, sname] of ((cache.sources as string[] | undefined) ?? []).entries()) {
        const s = sources.get(sname);
        if (s) {
          picked.push(s);
          continue;
        }
        if (cachesConf[sname] !== undefined) {
          const other = buildCache(sname);
          const tm = [...other.managers.values()].find((m) => grid.isSubsetOf(m.grid) || m.grid === grid);
          if (!tm) {
            problems.push({
              path: `caches.${name}.sources[${si}]`,
              message: `not supported yet: cache "${sname}" as a source needs a grid of which ${gridName} is a subset (reprojection from a cache is not supported yet)`,
            });
            continue;
          }
          picked.push({ cache: sname, tm });
          continue;
        }
        problems.push({ path: `caches.${name}.sources[${si}]`, message: `unknown source or cache "${sname}"` });
      }
      // MapProxy's tiled_only: when every source is a one-grid cache of which this grid is a
      // subset, in the format this cache asks for, tiles are read one by one, unchanged.
      const tiledOnly = picked.length > 0 && picked.every((p) => 'tm' in p
        && caches.get(p.cache)?.managers.size === 1 && p.tm.options.image.format === requestFormat);
      const srcs: Source[] = picked.map((p) => {
        if (!('tm' in p)) return p;
        // MapProxy's CacheConfiguration.source: a one-grid cache brings its extent cut to the grid
        // of this cache (the one using it); a cache of several grids, its first grid's extent as
        // it is (its map_layer).
        const managers = [...(caches.get(p.cache)?.managers.values() ?? [p.tm])];
        const epsg4326 = srs.get('EPSG:4326');
        const extent = managers.length > 1
          ? cacheExtent(managers[0].grid, managers[0].options.sources, epsg4326)
          : cacheSourceExtent(cacheExtent(p.tm.grid, p.tm.options.sources, epsg4326), grid);
        return new CacheSource(p.cache, p.tm, { tiledOnly, extent });
      });
      const transparent = (img.transparent as boolean | undefined) ?? srcs.some((s) => s.transparent);
      const image: ImageOptions = {
        format: format.mime,
        mode: img.mode as ImageOptions['mode'],
        transparent,
        colors: (img.colors as number | undefined) ?? (paletted ? 256 : 0),
        jpegQuality: (enc.jpeg_quality as number | undefined) ?? jpegQuality,
        resampling: ((img.resampling_method as string | undefined) ?? resampling) as Resampling,
        bgcolor: [255, 255, 255],
      };
      const metaCapable = srcs.length > 0 && srcs.every((s) => s.supportsMetaTiles);
      const metaOn = metaBuffer > 0 || metaSize[0] !== 1 || metaSize[1] !== 1;
      const tileMode = metaCapable && metaOn ? 'meta' : bulk ? 'bulk' : 'single';
      const directory = cacheDirectory(name, cache, grid, baseDir, dir);
      const storage = disableStorage
        ? null
        : new FileTileStorage({
            directory,
            layout: (cacheConf.directory_layout as never) ?? 'tc',
            extension: format.extension,
            fileMode: octal(cacheConf.file_permissions ?? gCache.file_permissions),
            dirMode: octal(cacheConf.directory_permissions ?? gCache.directory_permissions),
            linkSingleColor: linkSingle === true || linkSingle === 'symlink' ? 'symlink' : linkSingle === 'hardlink' ? 'hardlink' : false,
            memoryTier,
            openFiles,
            blockingReads,
          });
      if (storage?.blockingReads === true) warnBlockingReads(name, directory, toldRisk, warn);
      const tileLockDir = cacheConf.tile_lock_dir
        ? resolvePath(dir, String(cacheConf.tile_lock_dir))
        : gCache.tile_lock_dir
          ? resolvePath(dir, String(gCache.tile_lock_dir))
          : typeof cacheConf.directory === 'string'
            ? join(directory, 'tile_locks')
            : join(typeof cache.cache_dir === 'string' ? resolvePath(dir, cache.cache_dir) : baseDir, 'tile_locks');
      let coverage: TileManager['options']['coverage'];
      const cov = asDict(cacheConf.coverage);
      if (Array.isArray(cov.bbox)) {
        // As for source coverages: bbox_srs wins over srs (MapProxy's load_coverage).
        const covSrs = srs.get(String(cov.bbox_srs ?? cov.srs ?? 'EPSG:4326'));
        coverage = { bbox: covSrs.transformBboxTo(grid.srs, cov.bbox as unknown as Bbox), srs: grid.srs };
      }
      managers.set(gridName, new TileManager({
        name,
        grid,
        sources: srcs,
        storage,
        image,
        requestFormat,
        tileMode,
        metaGrid: metaGrid(grid, tileMode === 'meta' ? metaSize : metaSize, tileMode === 'meta' ? metaBuffer : 0),
        minimizeMetaRequests: (cache.minimize_meta_requests as boolean | undefined) ?? (gCache.minimize_meta_requests as boolean | undefined) ?? false,
        concurrentTileCreators: (cache.concurrent_tile_creators as number | undefined) ?? (gCache.concurrent_tile_creators as number | undefined) ?? DEFAULTS.concurrentTileCreators,
        lockDir: tileLockDir,
        lockTimeoutMs: clientTimeout * 1000,
        lockStaleMs: LOCK_STALE_MS,
        isStale: refresh,
        linkSingleColor: linkSingle !== false,
        coverage,
      }));
    }
    building.delete(name);
    const built = { name, managers };
    caches.set(name, built);
    return built;
  };
  for (const name of Object.keys(cachesConf)) buildCache(name);

  const tileLayers = buildTileLayers(conf, caches, srs, problems);
  if (problems.length > 0) {
    void Promise.all([...sources.values()].map((s) => s.close?.()));
    throw new ConfigError(problems, opts.file);
  }

  const servicesConf = asDict(conf.services);
  const services: { tms?: TmsOptions; wmts?: WmtsOptions } = {};
  const wmsMd = asDict(asDict(servicesConf.wms).md);
  if ('tms' in servicesConf) {
    const t = asDict(servicesConf.tms);
    services.tms = {
      useGridNames: t.use_grid_names === true,
      origin: t.origin === 'nw' || t.origin === 'ul' ? 'nw' : t.origin === 'sw' || t.origin === 'll' ? 'sw' : undefined,
      md: { ...wmsMd, ...asDict(t.md) },
    };
  }
  if ('wmts' in servicesConf) {
    const w = asDict(servicesConf.wmts);
    // MapProxy: both are on only when neither is given; `restful: true` alone means REST only.
    const neither = (w.kvp === undefined || w.kvp === null) && (w.restful === undefined || w.restful === null);
    services.wmts = {
      kvp: neither || w.kvp === true,
      restful: neither || w.restful === true,
      restfulTemplate: typeof w.restful_template === 'string' ? w.restful_template : undefined,
      md: { ...wmsMd, ...asDict(w.md) },
    };
  }
  const expires = (asDict(globals.tiles).expires_hours as number | undefined) ?? DEFAULTS.expiresHours;
  const acao = gHttp.access_control_allow_origin;
  return {
    file: opts.file,
    dir,
    grids,
    srs,
    sources,
    caches,
    tileLayers,
    services,
    accessControlAllowOrigin: acao === undefined || acao === null ? '*' : String(acao),
    tileMaxAge: Math.round(expires * 3600),
    xCacheHeader: asDict(globals.tiles).x_cache_header !== false,
    memoryTier,
    openFiles,
    async close() {
      openFiles?.close();
      memoryTier?.clear();
      await Promise.all([...sources.values()].map((s) => s.close?.()));
    },
  };
}

interface LayerConf {
  name?: string;
  title?: string;
  sources?: string[];
  tile_sources?: string[];
  layers?: LayerConf[];
  md?: Dict;
}

/**
 * Every layer of the tree (or the legacy dict form), depth first, a layer after its children:
 * the order of MapProxy's `_flatten_layers_conf_dict`, which the tile services list them in.
 */
function flattenLayers(layers: unknown): LayerConf[] {
  const out: LayerConf[] = [];
  const walk = (l: LayerConf): void => {
    for (const c of l.layers ?? []) walk(c);
    out.push(l);
  };
  if (Array.isArray(layers)) for (const l of layers) walk(l as LayerConf);
  else for (const [name, l] of Object.entries(asDict(layers))) walk({ name, ...(l as LayerConf) });
  return out;
}

/**
 * Tile layers: a named layer with exactly one cache among its sources (debug sources and
 * feature-info-only WMS sources do not count; any other source rules the layer out), or with
 * `tile_sources` (one tile set per cache); one TileLayer per grid of the cache.
 */
function buildTileLayers(conf: Dict, caches: Map<string, BuiltCache>, srs: SrsRegistry, problems: ConfigProblem[]): TileLayer[] {
  const out: TileLayer[] = [];
  const epsg4326 = srs.get('EPSG:4326');
  for (const layer of flattenLayers(conf.layers)) {
    if (!layer.name) continue;
    let cacheNames: string[];
    if (layer.tile_sources && layer.tile_sources.length > 0) cacheNames = layer.tile_sources;
    else {
      // MapProxy ignores debug sources and feature-info-only WMS sources (wms_opts.map: false).
      // A name that is both a cache and a source means the cache here (MapProxy looks up a
      // layer's sources in the caches first).
      const sourcesConf = asDict(conf.sources);
      const counted = (layer.sources ?? []).filter((s) => {
        if (caches.has(s)) return true;
        const sc = asDict(sourcesConf[s]);
        return sc.type !== 'debug' && !(sc.type === 'wms' && asDict(sc.wms_opts).map === false);
      });
      if (counted.length !== 1 || !caches.has(counted[0])) continue;
      cacheNames = counted;
    }
    for (const cname of cacheNames) {
      const cache = caches.get(cname);
      if (!cache) {
        problems.push({ path: `layers.${layer.name}.tile_sources`, message: `unknown cache "${cname}"` });
        continue;
      }
      for (const tm of cache.managers.values()) {
        const grid = tm.grid;
        const cov = tm.options.coverage;
        const bbox: Bbox = cov ? cov.bbox : grid.bbox;
        // Without a cache coverage, MapProxy's layer extent is the union of the sources' coverages.
        const extent = cacheExtent(grid, tm.options.sources, epsg4326);
        const wgs84 = cov ? grid.srs.transformBboxTo(epsg4326, bbox) : extent.srs.transformBboxTo(epsg4326, extent.bbox);
        const format = tm.options.image.format;
        const md = asDict(layer.md);
        out.push({
          name: layer.name,
          title: layer.title ?? '',
          md: { abstract: typeof md.abstract === 'string' ? md.abstract : undefined },
          grid,
          format,
          extension: format === 'mixed' ? 'png' : (parseImageFormat(format).extension === 'jpeg' ? 'jpeg' : parseImageFormat(format).extension),
          bbox,
          wgs84Bbox: wgs84,
          getTile: (coord) => tm.getTile(coord) as Promise<TileResult>,
        });
      }
    }
  }
  return out;
}

