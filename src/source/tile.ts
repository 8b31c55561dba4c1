/**
 * The tile source (`type: tile`): one upstream tile per query, addressed by a URL template in the
 * source grid's own numbering (REFERENCE §1.3, §2.6). `file://` templates read tiles from disk, but
 * never outside the directory of the template's fixed part. Bytes are labelled by their magic
 * bytes, never by the upstream's Content-Type (§6).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, SourceError, WarningCodes } from '../errors.js';
import type { Bbox, TileCoord, TileGrid } from '../grid/types.js';
import { GridRequestError, parseOrigin } from '../grid/index.js';
import { tryParseImageFormat } from '../image/index.js';
import { getLogger } from '../log/index.js';
import {
  concurrentRequests,
  httpOptions,
  parseCoverage,
  parseOnError,
  parseResRange,
  type BboxCoverage,
  type OnError,
  type ResRange,
  type SourceContext,
  type TileSourceConfig,
} from './config.js';
import { FileUrlRefusedError, InvalidSourceQueryError, SourceFileError } from './errors.js';
import { blankSourceImage, decodeVerified, inFormat, onErrorImage, verifyImage, type VerifiedImage } from './fetch.js';
import { httpGet, splitCredentials, type HttpRequestOptions } from './http-client.js';
import { coverageIntersects, resRangeContains } from './limits.js';
import { resolveConfigPath } from './paths.js';
import { FileSemaphore, semaphoreBase } from './semaphore.js';
import { TileUrlTemplate } from './tile-url.js';
import type { MapQuery, Source, SourceImage } from './types.js';

let originWarned = false;

/** A tile source built from `sources.<name>`. */
export class TileSource implements Source {
  readonly name: string;
  readonly type = 'tile';
  readonly supportsMetaTiles = false;
  readonly transparent: boolean;
  readonly grid: TileGrid;
  readonly coverage: BboxCoverage | undefined;
  readonly resRange: ResRange | undefined;
  readonly seedOnly: boolean;
  readonly opacity: number | undefined;
  readonly #template: TileUrlTemplate;
  /** For `file://` templates: the directory every tile must lie in. */
  readonly #fileRoot: string | undefined;
  readonly #configDir: string;
  /** Flip y: `origin` asks for the other origin than the grid's. */
  readonly #flip: boolean;
  readonly #requestFormat: string | undefined;
  readonly #http: HttpRequestOptions;
  readonly #semaphore: FileSemaphore | undefined;
  readonly #onError: OnError | undefined;

