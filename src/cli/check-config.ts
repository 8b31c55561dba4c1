/**
 * `mapproxy-ts check-config`: load and validate a configuration, then build it (grids, sources,
 * caches) without serving, and print every problem with its YAML path. Exit 0 valid, 1 invalid.
 */
import { checkConfigFile, loadConfigFile, validateConfig } from '../config/index.js';
import { ConfigError, type ConfigProblem } from '../errors.js';

const line = (p: ConfigProblem): string => (p.path ? `${p.path}: ${p.message}` : p.message);

/** Print the problems of `file`; resolves to the exit code. */
export async function checkConfigCommand(file: string): Promise<number> {
  const result = await checkConfigFile(file);
  for (const w of result.warnings) process.stderr.write(`warning: ${line(w)}\n`);
  let problems: readonly ConfigProblem[] = result.problems;
  if (result.ok) {
    // Building loads the image and HTTP stacks: only worth it once the file itself is valid.
    const { buildConfig } = await import('../config/build.js');
    const { handlerFromConfig } = await import('../app/from-config.js');
    try {
      const { config, dir, origins } = await loadConfigFile(file);
      // Warnings that only the build can tell (the descriptor limit, …) read like the others.
      const warn = (w: ConfigProblem): void => void process.stderr.write(`warning: ${line(w)}\n`);
      const built = buildConfig(validateConfig(config, { file, dir, origins }).config, { dir, file, warn });
      try {
        // The services check their own options (e.g. services.wmts.restful_template).
        handlerFromConfig(built);
      } finally {
        await built.close();
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
    for (const p of problems) process.stderr.write(`  ${line(p)}\n`);
    return 1;
  }
  process.stdout.write(`${file}: ok\n`);
  return 0;
}
