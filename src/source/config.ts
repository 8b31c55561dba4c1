/**
 * Source configuration as written in mapproxy.yaml (`sources.<name>`, snake_case keys, REFERENCE §3)
 * and the start-up parsing every source type shares: http options merged with globals, colours,
 * `on_error`, bbox coverages and resolution ranges. Bad values throw `ConfigError` naming the YAML
 * path.
 */
import { ConfigError } from '../errors.js';
import type { Bbox, Srs, TileGrid } from '../grid/types.js';
import type { SrsRegistry } from '../grid/index.js';
import type { HttpOptions } from './http-client.js';

/** `http:` of globals or of a source. */
export interface HttpConfig {
  readonly method?: 'AUTO' | 'GET' | 'POST';
  readonly client_timeout?: number;
  readonly ssl_no_cert_checks?: boolean;
  readonly ssl_ca_certs?: string;
  readonly hide_error_details?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly manage_cookies?: boolean;
  readonly concurrent_requests?: number;
}

/** The parts of `globals:` sources read. */
export interface GlobalsConfig {
  readonly http?: HttpConfig;
  readonly image?: { readonly transparent_color_tolerance?: number; readonly resampling_method?: string; readonly [k: string]: unknown };
  readonly srs?: { readonly preferred_src_proj?: Readonly<Record<string, readonly string[]>>; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
}

/** A colour: `#rrggbb[aa]`, `0xrrggbb`, `[r, g, b(, a)]` or `transparent`. */
export type ColorConfig = string | readonly number[];

/** One `on_error` entry. */
export interface OnErrorEntryConfig {
  readonly response?: ColorConfig;
  readonly cache?: boolean;
  readonly authorize_stale?: boolean;
}

/** A source coverage; only bbox coverages are supported. */
export interface CoverageConfig {
  readonly bbox?: readonly number[] | string;
  readonly datasource?: readonly number[] | string;
  readonly srs?: string;
  readonly bbox_srs?: string;
  readonly [k: string]: unknown;
}

/** Keys every source type may have. */
export interface CommonSourceConfig {
  readonly type: string;
  readonly coverage?: CoverageConfig;
  readonly min_res?: number;
  readonly max_res?: number;
  readonly min_scale?: number;
  readonly max_scale?: number;
  readonly seed_only?: boolean;
  readonly concurrent_requests?: number;
  readonly http?: HttpConfig;
  readonly on_error?: Readonly<Record<string, OnErrorEntryConfig>>;
  readonly image?: {
    readonly opacity?: number;
    readonly transparent?: boolean;
    readonly transparent_color?: ColorConfig;
    readonly transparent_color_tolerance?: number;
    readonly resampling_method?: string;
    readonly [k: string]: unknown;
  };
  readonly transparent?: boolean;
}

/** `sources.<name>` with `type: wms`. */
export interface WmsSourceConfig extends CommonSourceConfig {
  readonly req: { readonly url: string; readonly layers?: string | readonly string[]; readonly [k: string]: unknown };
  readonly wms_opts?: { readonly version?: string; readonly map?: boolean; readonly [k: string]: unknown };
  readonly supported_srs?: readonly string[];
  readonly supported_formats?: readonly string[];
  readonly forward_req_params?: readonly string[];
}

/** `sources.<name>` with `type: tile`. */
export interface TileSourceConfig extends CommonSourceConfig {
  readonly url: string;
  readonly grid?: string;
  readonly origin?: string;
  readonly request_format?: string;
}

/** Any source entry. */
export type SourceConfig = WmsSourceConfig | TileSourceConfig | CommonSourceConfig;

/** What building a source needs besides its own entry. */
export interface SourceContext {
  /** The `globals:` section as configured. */
  readonly globals: GlobalsConfig;
  /** `globals.cache.lock_dir`, absolute (concurrent_requests lock files). */
  readonly lockDir: string;
  /** Every grid by name, the default grids included. */
  readonly grids: ReadonlyMap<string, TileGrid>;
  /** Directory of the main configuration file (relative paths). */
  readonly configDir: string;
  /** The configuration's SRSs (`globals.srs`), for coverages and `supported_srs`. */
  readonly srs: SrsRegistry;
}

/** RGBA, each 0–255. */
export type Rgba = readonly [number, number, number, number];

/** Parsed `on_error` entry. */
export interface OnErrorEntry {
  readonly color: Rgba;
  /** True when the colour had an alpha value (MapProxy then makes a transparent image). */
  readonly hasAlpha: boolean;
  readonly cacheable: boolean;
  readonly authorizeStale: boolean;
}

/** `on_error` by HTTP status (`'500'`) or `'other'`. */
export type OnError = ReadonlyMap<string, OnErrorEntry>;

function fail(path: string, message: string): never {
  throw new ConfigError([{ path, message }]);
}

/**
 * Parse a colour as MapProxy's `parse_color` does; `transparent` is white with alpha 0.
 * Returns the RGBA value and whether an alpha was given.
 */
export function parseColor(value: unknown, path: string): { color: Rgba; hasAlpha: boolean } {
  if (value === 'transparent') return { color: [255, 255, 255, 0], hasAlpha: true };
  if (Array.isArray(value) && (value.length === 3 || value.length === 4)) {
    if (value.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
      const [r, g, b, a = 255] = value as number[];
      return { color: [r, g, b, a], hasAlpha: value.length === 4 };
    }
  }
  if (typeof value === 'string') {
    const hex = value.replace(/^0x/i, '').replace(/^#/, '');
    if (/^([0-9a-f]{6}|[0-9a-f]{8})$/i.test(hex)) {
      const n = (i: number) => parseInt(hex.slice(i, i + 2), 16);
      return { color: [n(0), n(2), n(4), hex.length === 8 ? n(6) : 255], hasAlpha: hex.length === 8 };
    }
  }
  fail(path, `invalid colour ${JSON.stringify(value)}: use "#rrggbb", "#rrggbbaa", [r, g, b(, a)] or "transparent"`);
}

/** Parse `on_error`; keys must be HTTP status codes or `other`. */
export function parseOnError(conf: CommonSourceConfig['on_error'], path: string): OnError | undefined {
  if (!conf) return undefined;
  const out = new Map<string, OnErrorEntry>();
  for (const [key, entry] of Object.entries(conf)) {
    const p = `${path}.${key}`;
    if (key !== 'other' && !/^[1-5]\d\d$/.test(key)) fail(path, `invalid error code ${JSON.stringify(key)} in on_error (use an HTTP status code or "other")`);
    const e = (entry ?? {}) as OnErrorEntryConfig;
    const { color, hasAlpha } = parseColor(e.response ?? 'transparent', `${p}.response`);
    out.set(key, { color, hasAlpha, cacheable: e.cache === true, authorizeStale: e.authorize_stale === true });
  }
  return out;
}

/** A parsed bbox coverage. */
export interface BboxCoverage {
  readonly bbox: Bbox;
  readonly srs: Srs;
}

const COVERAGE_KEYS = new Set(['bbox', 'datasource', 'srs', 'bbox_srs', 'clip']);

/** Parse a bbox list or `"a,b,c,d"` string. */
export function parseBbox(value: unknown, path: string): Bbox {
  const parts = typeof value === 'string' ? value.split(',').map((s) => Number(s.trim())) : Array.isArray(value) ? value.map(Number) : [];
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) fail(path, `invalid bbox ${JSON.stringify(value)}: need minx,miny,maxx,maxy`);
  if (!(parts[0] < parts[2] && parts[1] < parts[3])) fail(path, `invalid bbox ${JSON.stringify(value)}: min must be below max`);
  return [parts[0], parts[1], parts[2], parts[3]];
}

/**
 * Parse a source coverage. Only `bbox` (or a bbox `datasource`) with `srs`/`bbox_srs` is supported;
 * other coverage kinds are refused by name rather than ignored.
 */
export function parseCoverage(conf: CoverageConfig | undefined, path: string, getSrs: (code: string) => Srs): BboxCoverage | undefined {
  if (!conf) return undefined;
  for (const key of Object.keys(conf)) {
    if (!COVERAGE_KEYS.has(key)) fail(`${path}.${key}`, `coverage type "${key}" is not supported for sources (only bbox coverages)`);
  }
  if (conf.clip === true) fail(`${path}.clip`, 'clip is not supported for source coverages');
  const raw = conf.bbox ?? conf.datasource;
  if (raw === undefined) fail(path, 'coverage needs a bbox');
  if (typeof conf.datasource === 'string' && !/^[\s\d.,+-eE]+$/.test(conf.datasource)) {
    fail(`${path}.datasource`, 'coverage datasource files are not supported for sources (only bbox coverages)');
  }
  const bbox = parseBbox(raw, conf.bbox !== undefined ? `${path}.bbox` : `${path}.datasource`);
  // MapProxy's load_coverage: a bbox is in bbox_srs, else srs (bbox_srs wins when both are set).
  const srsKey = conf.bbox !== undefined && conf.bbox_srs !== undefined ? 'bbox_srs' : conf.srs !== undefined ? 'srs' : 'bbox_srs';
  const code = conf[srsKey];
  if (!code) fail(path, 'coverage needs srs');
  let srs: Srs;
  try {
    srs = getSrs(code);
  } catch (err) {
    fail(`${path}.${srsKey}`, `unknown SRS ${code}: ${(err as Error).message}`);
  }
  return { bbox, srs };
}

/** OGC pixel size in metres (0.28 mm): `res = scale · 0.00028`. */
export const OGC_PIXEL_SIZE = 0.00028;

/** A resolution range in metres per pixel; either end may be open. */
export interface ResRange {
  readonly minRes?: number;
  readonly maxRes?: number;
}

/** `min_res`/`max_res` or `min_scale`/`max_scale` of a source (MapProxy's `resolution_range`). */
export function parseResRange(conf: CommonSourceConfig, path: string): ResRange | undefined {
  const hasRes = conf.min_res !== undefined || conf.max_res !== undefined;
  const hasScale = conf.min_scale !== undefined || conf.max_scale !== undefined;
  if (!hasRes && !hasScale) return undefined;
  if (hasRes && hasScale) fail(path, 'use either min_res/max_res or min_scale/max_scale, not both');
  const minRes = hasRes ? conf.min_res : conf.max_scale !== undefined ? conf.max_scale * OGC_PIXEL_SIZE : undefined;
  const maxRes = hasRes ? conf.max_res : conf.min_scale !== undefined ? conf.min_scale * OGC_PIXEL_SIZE : undefined;
  if (minRes !== undefined && maxRes !== undefined && !(minRes > maxRes)) {
    fail(path, hasRes ? 'min_res must be larger than max_res' : 'max_scale must be larger than min_scale');
  }
  return { minRes, maxRes };
}

/** Merge `globals.http` with a source's `http` (the source wins) into client options. */
export function httpOptions(globals: GlobalsConfig, conf: CommonSourceConfig, configDir: string, resolvePath: (dir: string, p: string) => string): HttpOptions {
  const g = globals.http ?? {};
  const s = conf.http ?? {};
  const pick = <K extends keyof HttpConfig>(k: K): HttpConfig[K] => (s[k] !== undefined ? s[k] : g[k]);
  const ca = pick('ssl_ca_certs');
  return {
    clientTimeout: pick('client_timeout') ?? 60,
    headers: { ...(g.headers ?? {}), ...(s.headers ?? {}) },
    hideErrorDetails: pick('hide_error_details') ?? true,
    sslNoCertChecks: pick('ssl_no_cert_checks') ?? false,
    sslCaCerts: ca ? resolvePath(configDir, ca) : undefined,
    method: pick('method') ?? 'AUTO',
    ...(pick('manage_cookies') ? { cookies: new Map<string, string>() } : {}),
  };
}

/** `concurrent_requests` of the source, else `globals.http.concurrent_requests`, else 0 (unlimited). */
export function concurrentRequests(globals: GlobalsConfig, conf: CommonSourceConfig, path: string): number {
  const n = conf.concurrent_requests ?? globals.http?.concurrent_requests ?? 0;
  if (!Number.isInteger(n) || n < 0) fail(`${path}.concurrent_requests`, `must be a whole number ≥ 0, got ${JSON.stringify(n)}`);
  return n;
}
