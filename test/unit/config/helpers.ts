// Shared helpers of the config tests: a minimal valid configuration to vary, and the checks' output.
import { inspectConfig } from '../../../src/config/validate.js';
import { parseYaml } from '../../../src/config/yaml.js';
import type { ConfigProblem } from '../../../src/errors.js';

/** A small valid configuration: one debug source behind one cache, one layer, TMS. */
export function minimal(): Record<string, unknown> {
  return {
    services: { tms: {} },
    layers: [{ name: 'l', title: 'L', sources: ['c'] }],
    caches: { c: { sources: ['s'] } },
    sources: { s: { type: 'debug' } },
  };
}

/** `minimal()` with top-level sections replaced or added. */
export function withSections(sections: Record<string, unknown>): Record<string, unknown> {
  return { ...minimal(), ...sections };
}

/** Problems and warnings of a configuration given as an object or as YAML text. */
export function report(config: Record<string, unknown> | string): { problems: ConfigProblem[]; warnings: ConfigProblem[] } {
  const raw = typeof config === 'string' ? (parseYaml(config) as Record<string, unknown>) : config;
  const { problems, warnings } = inspectConfig(raw);
  return { problems, warnings };
}

/** Just the problems, as `path: message` lines. */
export function problemLines(config: Record<string, unknown> | string): string[] {
  return report(config).problems.map((p) => `${p.path}: ${p.message}`);
}

/** Just the warnings, as `path: message` lines. */
export function warningLines(config: Record<string, unknown> | string): string[] {
  return report(config).warnings.map((p) => `${p.path}: ${p.message}`);
}
