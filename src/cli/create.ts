/**
 * `mapproxy-ts create -t <template> <dest>` (MapProxy's `mapproxy-util create`): writes working
 * example files from `templates/`: a configuration pair, a seed or log configuration, an app
 * module, a pm2 ecosystem file or a systemd unit. Paths written into files are absolute.
 * Exit codes: 0 written, 1 failure (a file exists, a referenced configuration is missing or cannot
 * be read), 2 usage error.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import { hostPort } from '../app/listen.js';
import { configureLogging, loadLogConfig, type LogConfig } from '../log/index.js';
import {
  configFiles,
  CreateError,
  etcPaths,
  etcWarning,
  outermostDirs,
  privateTmpPaths,
  readReferenced,
  writableDirs,
  type Referenced,
} from './create-config.js';
import { GRACEFUL_DEFAULT, js, KILL_MARGIN, renderSystemdUnit, renderTemplate, ROOT, serveArgs, servedComment, template } from './create-render.js';
import { DEFAULT_BIND, negativeValues, parseArgsMessage, parseBind, UsageError } from './main.js';

export { privateTmpPaths } from './create-config.js';
export { renderSystemdUnit, renderTemplate, SYSTEMD_DEFAULTS, systemdWord, type SystemdUnitOptions } from './create-render.js';

/**
 * The templates, what each writes, whether it needs `-f`, and whether `-f` may name a MultiMapProxy
 * directory of configurations.
 */
export const TEMPLATES: Readonly<Record<string, { readonly help: string; readonly needsConfig: boolean; readonly multiapp?: boolean; readonly file?: string }>> = {
  'base-config': { help: 'mapproxy.yaml and seed.yaml in the directory <dest>', needsConfig: false },
  'seed-config': { help: "a seed.yaml for MapProxy's mapproxy-seed (with -f: seeding that configuration's caches)", needsConfig: false, file: 'seed.yaml' },
  'log-config': { help: 'a commented log configuration for serve --log-config', needsConfig: false, file: 'log.yaml' },
  app: { help: 'a JS module that serves the configuration with createApp (node:http, Express; createMultiApp for a directory)', needsConfig: true, multiapp: true, file: 'app.mjs' },
  pm2: { help: 'a pm2 ecosystem file running `mapproxy-ts serve`', needsConfig: true, multiapp: true, file: 'ecosystem.config.js' },
  systemd: { help: 'a systemd unit running `mapproxy-ts serve`', needsConfig: true, multiapp: true, file: 'mapproxy-ts.service' },
};

/** The help text of `create`. */
export const CREATE_HELP = `Usage: mapproxy-ts create -t <template> [-f mapproxy.yaml] [options] <dest>

Write a working example file (MapProxy's mapproxy-util create). <dest> is a file, or an existing
directory to write the template's usual file name into (a directory for base-config). The
configuration of -f (and of --log-config) is checked first, as serve checks it: one that serve would
refuse is refused (seed-config only reads it: MapProxy's seeder judges it). For app, pm2 and
systemd, -f may also name a directory of <name>.yaml projects, served as MultiMapProxy (serve
--multiapp, createMultiApp); each project is checked on its own.

Templates:
${Object.entries(TEMPLATES)
  .map(([name, t]) => `  ${name.padEnd(13)} ${t.help}${t.needsConfig ? ' (needs -f)' : ''}`)
  .join('\n')}

Options:
  -t, --template <name>         the template to write
  -f, --mapproxy-conf <file>    the configuration the file refers to (written as an absolute path);
                                app, pm2, systemd: or a directory of projects
  -l, --list-templates          list the templates
      --force                   overwrite existing files
  -b, --bind <host:port>        app, pm2, systemd: address to serve on (default ${DEFAULT_BIND.host}:${DEFAULT_BIND.port})
      --graceful-timeout <s>    pm2, systemd: serve's graceful timeout (default ${GRACEFUL_DEFAULT}); kill timeouts are ${KILL_MARGIN} s above it
      --log-config <file>       pm2, systemd: serve with this log configuration
      --user <name>             systemd: the dedicated user to run as (default mapproxy-ts)
  -h, --help                    show this help
`;

