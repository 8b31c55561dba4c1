/**
 * The WMS source (`type: wms`): GetMap requests exactly as MapProxy 1.15 writes them, with
 * seed_only, resolution ranges and bbox coverages answered blank without a request, partial
 * coverage as a clipped sub-request, supported_srs reprojection, supported_formats conversion,
 * transparent_color, concurrent_requests and on_error (REFERENCE §1.3, §2.5, §2.14).
 */
import { ConfigError, SourceError } from '../errors.js';
import type { Bbox, Size, Srs } from '../grid/types.js';
import type { SrsRegistry } from '../grid/index.js';
import { pasteRaw, rawImage, sourceRequestFor, transformImage, transparentColor, tryParseImageFormat } from '../image/index.js';
import type { Resampling } from '../image/types.js';
import { getLogger } from '../log/index.js';
import {
  concurrentRequests,
  httpOptions,
  parseColor,
  parseCoverage,
  parseOnError,
  parseResRange,
  type BboxCoverage,
  type OnError,
  type ResRange,
  type SourceContext,
  type WmsSourceConfig,
} from './config.js';
import { blankSourceImage, encoded, inFormat, onErrorImage, verifyImage, type VerifiedImage } from './fetch.js';
import { httpGet, type HttpRequestOptions } from './http-client.js';
import { bboxPositionInImage, coverageBboxIn, coverageContains, coverageIntersects, resRangeContains } from './limits.js';
import { FileSemaphore, semaphoreBase } from './semaphore.js';
import type { MapQuery, Source, SourceImage } from './types.js';
import { completeUrl, wmsGetMapParams, wmsRequestTemplate, type WmsMapRequest, type WmsRequestTemplate } from './wms-request.js';
import { resolveConfigPath, readSldFile } from './paths.js';

const RESAMPLING = new Set(['nearest', 'bilinear', 'bicubic']);

/** A WMS source built from `sources.<name>`. */
export class WmsSource implements Source {
  readonly name: string;
  readonly type = 'wms';
  readonly supportsMetaTiles = true;
  readonly transparent: boolean;
  readonly coverage: BboxCoverage | undefined;
  readonly resRange: ResRange | undefined;
  readonly seedOnly: boolean;
  readonly opacity: number | undefined;
  /** `forward_req_params`: request parameters a WMS service passes on as dimensions. */
  readonly forwardReqParams: readonly string[];
  /** The upstream request without bbox/size/srs/format (for merging adjacent sources). */
  readonly template: WmsRequestTemplate;
  readonly #http: HttpRequestOptions;
  readonly #post: boolean;
  readonly #semaphore: FileSemaphore | undefined;
  readonly #supportedSrs: readonly Srs[];
  readonly #preferred: Readonly<Record<string, readonly string[]>>;
  readonly #supportedFormats: readonly string[];
  readonly #onError: OnError | undefined;
  readonly #transparentColor: readonly [number, number, number] | undefined;
  readonly #tolerance: number;
  readonly #resampling: Resampling;
  /** The configuration's SRSs (preferred_src_proj codes are looked up at request time). */
  readonly #srs: SrsRegistry;

