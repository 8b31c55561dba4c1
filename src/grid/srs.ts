/**
 * Spatial reference systems: the built-in proj4 definitions, the registry of one configuration's
 * SRSs (its `globals.srs.proj4_defs` and axis-order overrides), the WMS 1.3.0 axis order of each
 * CRS and bbox transformation through an envelope of points, as MapProxy 1.15 (pyproj backend)
 * does it.
 */
import { createRequire } from 'node:module';
import type proj4 from 'proj4';
import { ConfigError, MapProxyError, type ConfigProblem } from '../errors.js';
import type { Bbox, Srs } from './types.js';

type Proj4 = typeof proj4;
let proj4Loaded: Proj4 | undefined;

/**
 * proj4, loaded on the first transformation that needs it (or user definition), not at import: the
 * built-in EPSG:4326 <-> EPSG:3857 pair has its own formulas below, so a worker serving web mercator
 * and WGS84 tiles never loads it (about 300 kB of code to parse; a few MiB of RSS per worker).
 * Synchronously: the first request that needs another pair pays the load once (about 12 ms).
 */
function proj4Lib(): Proj4 {
  proj4Loaded ??= createRequire(import.meta.url)('proj4') as Proj4;
  return proj4Loaded;
}

/** Whether proj4 has been loaded in this process (for tests and diagnostics). */
export function proj4IsLoaded(): boolean {
  return proj4Loaded !== undefined;
}

/** Every built-in code with its definition (for tests: each is checked against proj4). */
export function builtinSrsDefinitions(): ReadonlyArray<readonly [string, string]> {
  return Object.entries(BUILTIN);
}

/** The `+proj=` name of a proj4 string (`merc`, `longlat`), or undefined when it has none (WKT). */
function projNameOf(def: string): string | undefined {
  return /(?:^|\s)\+proj=(\S+)/.exec(def)?.[1];
}

/** An SRS code with no known definition. */
export class UnknownSrsError extends MapProxyError {
  readonly srsCode: string;
  constructor(code: string) {
    super(`unknown SRS ${code}: no built-in definition and none in globals.srs.proj4_defs`, {
      code: 'MPX_ERR_UNKNOWN_SRS',
      status: 400,
      ogcCode: 'InvalidSRS',
    });
    this.srsCode = code;
  }
}

/** A bbox transformation produced no finite point at all (MapProxy's TransformationError). */
export class TransformationError extends MapProxyError {
  constructor(from: string, to: string, bbox: Bbox) {
    super(`cannot transform bbox ${bbox.join(',')} from ${from} to ${to}`, {
      code: 'MPX_ERR_TRANSFORMATION',
      status: 500,
      ogcCode: 'NoApplicableCode',
    });
  }
}

const WEBMERCATOR =
  '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +no_defs';
const WGS84 = '+proj=longlat +datum=WGS84 +no_defs';
const GRS80_NOSHIFT = '+ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs';
const DHDN = '+ellps=bessel +towgs84=598.1,73.7,418.2,0.202,0.045,-2.455,6.7 +units=m +no_defs';
const CH1903 = '+k_0=1 +ellps=bessel +towgs84=674.374,15.056,405.346,0,0,0,0 +units=m +no_defs';
const SWISS = '+proj=somerc +lat_0=46.9524055555556 +lon_0=7.43958333333333';

/** Codes that are the same CRS as another one: srsKey of the alias. */
const ALIASES: Record<string, string> = {
  'EPSG:900913': 'EPSG:3857',
  'EPSG:102100': 'EPSG:3857',
  'EPSG:102113': 'EPSG:3857',
  'CRS:84': 'EPSG:4326',
};