class CreateUsageError extends Error {}

/** The templates each option is for; given to another one it is refused, not ignored. */
const OPTION_TEMPLATES: Readonly<Record<string, readonly string[]>> = {
  'mapproxy-conf': ['seed-config', 'app', 'pm2', 'systemd'],
  bind: ['app', 'pm2', 'systemd'],
  'graceful-timeout': ['pm2', 'systemd'],
  'log-config': ['pm2', 'systemd'],
  user: ['systemd'],
};

/** `module` or `commonjs`: how Node loads a `.js` file in `dir` (the nearest package.json's type). */
async function moduleType(dir: string): Promise<'module' | 'commonjs'> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const pkg = JSON.parse(await readFile(path.join(d, 'package.json'), 'utf8')) as { type?: string };
      return pkg.type === 'module' ? 'module' : 'commonjs';
    } catch {
      // no (readable) package.json here: look one directory up
    }
    if (path.dirname(d) === d) return 'commonjs';
  }
}

/** `--bind` as `serve` will read it (`parseBind`), so a file is never written with one it refuses. */
function parseBindValue(value: string): { host: string; port: number } {
  try {
    return parseBind(value);
  } catch (err) {
    if (err instanceof UsageError) throw new CreateUsageError(err.message);
    throw err;
  }
}

interface Options {
  readonly template: string;
  readonly dest: string;
  readonly config: string | undefined;
  readonly force: boolean;
  readonly bind: string;
  readonly graceful: number;
  readonly logConfig: string | undefined;
  readonly user: string;
}

/** `dest`, or the template's file name inside it when `dest` is a directory. */
function target(dest: string, file: string): string {
  const p = path.resolve(dest);
  return existsSync(p) && statSync(p).isDirectory() ? path.join(p, file) : p;
}

/**
 * Where pm2 writes the master's stdout and stderr (`out_file`, `error_file`): the documented log
 * directory /var/log/mapproxy-ts when the configuration lives under /etc (docs/deployment.md's
 * layout: nothing under /etc is written), else `logs/` next to the configuration.
 */
export function pm2LogDir(configDir: string): string {
  const dir = path.resolve(configDir);
  return dir === '/etc' || dir.startsWith('/etc/') ? '/var/log/mapproxy-ts' : path.join(dir, 'logs');
}

/**
 * What `-f` and `--log-config` name, read before anything is written; undefined where a template
 * takes none.
 */
interface Inputs {
  readonly ref: Referenced | undefined;
  readonly log: LogConfig | undefined;
}

/** The directories the server writes: the cache and lock directories (of every project), then the log files' directory. */
function writtenDirs(ref: Referenced, log: LogConfig | undefined): string[] {
  const dirs = outermostDirs(configFiles(ref).flatMap((c) => writableDirs(c.loaded)));
  const logDir = log?.file ? path.dirname(log.file.path) : undefined;
  return logDir === undefined || dirs.some((d) => logDir === d || logDir.startsWith(d + path.sep)) ? dirs : [...dirs, logDir];
}

/** Seed-config's cache list: those of `-f`, or the base-config's. */
function seedCaches(ref: Referenced | undefined): string {
  if (!ref || ref.kind !== 'config') return '[osm_cache]';
  const names = Object.keys((ref.loaded.config as { caches?: Record<string, unknown> }).caches ?? {});
  if (names.length === 0) throw new CreateError(`${ref.file} has no caches to seed`);
  return `[${names.map((n) => (/^[A-Za-z0-9_.-]+$/.test(n) ? n : js(n))).join(', ')}]`;
}

