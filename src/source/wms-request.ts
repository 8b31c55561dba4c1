/**
 * The upstream GetMap request of a WMS source, byte for byte as MapProxy 1.15 writes it
 * (REFERENCE §2.5): the configured `req` parameters in their order (the URL's own query kept),
 * then format, bbox, width, height, srs, forwarded dimensions, request, version, service, styles
 * (and `crs` last in 1.3.0). Keys are case-insensitive and keep their first spelling; values are
 * percent-encoded except `,`. One difference: `transparent` is sent as `TRUE`/`FALSE` (§6).
 */
import { ConfigError } from '../errors.js';
import type { Bbox, Size, Srs } from '../grid/types.js';
import { pyFloatRepr } from '../grid/pyfloat.js';

/** The WMS versions a source may speak upstream. */
export type WmsVersion = '1.1.1' | '1.3.0';

/** An ordered, case-insensitive parameter list that keeps each key's first spelling. */
export class WmsParams {
  readonly #entries = new Map<string, [string, string]>();

  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) for (const [k, v] of init) this.set(k, v);
  }

  /** Set a value in place (new keys go to the end). */
  set(key: string, value: string): void {
    const lk = key.toLowerCase();
    const cur = this.#entries.get(lk);
    this.#entries.set(lk, [cur ? cur[0] : key, value]);
  }

  get(key: string): string | undefined {
    return this.#entries.get(key.toLowerCase())?.[1];
  }

  has(key: string): boolean {
    return this.#entries.has(key.toLowerCase());
  }

  delete(key: string): void {
    this.#entries.delete(key.toLowerCase());
  }

  copy(): WmsParams {
    return new WmsParams(this.#entries.values());
  }

  /** `key=value&…`, values quoted like Python's `quote(v, safe=',')`, keys as they are. */
  toString(): string {
    return [...this.#entries.values()].map(([k, v]) => `${k}=${quote(v)}`).join('&');
  }
}

/** Python's `urllib.parse.quote(value, safe=',')` over UTF-8. */
export function quote(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%2C/g, ',');
}

/** A YAML value as MapProxy writes it into a query string (Python `str()`), lists joined with `,`. */
function paramValue(key: string, value: unknown): string {
  if (key.toLowerCase() === 'transparent') {
    // MapProxy sends str(True) = "True"; WMS servers expect TRUE/FALSE (§6).
    const v = String(value).toLowerCase();
    if (v === 'true') return 'TRUE';
    if (v === 'false') return 'FALSE';
  }
  if (Array.isArray(value)) return value.map((v) => paramValue('', v)).join(',');
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'number' && !Number.isInteger(value)) return pyFloatRepr(value);
  return String(value);
}

/** The fixed part of every GetMap of a source. */
export interface WmsRequestTemplate {
  /** The configured URL, credentials included (the HTTP client strips them). */
  readonly url: string;
  readonly version: WmsVersion;
  /** `req` without `url`, in configured order. */
  readonly params: WmsParams;
  /** `req.format`, when configured: always requested, whatever the query asks. */
  readonly requestFormat: string | undefined;
  /** `sld_body` (also from `sld: file://…`): makes `http.method: AUTO` POST. */
  readonly hasSldBody: boolean;
  /** The contents of an `sld: file://…`, sent as `sld_body` right after `format`. */
  readonly sldFileBody?: string;
}

/**
 * Build the template from `req` and `wms_opts.version`; throws ConfigError for bad values.
 * `req.layers` is optional, as in MapProxy: a source styled by `sld`/`sld_body` may name its
 * layers there, and its GetMap then has no LAYERS parameter.
 */
export function wmsRequestTemplate(
  req: Readonly<Record<string, unknown>>,
  version: unknown,
  path: string,
  opts: { sldFileBody?: string } = {},
): WmsRequestTemplate {
  const url = req.url;
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
    throw new ConfigError([{ path: `${path}.req.url`, message: `required, an http:// or https:// URL (got ${JSON.stringify(url)})` }]);
  }
  const v = version === undefined ? '1.1.1' : String(version);
  if (v !== '1.1.1' && v !== '1.3.0') {
    throw new ConfigError([{ path: `${path}.wms_opts.version`, message: `unsupported WMS version ${JSON.stringify(version)} (use 1.1.1 or 1.3.0)` }]);
  }
  const params = new WmsParams();
  for (const [k, val] of Object.entries(req)) if (k.toLowerCase() !== 'url') params.set(k, paramValue(k, val));
  const sldFileBody = opts.sldFileBody;
  return { url, version: v, params, requestFormat: params.get('format'), hasSldBody: params.has('sld_body') || sldFileBody !== undefined, sldFileBody };
}

/** One map request. `bbox` is x/y order in `srs`. */
export interface WmsMapRequest {
  readonly bbox: Bbox;
  readonly size: Size;
  readonly srs: Srs;
  /** MIME type to ask for (`image/png`, `image/png; mode=8bit`). */
  readonly format: string;
  readonly dimensions?: Readonly<Record<string, string>>;
}

/** The full parameter list of a GetMap, in MapProxy's order. */
export function wmsGetMapParams(t: WmsRequestTemplate, q: WmsMapRequest): WmsParams {
  const p = t.params.copy();
  // A format without a type is completed as MapProxy's format setter does.
  p.set('format', q.format.includes('/') ? q.format : `image/${q.format}`);
  // MapProxy's create_request reads an SLD file into sld_body after it has set the format.
  if (t.sldFileBody !== undefined) p.set('sld_body', t.sldFileBody);
  const bbox = t.version === '1.3.0' ? q.srs.alignBboxAxis(q.bbox) : q.bbox;
  p.set('bbox', bbox.map(pyFloatRepr).join(','));
  p.set('width', String(q.size[0]));
  p.set('height', String(q.size[1]));
  p.set('srs', q.srs.code);
  for (const [k, v] of Object.entries(q.dimensions ?? {})) p.set(k, v);
  p.set('request', 'GetMap');
  p.set('version', t.version);
  p.set('service', 'WMS');
  if (!p.has('styles')) p.set('styles', '');
  if (t.version === '1.3.0') {
    const srs = p.get('srs') ?? q.srs.code;
    p.delete('srs');
    p.set('crs', srs);
  }
  return p;
}

/** Join a base URL and a query string as MapProxy's `complete_url` does. */
export function completeUrl(url: string, query: string): string {
  if (url.endsWith('?')) return url + query;
  return url + (url.includes('?') ? '&' : '?') + query;
}

/** The GetMap URL of one request. */
export function wmsGetMapUrl(t: WmsRequestTemplate, q: WmsMapRequest): string {
  return completeUrl(t.url, wmsGetMapParams(t, q).toString());
}