  constructor(name: string, conf: WmsSourceConfig, ctx: SourceContext) {
    const path = `sources.${name}`;
    this.name = name;
    if (!conf.req || typeof conf.req !== 'object') throw new ConfigError([{ path: `${path}.req`, message: 'required' }]);
    const req: Record<string, unknown> = { ...conf.req };
    let sldFileBody: string | undefined;
    if (typeof req.sld === 'string' && req.sld.startsWith('file://')) {
      // MapProxy: an SLD file is sent inline as sld_body (which makes http.method AUTO post).
      sldFileBody = readSldFile(req.sld, ctx.configDir, `${path}.req.sld`);
      delete req.sld;
    }
    this.template = wmsRequestTemplate(req, conf.wms_opts?.version, path, { sldFileBody });
    this.#http = { ...httpOptions(ctx.globals, conf, ctx.configDir, resolveConfigPath), source: name };
    this.#post = this.#http.method === 'POST' || (this.#http.method !== 'GET' && this.template.hasSldBody);
    const n = concurrentRequests(ctx.globals, conf, path);
    this.#semaphore = n > 0 ? new FileSemaphore(semaphoreBase(ctx.lockDir, this.template.url), n, { timeoutMs: (this.#http.clientTimeout ?? 60) * 1000 }) : undefined;
    this.coverage = parseCoverage(conf.coverage, `${path}.coverage`, (code) => ctx.srs.get(code));
    this.resRange = parseResRange(conf, path);
    this.seedOnly = conf.seed_only === true;
    this.#onError = parseOnError(conf.on_error, `${path}.on_error`);
    this.#supportedSrs = (conf.supported_srs ?? []).map((code, i) => {
      if (!ctx.srs.isKnown(code)) throw new ConfigError([{ path: `${path}.supported_srs[${i}]`, message: `unknown SRS ${JSON.stringify(code)}` }]);
      return ctx.srs.get(code);
    });
    this.#preferred = ctx.globals.srs?.preferred_src_proj ?? {};
    this.#srs = ctx.srs;
    this.#supportedFormats = (conf.supported_formats ?? []).map((f, i) => {
      const fmt = tryParseImageFormat(f.includes('/') ? f : `image/${f}`);
      if (!fmt || fmt.mime === 'mixed') throw new ConfigError([{ path: `${path}.supported_formats[${i}]`, message: `unknown image format ${JSON.stringify(f)}` }]);
      return fmt.mime;
    });
    const image = conf.image ?? {};
    this.#transparentColor = image.transparent_color !== undefined ? (parseColor(image.transparent_color, `${path}.image.transparent_color`).color.slice(0, 3) as [number, number, number]) : undefined;
    this.#tolerance = image.transparent_color_tolerance ?? ctx.globals.image?.transparent_color_tolerance ?? 5;
    const reqTransparent = String(conf.req.transparent ?? '').toLowerCase() === 'true';
    this.transparent = (image.transparent ?? reqTransparent) || this.#transparentColor !== undefined;
    this.opacity = image.opacity;
    const resampling = image.resampling_method ?? ctx.globals.image?.resampling_method ?? 'bicubic';
    if (!RESAMPLING.has(resampling)) throw new ConfigError([{ path: `${path}.image.resampling_method`, message: `must be nearest, bilinear or bicubic (got ${JSON.stringify(resampling)})` }]);
    this.#resampling = resampling as Resampling;
    this.forwardReqParams = conf.forward_req_params ?? [];
  }

  /** Render `query` (see `Source.getMap`). */
  async getMap(query: MapQuery): Promise<SourceImage> {
    if (this.seedOnly && !query.seeding) return blankSourceImage(query.size, false);
    if (this.resRange && !resRangeContains(this.resRange, query.bbox, query.size, query.srs)) return blankSourceImage(query.size, true);
    if (this.coverage && !coverageIntersects(this.coverage, query.bbox, query.srs)) return blankSourceImage(query.size, true);
    try {
      return await this.#getMap(query);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      const substitute = await onErrorImage(err, this.#onError, query.size, query.format);
      if (substitute) return substitute;
      getLogger('mapproxy.source.wms').warn({ source: this.name, url: err.url, err: err.message }, `could not retrieve WMS map: ${err.message}`);
      throw err;
    }
  }

  /** The GetMap URL for a request (credentials included; the HTTP client strips them). */
  requestUrl(req: WmsMapRequest): string {
    return completeUrl(this.template.url, wmsGetMapParams(this.template, req).toString());
  }

  async #getMap(query: MapQuery): Promise<SourceImage> {
    let format = this.template.requestFormat ?? query.format;
    if (this.#supportedFormats.length > 0 && !this.#supportedFormats.includes(tryParseImageFormat(format)?.mime ?? '')) {
      format = this.#supportedFormats[0];
    }
    let srs = query.srs;
    if (this.#supportedSrs.length > 0) {
      const same = this.#supportedSrs.find((s) => s.equals(query.srs));
      // Equal SRSs may differ in code (EPSG:900913 / EPSG:3857): ask with the supported code.
      if (!same) return this.#transformed(query, format);
      srs = same;
    }
    const img = await this.#fetchCovered(query.bbox, query.size, srs, format, query.dimensions);
    return img ? this.#finish(img, query.format) : blankSourceImage(query.size, true);
  }

  /**
   * Fetch bbox/size in `srs`; when the coverage only partly overlaps, request the overlap and paste
   * it into a transparent image (MapProxy's sub query). Null when the overlap has no pixels.
   */
  async #fetchCovered(bbox: Bbox, size: Size, srs: Srs, format: string, dimensions?: Readonly<Record<string, string>>): Promise<VerifiedImage | null> {
    if (!this.coverage || coverageContains(this.coverage, bbox, srs)) return this.#fetch({ bbox, size, srs, format, dimensions });
    const sub = bboxPositionInImage(bbox, size, coverageBboxIn(this.coverage, srs));
    if (sub.size[0] === 0 || sub.size[1] === 0) return null;
    const part = await this.#fetch({ bbox: sub.bbox, size: sub.size, srs, format, dimensions });
    const canvas = rawImage(Buffer.alloc(size[0] * size[1] * 4), size[0], size[1]);
    pasteRaw(canvas, part.raw, sub.offset[0], sub.offset[1]);
    return { data: Buffer.alloc(0), mime: '', raw: canvas };
  }

  async #transformed(query: MapQuery, format: string): Promise<SourceImage> {
    const dst = query.srs;
    const src = this.#bestSrs(dst);
    const req = sourceRequestFor(query.bbox, dst, query.size, src);
    const img = await this.#fetchCovered(req.bbox, req.size, src, format, query.dimensions);
    if (!img) return blankSourceImage(query.size, true);
    const raw = await transformImage(img.raw, req.bbox, src, query.bbox, dst, query.size, {
      resampling: this.#resampling,
      transparent: true,
    });
    return this.#finish({ data: Buffer.alloc(0), mime: '', raw }, query.format);
  }

  /** §2.14 source SRS choice: the target, else preferred_src_proj, else same kind, else the first. */
  #bestSrs(target: Srs): Srs {
    const supported = this.#supportedSrs;
    const same = supported.find((s) => s.equals(target));
    if (same) return same;
    for (const code of this.#preferred[target.code] ?? []) {
      const hit = supported.find((s) => this.#srs.isKnown(code) && s.equals(this.#srs.get(code)));
      if (hit) return hit;
    }
    return supported.find((s) => s.isLatLong === target.isLatLong) ?? supported[0];
  }

  async #fetch(req: WmsMapRequest): Promise<VerifiedImage> {
    const get = async () => {
      if (this.#post) {
        return httpGet(this.template.url.replace(/\?+$/, ''), { ...this.#http, body: wmsGetMapParams(this.template, req).toString() });
      }
      return httpGet(this.requestUrl(req), this.#http);
    };
    const res = this.#semaphore ? await this.#semaphore.run(get) : await get();
    return verifyImage(res, req.size, 'WMS');
  }

  /** transparent_color, then the wanted format (upstream bytes kept when nothing changed). */
  async #finish(img: VerifiedImage, format: string): Promise<SourceImage> {
    if (this.#transparentColor) {
      return encoded(transparentColor(img.raw, this.#transparentColor, this.#tolerance), 'image/png', true);
    }
    // Pasted or reprojected pixels have transparent margins: keep them where the format can.
    if (img.data.length === 0) return encoded(img.raw, format, true);
    return inFormat(img, format, this.transparent);
  }
}

/** Build a WMS source; throws ConfigError naming `sources.<name>…` for bad configuration. */
export function createWmsSource(name: string, conf: WmsSourceConfig, ctx: SourceContext): WmsSource {
  return new WmsSource(name, conf, ctx);
}