async function filesFor(o: Options, { ref, log }: Inputs, warnings: string[]): Promise<{ path: string; content: string }[]> {
  // The templates that run a server: what they serve and where it works from.
  const served = ref === undefined ? undefined : ref.kind === 'config' ? ref.file : ref.dir;
  const multiapp = ref?.kind === 'multiapp';
  const cwd = ref === undefined ? undefined : ref.kind === 'config' ? path.dirname(ref.file) : ref.dir;
  if (ref?.kind === 'multiapp' && ref.projects.length === 0 && o.template !== 'systemd') {
    warnings.push(`${ref.dir} holds no project (<name>.yaml) yet: every project URL answers 404 until one is added`);
  }
  switch (o.template) {
    case 'base-config': {
      const dir = path.resolve(o.dest);
      if (existsSync(dir) && !statSync(dir).isDirectory()) throw new CreateUsageError(`base-config writes into a directory; ${o.dest} is a file`);
      return [
        { path: path.join(dir, 'mapproxy.yaml'), content: await template('base-config/mapproxy.yaml') },
        { path: path.join(dir, 'seed.yaml'), content: renderTemplate(await template('base-config/seed.yaml'), { caches: '[osm_cache]' }) },
      ];
    }
    case 'seed-config':
      return [{ path: target(o.dest, 'seed.yaml'), content: renderTemplate(await template('base-config/seed.yaml'), { caches: seedCaches(ref) }) }];
    case 'log-config':
      return [{ path: target(o.dest, 'log.yaml'), content: await template('log.yaml') }];
    case 'app': {
      let file = target(o.dest, 'app.mjs');
      if (path.extname(file) === '') file += '.mjs';
      if (file.endsWith('.cjs') || (file.endsWith('.js') && (await moduleType(path.dirname(file))) !== 'module')) {
        throw new CreateUsageError(`${path.basename(file)} would be loaded as CommonJS; the app is an ES module: name it ${path.basename(file).replace(/\.c?js$/, '.mjs')}`);
      }
      const { host, port } = parseBindValue(o.bind);
      const vars = {
        config_comment: servedComment(served!, multiapp),
        file_name: path.basename(file),
        package: js(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href),
        factory: multiapp ? 'createMultiApp' : 'createApp',
        create: multiapp ? 'createMultiApp(CONFIG)' : 'await createApp(CONFIG)',
        loading_comment: multiapp
          ? '// createMultiApp() serves every <dir>/<name>.yaml under /<name>/ and loads a project on its first\n' +
            '// request: a project whose configuration is invalid answers 500 and the log says why, while\n' +
            '// the others serve on.'
          : '// createApp() loads and validates the configuration once, at import; an invalid configuration\n' +
            '// rejects with a ConfigError that names the YAML path of every problem (run on its own, the\n' +
            '// module prints it and exits 78, as `mapproxy-ts serve` does).',
        config: js(served),
        host: js(host),
        port: js(port),
        address: hostPort(host, port),
      };
      return [{ path: file, content: renderTemplate(await template('app.mjs.tmpl'), vars) }];
    }
    case 'pm2': {
      const file = target(o.dest, 'ecosystem.config.js');
      if (!/\.config\.(c|m)?js$/.test(file)) {
        throw new CreateUsageError(`pm2 reads a JS ecosystem file only when its name ends in .config.js, .config.cjs or .config.mjs: ${path.basename(file)}`);
      }
      const etc = etcPaths(writtenDirs(ref!, log));
      if (etc.length > 0) warnings.push(etcWarning(etc));
      const esm = file.endsWith('.mjs') || (file.endsWith('.js') && (await moduleType(path.dirname(file))) === 'module');
      const vars = {
        config_comment: servedComment(served!, multiapp),
        file_name: path.basename(file),
        format_note: esm
          ? '\n//\n// An ES module: pm2 loads it with require(), which needs Node 20.19 or later for ES modules\n// (with older Node versions, rename it to ecosystem.config.cjs and write module.exports = { apps }).'
          : '',
        check: `mapproxy-ts check-config ${multiapp ? path.join(served!, '<name>.yaml') : served!}`,
        bin: js(path.join(ROOT, 'bin', 'mapproxy-ts.js')),
        args: `[${serveArgs(served!, multiapp, o.bind, o.graceful, o.logConfig).map(js).join(', ')}]`,
        node: js(process.execPath),
        cwd: js(cwd),
        graceful: String(o.graceful),
        kill_timeout: String((o.graceful + KILL_MARGIN) * 1000),
        log_dir: pm2LogDir(cwd!),
        out_file: js(path.join(pm2LogDir(cwd!), 'mapproxy-ts.out.log')),
        error_file: js(path.join(pm2LogDir(cwd!), 'mapproxy-ts.error.log')),
        export: esm ? 'export { apps };' : 'module.exports = { apps };',
      };
      return [{ path: file, content: renderTemplate(await template('ecosystem.config.js.tmpl'), vars) }];
    }
    case 'systemd': {
      const file = target(o.dest, 'mapproxy-ts.service');
      if (!file.endsWith('.service')) throw new CreateUsageError(`a systemd unit file name ends in .service: ${path.basename(file)}`);
      if (ref!.kind === 'multiapp' && ref!.projects.length === 0) {
        throw new CreateError(`${ref!.dir} holds no project (<name>.yaml): the unit's ReadWritePaths are the cache and lock directories of its projects; add one first`);
      }
      const writable = writtenDirs(ref!, log);
      const hidden = privateTmpPaths([served!, ...(o.logConfig ? [o.logConfig] : []), ...writable]);
      if (hidden.length > 0) {
        warnings.push(
          `the unit sets PrivateTmp=yes, which gives the service a /tmp and /var/tmp of its own: it will not see ${hidden.join(', ')}; ` +
            'move them out of /tmp and /var/tmp (or remove PrivateTmp=yes from the unit)',
        );
      }
      const etc = etcPaths(writable);
      if (etc.length > 0) warnings.push(etcWarning(etc));
      const unit = await renderSystemdUnit({
        node: process.execPath,
        bin: path.join(ROOT, 'bin', 'mapproxy-ts.js'),
        config: served!,
        multiapp,
        user: o.user,
        bind: o.bind,
        gracefulTimeout: o.graceful,
        logConfig: o.logConfig,
        writablePaths: writable,
        fileName: path.basename(file),
      });
      return [{ path: file, content: unit }];
    }
    default:
      throw new CreateUsageError(`unknown template "${o.template}" (templates: ${Object.keys(TEMPLATES).join(', ')})`);
  }
}

