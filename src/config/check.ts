/**
 * The `check-config` command's view of a configuration file: load it with its includes and run
 * every check, returning problems and warnings instead of throwing.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { loadConfigInto, type LoadOptions } from './load.js';
import type { ConfigOrigin } from './origins.js';
import { inspectConfig, withOrigins } from './validate.js';

/** The outcome of checking one configuration file. */
export interface ConfigCheck {
  /** True when the configuration can be used (warnings allowed). */
  ok: boolean;
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
  /** Absolute paths of the files read (main file and includes), also when loading failed. */
  files: string[];
}

/**
 * Load and validate `file`. Never throws for problems of the configuration (unreadable files,
 * YAML syntax, invalid values); they come back in `problems`, each with its path.
 */
export async function checkConfigFile(file: string, opts: LoadOptions = {}): Promise<ConfigCheck> {
  const files: string[] = [];
  const origins: ConfigOrigin[] = [];
  let raw: Record<string, unknown>;
  try {
    raw = await loadConfigInto(file, files, opts, origins);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // A problem in an included file names that file, so the user knows where to look.
    const problems = err.problems.map((p) =>
      err.file !== undefined && files.length > 0 && err.file !== files[0] ? { ...p, message: `${err.file}: ${p.message}` } : p,
    );
    return { ok: false, problems, warnings: [], files };
  }
  const report = inspectConfig(raw);
  const problems = withOrigins(report.problems, origins);
  return { ok: problems.length === 0, problems, warnings: withOrigins(report.warnings, origins), files };
}
