/**
 * Validation of a loaded configuration, in MapProxy's passes (REFERENCE.md §1.6): shape and types
 * against the schema (unknown keys only warn), what mapproxy-ts does not support yet, and
 * references and rules across sections. Every problem is collected and reported at once, in the
 * order of the file.
 */
import { dirname, isAbsolute, relative } from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { prepareConfig } from './prepare.js';
import { checkReferences } from './references.js';
import { originOf, type ConfigOrigin } from './origins.js';
import { checkSchema } from './schema-check.js';
import type { MapProxyConfig } from './schema.js';
import { checkSupport } from './support-check.js';
import { formatPath, isPlainObject } from './util.js';

/** Options of `validateConfig`. */
export interface ValidateOptions {
  /** The main file, named in the ConfigError. */
  file?: string;
  /** Directory of the main file (relative paths in the config are relative to it). */
  dir?: string;
  /** The loaded files' keys (`loadConfigFile(...).origins`): problems from an included file name it. */
  origins?: readonly ConfigOrigin[];
}

/**
 * `problems` with ` (in <file>)` after the message of each one whose path an included file sets
 * (see origins.ts); the file relative to the main file's directory when it lies below it.
 */
export function withOrigins(problems: readonly ConfigProblem[], origins: readonly ConfigOrigin[] | undefined): ConfigProblem[] {
  if (!origins || origins.length < 2) return [...problems];
  const main = origins[0].file;
  return problems.map((p) => {
    const from = p.path ? originOf(p.path, origins) : undefined;
    if (from === undefined || from === main) return p;
    const rel = relative(dirname(main), from);
    return { ...p, message: `${p.message} (in ${rel.startsWith('..') || isAbsolute(rel) ? from : rel})` };
  });
}

/** Everything the checks found, without throwing. */
export interface ConfigReport {
  /** The configuration in its normal shape (only meaningful when `problems` is empty). */
  config: Record<string, unknown>;
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
}

/** Run every check on `raw` (not modified) and return all problems and warnings. */
export function inspectConfig(raw: Record<string, unknown>): ConfigReport {
  const { data, problems: shapeProblems } = prepareConfig(raw);
  const schema = checkSchema(data);
  const support = checkSupport(data, { unknown: schema.unknown, invalid: new Set(schema.problems.map((p) => p.path)) });
  const refs = checkReferences(data, { layersReported: shapeProblems.some((p) => p.path === 'layers') });
  const order = documentOrder(data);
  const problems = inDocumentOrder([...shapeProblems, ...schema.problems, ...support, ...refs.problems], order);
  const warnings = inDocumentOrder([...schema.warnings, ...refs.warnings], order);
  delete data.base;
  return { config: data, problems, warnings };
}

/**
 * Validate a loaded configuration (`loadConfigFile(...).config`).
 * @returns the configuration with `layers` as a list and `caches` as a mapping, and the warnings
 *   (unknown keys and what MapProxy only warns about).
 * @throws ConfigError listing every problem found, each with its YAML path.
 */
export function validateConfig(
  raw: Record<string, unknown>,
  opts: ValidateOptions = {},
): { config: MapProxyConfig; warnings: ConfigProblem[] } {
  const report = inspectConfig(raw);
  if (report.problems.length > 0) throw new ConfigError(withOrigins(report.problems, opts.origins), opts.file);
  return { config: report.config as MapProxyConfig, warnings: withOrigins(report.warnings, opts.origins) };
}

/** Position of every path of `data` in a depth-first walk, i.e. the order of the YAML file. */
function documentOrder(data: unknown): Map<string, number> {
  const order = new Map<string, number>();
  const walk = (value: unknown, segs: Array<string | number>): void => {
    order.set(formatPath(segs), order.size);
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...segs, i]));
    else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) walk(v, [...segs, k]);
  };
  walk(data, []);
  return order;
}

// The last `.key`, `[3]` or `["key"]` of a formatted path.
const LAST_SEGMENT = /(?:\.[A-Za-z0-9_-]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\]|^[A-Za-z0-9_-]+)$/;

function positionOf(path: string, order: Map<string, number>): number {
  let p = path;
  while (p !== '') {
    const pos = order.get(p);
    if (pos !== undefined) return pos;
    const trimmed = p.replace(LAST_SEGMENT, '');
    if (trimmed === p) break;
    p = trimmed;
  }
  return order.get('') ?? 0;
}

/** Sort problems by where their path is in the file (a stable sort keeps the passes' order). */
function inDocumentOrder(problems: ConfigProblem[], order: Map<string, number>): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i, pos: positionOf(p.path, order) }))
    .sort((a, b) => a.pos - b.pos || a.i - b.i)
    .map((x) => x.p);
}
