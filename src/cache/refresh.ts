/**
 * `refresh_before` of a cache: when a stored tile counts as too old and is re-created on request
 * (REFERENCE.md §1.5). MapProxy compares whole seconds: stale when `int(mtime) <= limit`.
 */
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

const UNITS: Record<string, number> = { weeks: 604800, days: 86400, hours: 3600, minutes: 60, seconds: 1 };

/**
 * Build the staleness test. `conf` is one of `{ time: ISO date/time }`, `{ mtime: file }` (the
 * file's current mtime is the limit, read at most once a second), or any of weeks/days/hours/
 * minutes/seconds (relative to now). `path` names the YAML key in errors.
 */
export function refreshBefore(conf: Record<string, unknown>, dir: string, path: string): (mtimeMs: number) => boolean {
  if (typeof conf.time === 'string' || conf.time instanceof Date) {
    const t = conf.time instanceof Date ? conf.time.getTime() : Date.parse(conf.time);
    if (Number.isNaN(t)) throw new ConfigError([{ path: `${path}.time`, message: `expected a date and time like 2024-01-31T12:00:00, got "${String(conf.time)}"` }]);
    const limit = Math.floor(t / 1000);
    return (mtime) => Math.floor(mtime / 1000) <= limit;
  }
  if (typeof conf.mtime === 'string') {
    const file = isAbsolute(conf.mtime) ? conf.mtime : resolve(dir, conf.mtime);
    // Read once now (start-up), then refreshed in the background at most once a second, so the
    // hit path never waits on the file system for it.
    const read = (ms: number | undefined): number => (ms === undefined ? -Infinity : Math.floor(ms / 1000));
    let limit = read(statSync(file, { throwIfNoEntry: false })?.mtimeMs);
    let checked = Date.now();
    return (mtime) => {
      const now = Date.now();
      if (now - checked > 1000) {
        checked = now;
        stat(file).then((st) => { limit = read(st.mtimeMs); }, () => { limit = -Infinity; });
      }
      return Math.floor(mtime / 1000) <= limit;
    };
  }
  let seconds = 0;
  let any = false;
  for (const [k, v] of Object.entries(conf)) {
    const unit = UNITS[k];
    if (unit === undefined) throw new ConfigError([{ path: `${path}.${k}`, message: 'expected one of time, mtime, weeks, days, hours, minutes, seconds' }]);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError([{ path: `${path}.${k}`, message: `expected a number, got ${JSON.stringify(v)}` }]);
    seconds += v * unit;
    any = true;
  }
  if (!any) throw new ConfigError([{ path, message: 'expected one of time, mtime, weeks, days, hours, minutes, seconds' }]);
  return (mtime) => Math.floor(mtime / 1000) <= Math.floor(Date.now() / 1000 - seconds);
}
