/**
 * What `mapproxy-ts create -f` names, read as `serve` will read it: one configuration (loaded
 * with its `base:` files), or for the templates that run a server a MultiMapProxy directory
 * (`serve --multiapp`) whose projects are each loaded the same way; and the directories such a
 * configuration writes, which the pm2 and systemd templates need to know.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { listProjects } from '../app/multiapp.js';
import { buildConfig } from '../config/build.js';
import { loadConfigFile, validateConfig, type LoadedConfig } from '../config/index.js';

/** A problem with what `-f` names: one line on stderr, exit code 1. */
export class CreateError extends Error {}

/** One configuration file, loaded. */
export interface ReferencedConfig {
  readonly file: string;
  readonly loaded: LoadedConfig;
}

/** What `-f` names. */
export type Referenced =
  | ({ readonly kind: 'config' } & ReferencedConfig)
  /** A directory of `<name>.yaml` projects, served by `serve --multiapp` or createMultiApp. */
  | { readonly kind: 'multiapp'; readonly dir: string; readonly projects: readonly ReferencedConfig[] };

/**
 * Load `file` (YAML, `base:` includes), then validate and build it as `serve` does before it
 * forks; rejects with the same `ConfigError` as `serve` and `check-config`.
 */
async function loadChecked(file: string): Promise<LoadedConfig> {
  const loaded = await loadConfigFile(file);
  const { config } = validateConfig(loaded.config, { file, dir: loaded.dir, origins: loaded.origins });
  await buildConfig(config, { dir: loaded.dir, file }).close();
  return loaded;
}

/**
 * Read what `-f` names for `template`. A file is loaded and checked as `serve` checks it (for
 * seed-config, whose file is for MapProxy's seeder, only loaded), and
 * rejects with the same `ConfigError` as `serve` and `check-config` when it is not valid; a
 * directory is accepted where `multiapp` allows it, as `serve --multiapp` accepts it, and each
 * project in it is checked like a single file, so no template is written for a configuration
 * that `serve` would refuse.
 */
export async function readReferenced(template: string, file: string, multiapp: boolean): Promise<Referenced> {
  if (!existsSync(file)) throw new CreateError(`configuration not found: ${file}`);
  if (!statSync(file).isDirectory()) {
    // A seed.yaml is for MapProxy's seeder, which reads what mapproxy-ts does not support yet:
    // only what it needs (YAML, base: files, the caches) must be readable.
    return { kind: 'config', file, loaded: template === 'seed-config' ? await loadConfigFile(file) : await loadChecked(file) };
  }
  if (!multiapp) throw new CreateError(`${template} takes one configuration file, and ${file} is a directory (a MultiMapProxy project is ${path.join(file, '<name>.yaml')})`);
  let names: string[];
  try {
    names = await listProjects(file);
  } catch (err) {
    throw new CreateError(`cannot list the projects in ${file}: ${(err as Error).message}`);
  }
  const projects: ReferencedConfig[] = [];
  for (const name of names) {
    const project = path.join(file, `${name}.yaml`);
    projects.push({ file: project, loaded: await loadChecked(project) });
  }
  return { kind: 'multiapp', dir: file, projects };
}

/**
 * The directories a configuration writes: globals.cache base_dir, lock_dir and tile_lock_dir,
 * and each cache's cache_dir, directory and tile_lock_dir (MapProxy's defaults where unset).
 */
export function writableDirs({ config, dir }: Pick<LoadedConfig, 'config' | 'dir'>): string[] {
  const conf = config as { globals?: { cache?: Record<string, unknown> }; caches?: Record<string, Record<string, unknown>> };
  const g = conf.globals?.cache ?? {};
  const abs = (p: unknown, fallback: string): string => path.resolve(dir, typeof p === 'string' ? p : fallback);
  const dirs = [abs(g.base_dir, './cache_data'), abs(g.lock_dir, './cache_data/tile_locks')];
  if (typeof g.tile_lock_dir === 'string') dirs.push(abs(g.tile_lock_dir, ''));
  for (const c of Object.values(conf.caches ?? {})) {
    const backend = (c?.cache ?? {}) as Record<string, unknown>;
    for (const p of [c?.cache_dir, backend.directory, backend.tile_lock_dir]) if (typeof p === 'string') dirs.push(abs(p, ''));
  }
  return dirs;
}

/** `dirs` sorted, without repeats and without those inside another. */
export function outermostDirs(dirs: readonly string[]): string[] {
  const unique = [...new Set(dirs)].sort();
  return unique.filter((d) => !unique.some((o) => o !== d && d.startsWith(o + path.sep)));
}

/** The configuration files `-f` stands for: the file, or every project of the directory. */
export function configFiles(ref: Referenced): ReferencedConfig[] {
  return ref.kind === 'config' ? [ref] : [...ref.projects];
}

const under = (p: string, dirs: readonly string[]): boolean => dirs.some((t) => p === t || p.startsWith(t + '/'));

/**
 * The paths a systemd unit with `PrivateTmp=yes` cannot reach: those in /tmp or /var/tmp, which
 * the service sees as empty directories of its own.
 */
export function privateTmpPaths(paths: readonly string[]): string[] {
  return [...new Set(paths.map((p) => path.resolve(p)).filter((p) => under(p, ['/tmp', '/var/tmp'])))];
}

/**
 * The directories among `dirs` under /etc: written there, tiles and logs break the layout of
 * docs/deployment.md (nothing under /etc is written; under `ProtectSystem=strict` /etc is
 * read-only unless the unit opens it) and need root to create.
 */
export function etcPaths(dirs: readonly string[]): string[] {
  return [...new Set(dirs.map((p) => path.resolve(p)).filter((p) => under(p, ['/etc'])))];
}

/** The warning for `etcPaths`: where docs/deployment.md keeps tiles and logs instead. */
export function etcWarning(paths: readonly string[]): string {
  return (
    `the configuration writes under /etc: ${paths.join(', ')}; docs/deployment.md keeps tiles in /var/cache/mapproxy-ts ` +
    '(globals.cache base_dir, lock_dir and tile_lock_dir) and log files in /var/log/mapproxy-ts (file.path of the log configuration)'
  );
}
