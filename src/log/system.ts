/**
 * `logSystemInfo`: the versions a bug report needs, on `mapproxy.system` (MapProxy logs its
 * projection library there too). sharp and proj4 are loaded on demand so that a process that only
 * logs (the master) does not load libvips.
 */
import { createRequire } from 'node:module';
import { getLogger } from './logger.js';

/** What `logSystemInfo` reports. */
export interface SystemInfo {
  /** mapproxy-ts's version (package.json). */
  readonly version: string;
  /** `process.version`. */
  readonly node: string;
  /** sharp's and libvips's versions (`sharp.versions`). */
  readonly sharp: string;
  readonly libvips: string;
  /** proj4js's version. */
  readonly proj4: string;
}

// src/log/ and dist/log/ both sit two levels below package.json.
const packageVersion = (): string => (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Collect the versions. */
export async function systemInfo(): Promise<SystemInfo> {
  const { default: sharp } = await import('sharp');
  const { default: proj4 } = await import('proj4');
  return {
    version: packageVersion(),
    node: process.version,
    sharp: sharp.versions.sharp ?? 'unknown',
    libvips: sharp.versions.vips,
    proj4: (proj4 as unknown as { version?: string }).version ?? 'unknown',
  };
}

/**
 * Log the versions at `info` on `mapproxy.system` (one line): `known` (the serve master has them
 * from its check process), else collected here; resolves to them.
 */
export async function logSystemInfo(known?: SystemInfo): Promise<SystemInfo> {
  const info = known ?? (await systemInfo());
  getLogger('mapproxy.system').info(
    { ...info },
    `mapproxy-ts ${info.version}, Node ${info.node}, sharp ${info.sharp}, libvips ${info.libvips}, proj4 ${info.proj4}`,
  );
  return info;
}
