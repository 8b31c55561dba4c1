/**
 * The text of `mapproxy-ts create`'s files: `{{name}}` placeholders of the files in `templates/`,
 * the `serve` command line the pm2 and systemd templates run, and the systemd unit (also the
 * repository's `systemd/mapproxy-ts.service`, rendered with `SYSTEMD_DEFAULTS`).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TEMPLATE_DIR = path.join(ROOT, 'templates');
/** serve's default --graceful-timeout, seconds. */
export const GRACEFUL_DEFAULT = 30;
/** How much longer than the graceful timeout pm2 and systemd wait before killing. */
export const KILL_MARGIN = 10;

/** Replace every `{{name}}`; a placeholder without a value is a bug in the caller. */
export function renderTemplate(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    return v;
  });
}

/** A file of `templates/`. */
export const template = (name: string): Promise<string> => readFile(path.join(TEMPLATE_DIR, name), 'utf8');
/** A JS literal. */
export const js = (v: unknown): string => JSON.stringify(v);

/**
 * A value for a systemd unit file. `path`: a setting that takes one path as the rest of the line
 * (`WorkingDirectory=`): only `%` (specifiers) is doubled. `list`: one word of a space-separated
 * list (`ReadWritePaths=`, `ExecStart=`): also double quotes around words with spaces, quotes or
 * backslashes. `exec`: a word of `ExecStart=`: also `$` doubled (variable expansion).
 */
export function systemdWord(word: string, kind: 'path' | 'list' | 'exec'): string {
  let w = word.replace(/%/g, '%%');
  if (kind === 'path') return w;
  if (kind === 'exec') w = w.replace(/\$/g, '$$$$');
  return /[\s"'\\]/.test(w) ? `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : w;
}

/** What a systemd unit runs and may write. */
export interface SystemdUnitOptions {
  readonly node: string;
  /** bin/mapproxy-ts.js of the installed package. */
  readonly bin: string;
  /** The configuration, or with `multiapp` the directory of project configurations. */
  readonly config: string;
  /** Serve `config` as MultiMapProxy (`serve --multiapp`). */
  readonly multiapp?: boolean;
  readonly user: string;
  readonly bind: string;
  readonly gracefulTimeout: number;
  readonly logConfig?: string;
  /** Directories it writes: cache, lock dirs, log files. */
  readonly writablePaths: readonly string[];
  /** The unit's file name, for the comments (`mapproxy-ts.service`). */
  readonly fileName: string;
}

/** The defaults of the repository's `systemd/mapproxy-ts.service`. */
export const SYSTEMD_DEFAULTS: SystemdUnitOptions = {
  node: '/usr/bin/node',
  bin: '/opt/mapproxy-ts/bin/mapproxy-ts.js',
  config: '/etc/mapproxy-ts/mapproxy.yaml',
  user: 'mapproxy-ts',
  bind: '127.0.0.1:8080',
  gracefulTimeout: GRACEFUL_DEFAULT,
  logConfig: '/etc/mapproxy-ts/log.yaml',
  writablePaths: ['/var/cache/mapproxy-ts', '/var/log/mapproxy-ts'],
  fileName: 'mapproxy-ts.service',
};

/** `serve`'s command line; a MultiMapProxy directory as `serve --multiapp <dir>`. */
export function serveArgs(config: string, multiapp: boolean, bind: string, graceful: number, logConfig: string | undefined): string[] {
  return ['serve', ...(multiapp ? ['--multiapp'] : []), config, '--bind', bind, '--graceful-timeout', String(graceful), ...(logConfig ? ['--log-config', logConfig] : [])];
}

/** What the header comment of a template says it serves. */
export const servedComment = (config: string, multiapp: boolean): string => (multiapp ? `the MultiMapProxy projects in ${config}` : config);

/** Render the systemd unit template. */
export async function renderSystemdUnit(o: SystemdUnitOptions): Promise<string> {
  const multiapp = o.multiapp === true;
  const exec = [o.node, o.bin, ...serveArgs(o.config, multiapp, o.bind, o.gracefulTimeout, o.logConfig)];
  return renderTemplate(await template('mapproxy-ts.service.tmpl'), {
    config_comment: servedComment(o.config, multiapp),
    file_name: o.fileName,
    unit_name: o.fileName.replace(/\.service$/, ''),
    user: o.user,
    rw_comment: o.writablePaths.join(' '),
    // The projects' directories are those of the projects there now: a later one adds its own.
    rw_note: multiapp
      ? `\n# These are the directories of the projects in ${o.config} when the unit was written: add\n` +
        '# those of a project added later (create -t systemd again lists them all).'
      : '',
    working_directory: systemdWord(multiapp ? o.config : path.dirname(o.config), 'path'),
    exec_start: exec.map((w) => systemdWord(w, 'exec')).join(' '),
    graceful: String(o.gracefulTimeout),
    stop_timeout: String(o.gracefulTimeout + KILL_MARGIN),
    rw_paths: o.writablePaths.map((p) => systemdWord(p, 'list')).join(' '),
  });
}