  constructor(name: string, conf: TileSourceConfig, ctx: SourceContext) {
    const p = `sources.${name}`;
    this.name = name;
    if (typeof conf.url !== 'string' || conf.url === '') throw new ConfigError([{ path: `${p}.url`, message: 'required' }]);
    this.#template = new TileUrlTemplate(conf.url, `${p}.url`);
    this.#configDir = ctx.configDir;
    if (/^file:\/\//i.test(conf.url)) {
      const prefix = decodeURIComponent(this.#template.fixedPrefix.slice('file://'.length));
      const abs = resolveConfigPath(ctx.configDir, prefix || '.');
      this.#fileRoot = prefix.endsWith('/') || prefix === '' ? abs : path.dirname(abs);
    } else if (!/^https?:\/\//i.test(conf.url)) {
      throw new ConfigError([{ path: `${p}.url`, message: `must be an http://, https:// or file:// URL template (got ${JSON.stringify(conf.url)})` }]);
    }
    // Without `grid` the configuration checks warn (MapProxy: the default will change).
    const gridName = conf.grid ?? 'GLOBAL_MERCATOR';
    const grid = ctx.grids.get(gridName);
    if (!grid) throw new ConfigError([{ path: `${p}.grid`, message: `unknown grid ${JSON.stringify(gridName)}` }]);
    this.grid = grid;
    let flip = false;
    if (conf.origin !== undefined) {
      let origin;
      try {
        origin = parseOrigin(conf.origin);
      } catch (err) {
        throw new ConfigError([{ path: `${p}.origin`, message: (err as Error).message }]);
      }
      flip = origin !== grid.origin;
      if (!originWarned) {
        originWarned = true;
        process.emitWarning(`sources.${name}.origin is deprecated: use a grid with the right origin`, { code: WarningCodes.deprecatedConfigKey });
      }
    }
    this.#flip = flip;
    this.#requestFormat = conf.request_format;
    this.#http = { ...httpOptions(ctx.globals, conf, ctx.configDir, resolveConfigPath), source: name };
    const n = concurrentRequests(ctx.globals, conf, p);
    this.#semaphore = n > 0 && !this.#fileRoot ? new FileSemaphore(semaphoreBase(ctx.lockDir, conf.url), n, { timeoutMs: (this.#http.clientTimeout ?? 60) * 1000 }) : undefined;
    this.coverage = parseCoverage(conf.coverage, `${p}.coverage`, (code) => ctx.srs.get(code));
    this.resRange = parseResRange(conf, p);
    this.seedOnly = conf.seed_only === true;
    this.#onError = parseOnError(conf.on_error, `${p}.on_error`);
    this.transparent = conf.transparent ?? conf.image?.transparent ?? false;
    this.opacity = conf.image?.opacity;
  }

  /** Fetch the one tile `query` describes (see `Source.getMap`). */
  async getMap(query: MapQuery): Promise<SourceImage> {
    const g = this.grid;
    if (g.tileSize[0] !== query.size[0] || g.tileSize[1] !== query.size[1]) {
      throw new InvalidSourceQueryError(`tile size of cache and tile source do not match: [${g.tileSize.join(', ')}] != [${query.size.join(', ')}]`);
    }
    if (!g.srs.equals(query.srs)) {
      throw new InvalidSourceQueryError(`SRS of cache and tile source do not match: ${g.srs.code} != ${query.srs.code}`);
    }
    if (this.seedOnly && !query.seeding) return blankSourceImage(query.size, false);
    if (this.resRange && !resRangeContains(this.resRange, query.bbox, query.size, query.srs)) return blankSourceImage(query.size, true);
    if (this.coverage && !coverageIntersects(this.coverage, query.bbox, query.srs)) return blankSourceImage(query.size, true);
    const coord = this.#tileFor(query.bbox, query);
    if (!coord) return blankSourceImage(query.size, true);
    const tileBbox = g.tileBbox(coord);
    const addressed: TileCoord = this.#flip ? g.flipTileCoord(coord) : coord;
    const format = this.#requestFormat ?? query.format;
    const ext = tryParseImageFormat(format)?.extension ?? format;
    const url = this.#template.substitute(addressed, ext, tileBbox);
    try {
      const img = this.#fileRoot ? await this.#readFile(url, query.size) : await this.#fetch(url, query.size);
      return await inFormat(img, query.format, this.transparent);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      const substitute = await onErrorImage(err, this.#onError, query.size, query.format);
      if (substitute) return substitute;
      getLogger('mapproxy.source.tile').warn({ source: this.name, url: err.url, err: err.message }, `could not retrieve tile: ${err.message}`);
      throw err;
    }
  }

  /** The grid tile that is exactly `bbox`, null outside the grid; InvalidSourceQueryError otherwise. */
  #tileFor(bbox: Bbox, query: MapQuery): TileCoord | null {
    let found;
    try {
      found = this.grid.affectedTiles(bbox, query.size);
    } catch (err) {
      if (err instanceof GridRequestError && err.reason === 'no-intersection') return null;
      throw new InvalidSourceQueryError(`BBOX does not align to tile: ${(err as Error).message}`);
    }
    if (found.gridSize[0] !== 1 || found.gridSize[1] !== 1) throw new InvalidSourceQueryError('BBOX does not align to tile');
    const coord = found.tiles[0];
    if (!coord) return null;
    // Exactly one tile, not just a bbox inside one: each side within a tenth of a pixel.
    const tb = this.grid.tileBbox(coord);
    const tol = this.grid.resolution(coord[2]) / 10;
    if (tb.some((v, i) => Math.abs(v - bbox[i]) > tol)) throw new InvalidSourceQueryError('BBOX does not align to tile');
    return coord;
  }

  async #fetch(url: string, size: readonly [number, number]): Promise<VerifiedImage> {
    const get = () => httpGet(url, this.#http);
    const res = this.#semaphore ? await this.#semaphore.run(get) : await get();
    return verifyImage(res, size, 'tile');
  }

  async #readFile(url: string, size: readonly [number, number]): Promise<VerifiedImage> {
    const root = this.#fileRoot as string;
    const file = resolveConfigPath(this.#configDir, decodeURIComponent(url.slice('file://'.length)));
    if (file !== root && !file.startsWith(root.endsWith(path.sep) ? root : root + path.sep)) {
      // The server's directories are nobody's business but the operator's (they are logged).
      const hide = this.#http.hideErrorDetails ?? true;
      throw new FileUrlRefusedError(hide ? 'refused file URL outside the source directory (see logs)' : `refused file URL outside ${root}: ${url}`, url);
    }
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (err as Error).message;
      const hide = this.#http.hideErrorDetails ?? true;
      throw new SourceFileError(hide ? 'No response from URL (see logs for URL and reason).' : `No response from URL "${url}": ${reason}`, { url, cause: err });
    }
    return decodeVerified(data, size, 'tile', splitCredentials(url).url);
  }
}

/** Build a tile source; throws ConfigError naming `sources.<name>…` for bad configuration. */
export function createTileSource(name: string, conf: TileSourceConfig, ctx: SourceContext): TileSource {
  return new TileSource(name, conf, ctx);
}