const BUILTIN: Record<string, string> = {
  'EPSG:4326': WGS84,
  'CRS:84': WGS84,
  'EPSG:4258': '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs',
  'EPSG:3857': WEBMERCATOR,
  'EPSG:900913': WEBMERCATOR,
  'EPSG:102100': WEBMERCATOR,
  'EPSG:102113': WEBMERCATOR,
  'EPSG:25831': `+proj=utm +zone=31 ${GRS80_NOSHIFT}`,
  'EPSG:25832': `+proj=utm +zone=32 ${GRS80_NOSHIFT}`,
  'EPSG:25833': `+proj=utm +zone=33 ${GRS80_NOSHIFT}`,
  'EPSG:31466': `+proj=tmerc +lat_0=0 +lon_0=6 +k=1 +x_0=2500000 +y_0=0 ${DHDN}`,
  'EPSG:31467': `+proj=tmerc +lat_0=0 +lon_0=9 +k=1 +x_0=3500000 +y_0=0 ${DHDN}`,
  'EPSG:31468': `+proj=tmerc +lat_0=0 +lon_0=12 +k=1 +x_0=4500000 +y_0=0 ${DHDN}`,
  'EPSG:31469': `+proj=tmerc +lat_0=0 +lon_0=15 +k=1 +x_0=5500000 +y_0=0 ${DHDN}`,
  'EPSG:3035': `+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 ${GRS80_NOSHIFT}`,
  'EPSG:2056': `${SWISS} +x_0=2600000 +y_0=1200000 ${CH1903}`,
  'EPSG:21781': `${SWISS} +x_0=600000 +y_0=200000 ${CH1903}`,
  'EPSG:27700':
    '+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy ' +
    '+towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs',
  'EPSG:28992':
    '+proj=sterea +lat_0=52.1561605555556 +lon_0=5.38763888888889 +k=0.9999079 +x_0=155000 +y_0=463000 ' +
    '+ellps=bessel +towgs84=565.417,50.3319,465.552,-0.398957,0.343988,-1.8774,4.0725 +units=m +no_defs',
  'EPSG:3067': `+proj=utm +zone=35 ${GRS80_NOSHIFT}`,
  'EPSG:2154': `+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 ${GRS80_NOSHIFT}`,
};
for (let zone = 1; zone <= 60; zone++) {
  const z = String(zone).padStart(2, '0');
  BUILTIN[`EPSG:326${z}`] = `+proj=utm +zone=${zone} +datum=WGS84 +units=m +no_defs`;
  BUILTIN[`EPSG:327${z}`] = `+proj=utm +zone=${zone} +south +datum=WGS84 +units=m +no_defs`;
}

/**
 * CRSs whose EPSG definition lists northing first (what pyproj's axis_info reports in MapProxy
 * 1.15). All other built-in projected CRSs are east/north; CRS:84 is lon/lat by definition.
 */
const BUILTIN_NE = new Set(['EPSG:4326', 'EPSG:4258', 'EPSG:31466', 'EPSG:31467', 'EPSG:31468', 'EPSG:31469', 'EPSG:3035']);

/**
 * Normalise a configured code as MapProxy does: upper case, and bare digits mean `EPSG:<n>`
 * (`'31466'` → `EPSG:31466`, `'epsg:4326'` → `EPSG:4326`).
 */
export function normalizeSrsCode(code: string | number): string {
  const s = String(code).trim();
  if (/^\d+$/.test(s)) return `EPSG:${s}`;
  return s.toUpperCase();
}

/** What one configuration says about SRSs (`globals.srs`). */
export interface SrsSettings {
  /** `globals.srs.proj4_defs`: code → proj4 string (or WKT); replaces a built-in code's definition. */
  readonly proj4Defs?: Readonly<Record<string, string>>;
  /** `globals.srs.axis_order_ne`: codes written north/east (wins over `axisOrderEN`). */
  readonly axisOrderNE?: readonly string[];
  /** `globals.srs.axis_order_en`: codes written east/north. */
  readonly axisOrderEN?: readonly string[];
}

/**
 * The SRSs of one configuration: the built-in definitions, its `globals.srs.proj4_defs` and its
 * axis-order overrides, fixed at creation. Each configuration builds its own, so projects of a
 * MultiMapProxy (and a reloaded configuration) never see each other's settings, as MapProxy's
 * per-app base_config keeps them apart. Instances are cached per code; the proj4 library and the
 * built-in definitions are shared.
 */
export class SrsRegistry {
  readonly #userDefs = new Map<string, string>();
  readonly #axisNE: ReadonlySet<string>;
  readonly #axisEN: ReadonlySet<string>;
  readonly #cache = new Map<string, SrsImpl>();