/** node's parseArgs errors, reworded as for every command (see parseArgsMessage). */
function argsError(err: unknown): CreateUsageError | undefined {
  const why = parseArgsMessage(err);
  return why === undefined ? undefined : new CreateUsageError(why);
}

/** The options of `create` (parseArgs' table). */
const CREATE_OPTIONS = {
  template: { type: 'string', short: 't' },
  'mapproxy-conf': { type: 'string', short: 'f' },
  'list-templates': { type: 'boolean', short: 'l' },
  force: { type: 'boolean' },
  bind: { type: 'string', short: 'b', default: `${DEFAULT_BIND.host}:${DEFAULT_BIND.port}` },
  'graceful-timeout': { type: 'string', default: String(GRACEFUL_DEFAULT) },
  'log-config': { type: 'string' },
  user: { type: 'string', default: 'mapproxy-ts' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(args: string[]): Options | 'help' | 'list' {
  let parsed;
  try {
    parsed = parseArgs({
      args: negativeValues(args, CREATE_OPTIONS),
      options: CREATE_OPTIONS,
      allowPositionals: true,
      tokens: true,
    });
  } catch (err) {
    throw argsError(err) ?? err;
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) return 'help';
  if (values['list-templates']) return 'list';
  const name = values.template;
  if (!name) throw new CreateUsageError('missing -t <template>');
  const spec = TEMPLATES[name];
  if (!spec) throw new CreateUsageError(`unknown template "${name}" (templates: ${Object.keys(TEMPLATES).join(', ')})`);
  if (positionals.length !== 1) throw new CreateUsageError(`template ${name} needs exactly one destination, got ${positionals.length}`);
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const only = OPTION_TEMPLATES[t.name];
    if (only && !only.includes(name)) {
      throw new CreateUsageError(`option ${t.rawName} is not for template ${name} (only for ${only.join(', ')})`);
    }
  }
  const config = values['mapproxy-conf'];
  if (spec.needsConfig && !config) throw new CreateUsageError(`template ${name} needs -f <mapproxy.yaml>`);
  const graceful = Number(values['graceful-timeout']);
  if (!Number.isInteger(graceful) || graceful < 1) throw new CreateUsageError(`invalid --graceful-timeout "${values['graceful-timeout']}": expected whole seconds, at least 1`);
  const bind = values.bind ?? `${DEFAULT_BIND.host}:${DEFAULT_BIND.port}`;
  parseBindValue(bind);
  const user = values.user ?? 'mapproxy-ts';
  if (!/^[a-z_][a-z0-9_-]*$/i.test(user)) throw new CreateUsageError(`invalid --user "${user}"`);
  return {
    template: name,
    dest: positionals[0],
    config: config === undefined ? undefined : path.resolve(config),
    force: values.force === true,
    bind,
    graceful,
    logConfig: values['log-config'] === undefined ? undefined : path.resolve(values['log-config']),
    user,
  };
}

/** Run `mapproxy-ts create <args>`; resolves to the exit code. */
export async function createCommand(args: string[]): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(args);
  } catch (err) {
    if (err instanceof CreateUsageError) {
      process.stderr.write(`mapproxy-ts create: ${(err as Error).message}\n\n${CREATE_HELP}`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(CREATE_HELP);
    return 0;
  }
  if (opts === 'list') {
    process.stdout.write(`Available templates:\n${Object.entries(TEMPLATES).map(([n, t]) => `  ${n.padEnd(13)} ${t.help}`).join('\n')}\n`);
    return 0;
  }
  try {
    // Checked as serve will check them, before anything is written: a pm2 file or a unit that
    // points at a configuration serve refuses only restarts it over and over. What building the
    // configuration logs (warnings as JSON lines) is for a server's log, not for create's output:
    // check-config shows the warnings.
    configureLogging({ level: 'silent' });
    const spec = TEMPLATES[opts.template];
    const ref = opts.config === undefined ? undefined : await readReferenced(opts.template, opts.config, spec.multiapp === true);
    if (opts.logConfig !== undefined && !existsSync(opts.logConfig)) throw new CreateError(`log configuration not found: ${opts.logConfig}`);
    const log = opts.logConfig === undefined ? undefined : await loadLogConfig(opts.logConfig);
    const warnings: string[] = [];
    const files = await filesFor(opts, { ref, log }, warnings);
    if (!opts.force) {
      const existing = files.filter((f) => existsSync(f.path));
      if (existing.length > 0) throw new CreateError(`${existing.map((f) => f.path).join(', ')} already exist${existing.length === 1 ? 's' : ''}, use --force to overwrite`);
    }
    for (const f of files) {
      await mkdir(path.dirname(f.path), { recursive: true });
      await writeFile(f.path, f.content);
      process.stdout.write(`writing ${f.path}\n`);
    }
    for (const w of warnings) process.stderr.write(`mapproxy-ts create: warning: ${w}\n`);
    return 0;
  } catch (err) {
    if (err instanceof CreateUsageError) {
      process.stderr.write(`mapproxy-ts create: ${err.message}\n\n${CREATE_HELP}`);
      return 2;
    }
    if (err instanceof CreateError || err instanceof ConfigError) {
      process.stderr.write(`mapproxy-ts create: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
