/**
 * Files a source reads at start-up, relative to the configuration's directory (MapProxy resolves
 * `sld: file://…` and `ssl_ca_certs` against the directory of mapproxy.yaml, REFERENCE §2.1).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

/** `p` resolved against `dir` (an absolute `p` stays where it is), normalised: no `.`/`..` left. */
export function resolveConfigPath(dir: string, p: string): string {
  return path.resolve(dir, p);
}

/** Read an `sld: file://<path>` at start-up; throws ConfigError at `yamlPath` when it cannot. */
export function readSldFile(url: string, configDir: string, yamlPath: string): string {
  const file = resolveConfigPath(configDir, decodeURIComponent(url.slice('file://'.length)));
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: yamlPath, message: `cannot read SLD file ${file}: ${(err as Error).message}` }]);
  }
}