  /**
   * @throws ConfigError naming `globals.srs.proj4_defs["<code>"]` for every string proj4 cannot parse.
   */
  constructor(settings: SrsSettings = {}) {
    const problems: ConfigProblem[] = [];
    for (const [code, def] of Object.entries(settings.proj4Defs ?? {})) {
      try {
        proj4Lib().Proj(def);
      } catch (err) {
        problems.push({
          // Quoted as config paths are shown (config/util.ts formatPath): codes have a colon.
          path: `globals.srs.proj4_defs${/^[A-Za-z0-9_-]+$/.test(code) ? `.${code}` : `[${JSON.stringify(code)}]`}`,
          message: `invalid proj4 definition ${JSON.stringify(def)}${err instanceof Error && err.message ? `: ${err.message}` : ''}`,
        });
        continue;
      }
      this.#userDefs.set(normalizeSrsCode(code), def);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    this.#axisNE = new Set((settings.axisOrderNE ?? []).map(normalizeSrsCode));
    this.#axisEN = new Set((settings.axisOrderEN ?? []).map(normalizeSrsCode));
  }

  /**
   * The SRS for a code (`EPSG:3857`, `epsg:900913`, `CRS:84`, `4326`). Instances are cached per
   * code; aliases are distinct instances that compare equal.
   * @throws UnknownSrsError when neither a built-in nor a user definition exists.
   */
  get(code: string | number): Srs {
    const norm = normalizeSrsCode(code);
    let srs = this.#cache.get(norm);
    if (!srs) {
      const user = this.#userDefs.get(norm);
      const def = user ?? BUILTIN[norm];
      if (def === undefined) throw new UnknownSrsError(norm);
      // Overrides win over the built-in table; a code in both lists is NE.
      const axisNE = this.#axisNE.has(norm) ? true : this.#axisEN.has(norm) ? false : undefined;
      srs = new SrsImpl(norm, ALIASES[norm] ?? norm, def, user !== undefined, axisNE);
      this.#cache.set(norm, srs);
    }
    return srs;
  }

  /** True when `get(code)` would succeed. */
  isKnown(code: string | number): boolean {
    const norm = normalizeSrsCode(code);
    return this.#userDefs.has(norm) || norm in BUILTIN;
  }
}

/** The built-in SRSs alone (no user definitions, no overrides): for code that has no configuration. */
export const BUILTIN_SRS = new SrsRegistry();

/**
 * The built-in SRS for a code, without any configuration's definitions or overrides (see
 * `SrsRegistry.get`; a configuration resolves codes through its own registry).
 * @throws UnknownSrsError when the code is not built in.
 */
export function getSrs(code: string | number): Srs {
  return BUILTIN_SRS.get(code);
}

/** True when `code` is built in (`getSrs(code)` would succeed). */
export function isKnownSrs(code: string | number): boolean {
  return BUILTIN_SRS.isKnown(code);
}

const LATLONG_NAMES = new Set(['longlat', 'latlong', 'lonlat', 'latlon', 'identity']);

class SrsImpl implements Srs {
  readonly code: string;
  readonly srsKey: string;
  readonly isLatLong: boolean;
  readonly isAxisOrderNE: boolean;
  readonly #def: string;
  #proj: ReturnType<Proj4['Proj']> | undefined;
  readonly #userDefined: boolean;
  // By instance, not code: the same code may have other definitions in other registries.
  readonly #converters = new WeakMap<SrsImpl, PointTransform>();

  /** `axisNE`: the configuration's override, undefined when it has none for this code. */
  constructor(code: string, srsKey: string, def: string, userDefined: boolean, axisNE: boolean | undefined) {
    this.code = code;
    this.srsKey = srsKey;
    this.#def = def;
    this.#userDefined = userDefined;
    // A built-in definition is a proj4 string whose `+proj=` names it; a user's (a WKT too) is
    // asked of proj4, as it parses it.
    const name = userDefined ? (this.#projection() as unknown as { projName?: string }).projName : projNameOf(def);
    this.isLatLong = LATLONG_NAMES.has(String(name));
    // Not in the built-in table: geographic systems are lat/lon, as MapProxy's defaults say.
    this.isAxisOrderNE = axisNE ?? (code === 'CRS:84' ? false : BUILTIN_NE.has(code) ? true : userDefined && this.isLatLong);
  }

  /** proj4's projection of this definition, made on first use. */
  #projection(): ReturnType<Proj4['Proj']> {
    this.#proj ??= proj4Lib().Proj(this.#def);
    return this.#proj;
  }

  equals(other: Srs): boolean {
    return this.srsKey === other.srsKey;
  }

  transformTo(other: Srs, points: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
    if (this.equals(other)) return points.map((p) => [p[0], p[1]]);
    const conv = this.#converter(other);
    return points.map((p) => conv(p[0], p[1]));
  }

