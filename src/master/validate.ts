/**
 * The master's configuration check: load (with every `base:` file), validate and build the
 * configuration exactly as a worker will, then release what the build opened. Run before the
 * first fork and before every reload, so a bad configuration never reaches a worker.
 */
import { stat } from 'node:fs/promises';
import { loadConfigFile, validateConfig } from '../config/index.js';
import { buildConfig } from '../config/build.js';
import { ConfigError } from '../errors.js';
import type { ConfigSnapshot } from '../worker/protocol.js';

/** What a successful check read. */
export interface ServeConfigCheck {
  /** The main file and every `base:` it includes, absolute. */
  readonly files: readonly string[];
  /** Warnings (path + message); the workers log them again when they build the app. */
  readonly warnings: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  /** What the workers build (none with multiapp: projects load in the workers). */
  readonly snapshot?: ConfigSnapshot;
}

/**
 * Check `file` as `serve` will use it. Rejects with `ConfigError` (every problem, with YAML paths)
 * when it cannot be read, is invalid, or uses something not supported.
 */
export async function checkServeConfig(file: string, multiapp = false): Promise<ServeConfigCheck> {
  if (multiapp) {
    // Projects load lazily in the workers, as MapProxy's MultiMapProxy does (a broken project
    // answers 500 and does not stop the others); the master only needs the directory.
    const st = await stat(file).catch(() => null);
    if (!st?.isDirectory()) throw new ConfigError([{ path: '', message: `not a directory of configurations: ${file}` }]);
    return { files: [], warnings: [] };
  }
  const { config: raw, files, dir, origins } = await loadConfigFile(file);
  const { config, warnings } = validateConfig(raw, { file, dir, origins });
  const built = buildConfig(config, { dir, file });
  await built.close();
  const plain = warnings.map((w) => ({ path: w.path, message: w.message }));
  return { files, warnings: plain, snapshot: { file, dir, files, config: config as unknown as Record<string, unknown>, warnings: plain } };
}
