/**
 * Where the operational routes (`/healthz`, `/readyz`, `/metrics`; beyond MapProxy) answer: the
 * path rules shared by the request router (router.ts) and the command line (`--health-path`,
 * `--ready-path`, `--metrics-path`), kept apart from the router so that parsing a command line
 * loads none of the services.
 */
import { ConfigError } from '../errors.js';

/** The three paths; `false` turns a route off (404). Absent: the default (`OPERATIONAL_DEFAULTS`). */
export interface OperationalPaths {
  /** Liveness: `200 ok` while the process answers at all. Default `/healthz`. */
  readonly healthPath?: string | false;
  /**
   * Readiness: `200 ready` once the configuration is loaded and the cache and lock directories
   * can be written, `503 not ready` otherwise (starting, draining). Default `/readyz`.
   */
  readonly readyPath?: string | false;
  /** Prometheus text (the cluster sum under `serve`). Default `/metrics`. */
  readonly metricsPath?: string | false;
}

export type OperationalPathKey = keyof OperationalPaths;

export const OPERATIONAL_DEFAULTS: Readonly<Record<OperationalPathKey, string>> = Object.freeze({
  healthPath: '/healthz',
  readyPath: '/readyz',
  metricsPath: '/metrics',
});

/**
 * The first path segments of every service a configuration may have (router.ts: `tiles` is TMS's
 * other name; `service`, `ows` and `wms` the OWS dispatcher). The command line keeps operational
 * paths out of all of them, whatever the configuration serves, so that no configuration (nor a
 * reload) can clash with them.
 */
export const SERVICE_SEGMENTS: readonly string[] = Object.freeze(['service', 'ows', 'wms', 'wmts', 'tms', 'tiles', 'kml', 'demo']);

/**
 * An absolute path of one or more segments of RFC 3986's unreserved characters, none of them `.`
 * or `..`: nothing a client or a proxy would encode or normalise (routes are compared with the
 * decoded path, and curl or a kubelet drop dot segments), no query, no trailing slash.
 */
const ROUTE_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._~-]+)+$/;

/** `/a/b` → `a`. */
export function firstSegment(path: string): string {
  const slash = path.indexOf('/', 1);
  return slash < 0 ? path.slice(1) : path.slice(1, slash);
}

/** The path of `value` for option `key` (`false`: off, undefined: `fallback`); ConfigError when malformed. */
export function checkOperationalPath(key: string, value: unknown, fallback: string): string | null {
  if (value === false) return null;
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !ROUTE_PATH.test(value)) {
    throw new ConfigError([{
      path: `observability.${key}`,
      message: `must be false or an absolute path like ${JSON.stringify(fallback)} (segments of letters, digits and - . _ ~; not "/", "." or "..", no trailing slash), got ${JSON.stringify(value)}`,
    }]);
  }
  return value;
}

/** The command-line options of each path. */
export const OPERATIONAL_FLAGS: Readonly<Record<OperationalPathKey, string>> = Object.freeze({
  healthPath: 'health-path',
  readyPath: 'ready-path',
  metricsPath: 'metrics-path',
});

/**
 * `--health-path`, `--ready-path`, `--metrics-path` as given on a command line (`values`, by
 * option name): `off` turns the route off, else an absolute path outside every service and
 * different from the other two. `bad` makes the usage error of the command.
 */
export function parseOperationalFlags(values: Readonly<Record<string, unknown>>, bad: (message: string) => Error): OperationalPaths {
  const keys = Object.keys(OPERATIONAL_FLAGS) as OperationalPathKey[];
  const out: { -readonly [K in OperationalPathKey]?: string | false } = {};
  for (const key of keys) {
    const flag = OPERATIONAL_FLAGS[key];
    const value = values[flag];
    if (value === undefined) continue;
    const v = String(value);
    if (v === 'off') {
      out[key] = false;
    } else if (!ROUTE_PATH.test(v)) {
      throw bad(`invalid --${flag} "${v}": expected off or an absolute path like ${OPERATIONAL_DEFAULTS[key]} (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)`);
    } else if (SERVICE_SEGMENTS.includes(firstSegment(v))) {
      throw bad(`invalid --${flag} "${v}": /${firstSegment(v)} is where a service answers`);
    } else {
      out[key] = v;
    }
  }
  const at = (key: OperationalPathKey): string | false => out[key] ?? OPERATIONAL_DEFAULTS[key];
  for (const [i, a] of keys.entries()) {
    for (const b of keys.slice(i + 1)) {
      if (at(a) === false || at(a) !== at(b)) continue;
      // The option given names the error; when both were given, the later one.
      const [given, other] = out[b] !== undefined ? [b, a] : [a, b];
      throw bad(`invalid --${OPERATIONAL_FLAGS[given]} "${String(at(given))}": the ${ROUTE_NAMES[other]} route answers there (move it with --${OPERATIONAL_FLAGS[other]})`);
    }
  }
  return out;
}

const ROUTE_NAMES: Readonly<Record<OperationalPathKey, string>> = { healthPath: 'health', readyPath: 'readiness', metricsPath: 'metrics' };