  transformBboxTo(other: Srs, bbox: Bbox, segments = 16): Bbox {
    if (this.equals(other)) return bbox;
    const pts = this.transformTo(other, envelopePoints(bbox, segments));
    let minx = Infinity;
    let miny = Infinity;
    let maxx = -Infinity;
    let maxy = -Infinity;
    // Points PROJ cannot transform (poles in Mercator) come back non-finite and are skipped.
    for (const [x, y] of pts) {
      if (Number.isFinite(x)) {
        minx = Math.min(minx, x);
        maxx = Math.max(maxx, x);
      }
      if (Number.isFinite(y)) {
        miny = Math.min(miny, y);
        maxy = Math.max(maxy, y);
      }
    }
    if (minx === Infinity || miny === Infinity) throw new TransformationError(this.code, other.code, bbox);
    // MapProxy: 4326 → 3857/900913 pins the result to the Mercator square at ±180° and ±85.06°.
    if (this.code === 'EPSG:4326' && (other.code === 'EPSG:3857' || other.code === 'EPSG:900913')) {
      const m = 20037508.342789244;
      if (bbox[0] <= -180) minx = -m;
      if (bbox[1] <= -85.06) miny = -m;
      if (bbox[2] >= 180) maxx = m;
      if (bbox[3] >= 85.06) maxy = m;
    }
    return [minx, miny, maxx, maxy];
  }

  alignBboxAxis(bbox: Bbox): Bbox {
    return this.isAxisOrderNE ? [bbox[1], bbox[0], bbox[3], bbox[2]] : bbox;
  }

  toString(): string {
    return this.code;
  }

  #converter(other: Srs): PointTransform {
    if (!(other instanceof SrsImpl)) throw new TypeError(`not an SRS of this module: ${other.code}`);
    let conv = this.#converters.get(other);
    if (!conv) {
      const builtinPair = !this.#userDefined && !other.#userDefined;
      if (builtinPair && this.srsKey === 'EPSG:4326' && other.srsKey === 'EPSG:3857') conv = lonLatToWebMercator;
      else if (builtinPair && this.srsKey === 'EPSG:3857' && other.srsKey === 'EPSG:4326') conv = webMercatorToLonLat;
      else {
        const c = proj4Lib()(this.#projection(), other.#projection());
        conv = (x, y) => c.forward([x, y]) as [number, number];
      }
      this.#converters.set(other, conv);
    }
    return conv;
  }
}

type PointTransform = (x: number, y: number) => [number, number];

const WEBMERC_A = 6378137;
const DEG_TO_RAD = Math.PI / 180;
const RAD_TO_DEG = 180 / Math.PI;

/** Wrap a longitude in radians into [-π, π], letting it overshoot by 1e-12 as PROJ's adjlon does. */
function adjlon(lam: number): number {
  if (Math.abs(lam) < Math.PI + 1e-12) return lam;
  const t = lam + Math.PI;
  return t - 2 * Math.PI * Math.floor(t / (2 * Math.PI)) - Math.PI;
}

// WGS84 lon/lat <-> web mercator with PROJ's `webmerc` formulas (asinh(tan φ), atan(sinh y)) and
// its order of operations, so results match MapProxy's pyproj to the last bit far more often than
// proj4js's generic path: 0° maps to exactly 0, ±20037508.342789244 back to exactly ±180°, and the
// poles to the same finite 242528680.94374272 PROJ gives.
const lonLatToWebMercator: PointTransform = (lon, lat) => [
  WEBMERC_A * adjlon(lon * DEG_TO_RAD),
  WEBMERC_A * Math.asinh(Math.tan(lat * DEG_TO_RAD)),
];
const webMercatorToLonLat: PointTransform = (x, y) => [
  adjlon(x * (1 / WEBMERC_A)) * RAD_TO_DEG,
  Math.atan(Math.sinh(y * (1 / WEBMERC_A))) * RAD_TO_DEG,
];

/**
 * The points of a ring around `bbox`, `n` in all (at least the 4 corners), counter-clockwise from
 * the lower-left corner, spaced evenly along each edge (MapProxy's generate_envelope_points).
 */
export function envelopePoints(bbox: Bbox, n: number): Array<[number, number]> {
  const steps = (n <= 4 ? 0 : Math.ceil((n - 4) / 4)) + 1;
  const width = bbox[2] - bbox[0];
  const height = bbox[3] - bbox[1];
  const minx = Math.min(bbox[0], bbox[2]);
  const maxx = Math.max(bbox[0], bbox[2]);
  const miny = Math.min(bbox[1], bbox[3]);
  const maxy = Math.max(bbox[1], bbox[3]);
  const xstep = width / steps;
  const ystep = height / steps;
  const out: Array<[number, number]> = [];
  for (let i = 0; i <= steps; i++) out.push([minx + i * xstep, miny]);
  for (let i = 1; i < steps; i++) out.push([maxx, miny + i * ystep]);
  for (let i = steps; i >= 0; i--) out.push([minx + i * xstep, maxy]);
  for (let i = steps - 1; i > 0; i--) out.push([minx, miny + i * ystep]);
  return out;
}
