/**
 * Reading a mapproxy.yaml from disk: YAML as PyYAML reads it, `$VAR` substitution per file, and
 * the `base:` includes loaded recursively and merged as MapProxy does (REFERENCE.md §2.1). Every
 * failure here (missing file, YAML syntax, include cycle) is a `ConfigError` naming the file.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { expandEnv } from './env.js';
import { mergeConfig } from './merge.js';
import { keyTree, type ConfigOrigin } from './origins.js';
import { isPlainObject } from './util.js';
import { parseYaml, syntaxProblem } from './yaml.js';

/** The merged configuration of a file and its includes. */
export interface LoadedConfig {
  /** The merged mapping, `base` removed; not yet validated. */
  config: Record<string, unknown>;
  /** Absolute paths of every file read (main file first), for the auto-reloader. */
  files: string[];
  /** Absolute directory of the main file: relative paths in the config are relative to it. */
  dir: string;
  /** Each file's keys, for naming the file a problem comes from (see origins.ts). */
  origins: ConfigOrigin[];
}

/** Options for tests and embedding. */
export interface LoadOptions {
  /** Variables for `$VAR` substitution; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

interface LoadState {
  files: string[];
  /** Files being loaded, outermost first, to detect include cycles. */
  stack: string[];
  env: NodeJS.ProcessEnv;
  mainDir: string;
  /** Each file's keys as read, in the order the merge lets them win. */
  origins: ConfigOrigin[];
}

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
};

/**
 * Load a configuration file and its `base:` includes and merge them.
 * @throws ConfigError when a file cannot be read or parsed, or the includes form a cycle.
 */
export async function loadConfigFile(file: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const files: string[] = [];
  const origins: ConfigOrigin[] = [];
  const config = await loadConfigInto(file, files, opts, origins);
  return { config, files, dir: path.dirname(path.resolve(file)), origins };
}

/**
 * Like `loadConfigFile`, but records the files read in `files` as it goes, so a caller still knows
 * them when loading fails part-way (check-config lists them).
 */
export async function loadConfigInto(
  file: string,
  files: string[],
  opts: LoadOptions = {},
  origins: ConfigOrigin[] = [],
): Promise<Record<string, unknown>> {
  const abs = path.resolve(file);
  const state: LoadState = { files, stack: [], env: opts.env ?? process.env, mainDir: path.dirname(abs), origins };
  return loadFiles([{ file: abs, path: '' }], undefined, state);
}

/** One file to load and where it was named (`base`, `base[1]`; empty for the main file). */
interface Entry {
  file: string;
  path: string;
}

/**
 * MapProxy's `load_configuration_file`: each file is merged with its own includes (the file wins),
 * then the files of one `base` list are merged with each other, an earlier file winning over a
 * later one.
 */
async function loadFiles(
  entries: readonly Entry[],
  includer: string | undefined,
  state: LoadState,
): Promise<Record<string, unknown>> {
  let merged: Record<string, unknown> = {};
  for (const entry of entries) {
    if (state.stack.includes(entry.file)) {
      const chain = [...state.stack.slice(state.stack.indexOf(entry.file)), entry.file];
      const message = `include cycle: ${chain.map((f) => shortName(f, state)).join(' -> ')}`;
      throw new ConfigError([{ path: entry.path, message }], includer);
    }
    let current = await readOne(entry, includer, state);
    // Before its includes: the order in which the merge lets files win (see origins.ts).
    state.origins.push({ file: entry.file, keys: keyTree(current) });
    if (Object.hasOwn(current, 'base')) {
      const bases = baseEntries(current.base, entry.file);
      delete current.base;
      state.stack.push(entry.file);
      const imported = await loadFiles(bases, entry.file, state);
      state.stack.pop();
      current = mergeConfig(current, imported);
    }
    merged = mergeConfig(merged, current);
  }
  return merged;
}

/** Read, parse and env-expand one file; it must hold a YAML mapping. */
async function readOne(entry: Entry, includer: string | undefined, state: LoadState): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(entry.file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const reason = FS_REASONS[code] ?? (err as Error).message;
    if (includer === undefined) throw new ConfigError([{ path: '', message: `cannot read the file: ${reason}` }], entry.file);
    const message = `cannot read ${shortName(entry.file, state)}: ${reason}`;
    throw new ConfigError([{ path: entry.path, message }], includer);
  }
  if (!state.files.includes(entry.file)) state.files.push(entry.file);
  let doc: unknown;
  try {
    doc = parseYaml(text, entry.file);
  } catch (err) {
    const syntax = syntaxProblem(err);
    if (!syntax) throw err;
    const message = `YAML syntax error at line ${syntax.line}, column ${syntax.column}: ${syntax.reason}`;
    throw new ConfigError([{ path: '', message }], entry.file);
  }
  if (doc === undefined || doc === null) {
    throw new ConfigError([{ path: '', message: 'the file is empty (a configuration is a YAML mapping)' }], entry.file);
  }
  if (!isPlainObject(doc)) {
    throw new ConfigError([{ path: '', message: 'not a YAML mapping (a configuration is a mapping of keys to values)' }], entry.file);
  }
  return expandEnv(doc, state.env) as Record<string, unknown>;
}

/** The files named by `base:` (a name or a list of names), resolved against the including file. */
function baseEntries(value: unknown, includer: string): Entry[] {
  const dir = path.dirname(includer);
  if (typeof value === 'string') return [{ file: path.resolve(dir, value), path: 'base' }];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.map((v: string, i) => ({ file: path.resolve(dir, v), path: `base[${i}]` }));
  }
  const got = Array.isArray(value) ? 'a list with other values' : JSON.stringify(value) ?? String(value);
  throw new ConfigError([{ path: 'base', message: `expected a file name or a list of file names, got ${got}` }], includer);
}

/** A path relative to the main file's directory when inside it (shorter messages), else absolute. */
function shortName(file: string, state: LoadState): string {
  const rel = path.relative(state.mainDir, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}
