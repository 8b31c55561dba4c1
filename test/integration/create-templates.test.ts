/**
 * `mapproxy-ts create`: every template is written and works (configurations pass check-config,
 * JS files pass `node --check` and load, the app serves), existing files are kept unless --force,
 * and usage errors exit 2 with the message and the help.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yaml from 'js-yaml';
import { CREATE_HELP, createCommand, pm2LogDir, privateTmpPaths, SYSTEMD_DEFAULTS, systemdWord } from '../../src/cli/create.js';
import { etcPaths } from '../../src/cli/create-config.js';
import { checkConfigCommand } from '../../src/cli/check-config.js';
import { loadLogConfig } from '../../src/log/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'mapproxy-ts.js');

/** Run a command function with stdout and stderr captured. */
async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = process.stdout.write;
  const stderr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), out, err };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}
const create = (...args: string[]) => captured(() => createCommand(args));
/** `s` as a literal part of a RegExp. */
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mpx-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function nodeCheck(file: string): void {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `node --check ${file}: ${r.stderr}`);
}

/** A base-config pair in `dir/cfg`; resolves to the mapproxy.yaml path. */
async function baseConfig(dir: string): Promise<string> {
  const r = await create('-t', 'base-config', path.join(dir, 'cfg'));
  assert.equal(r.code, 0, r.err);
  return path.join(dir, 'cfg', 'mapproxy.yaml');
}

test('--help and --list-templates', async () => {
  assert.deepEqual(await create('--help'), { code: 0, out: CREATE_HELP, err: '' });
  const list = await create('-l');
  assert.equal(list.code, 0);
  assert.deepEqual(
    list.out.split('\n').slice(1, -1).map((l) => l.trim().split(/\s+/)[0]),
    ['base-config', 'seed-config', 'log-config', 'app', 'pm2', 'systemd'],
  );
});

test('usage errors exit 2 with the reason and the help', async () => {
  const cases: [string[], string][] = [
    [['out'], 'missing -t <template>'],
    [['-t', 'wsgi-app', 'out'], 'unknown template "wsgi-app" (templates: base-config, seed-config, log-config, app, pm2, systemd)'],
    [['-t', 'log-config'], 'template log-config needs exactly one destination, got 0'],
    [['-t', 'log-config', 'a', 'b'], 'template log-config needs exactly one destination, got 2'],
    [['-t', 'app', 'app.mjs'], 'template app needs -f <mapproxy.yaml>'],
    [['-t', 'pm2', '-f', 'm.yaml', '--bind', 'localhost:99999', 'e.config.js'], 'invalid --bind "localhost:99999": port must be a number 0-65535 (got "99999")'],
    [['-t', 'pm2', '-f', 'm.yaml', '--bind', 'my_host:80', 'e.config.js'], 'invalid --bind "my_host:80": "my_host" is not a host name or address'],
    [['-t', 'pm2', '-f', 'm.yaml', '--graceful-timeout', '2.5', 'e.config.js'], 'invalid --graceful-timeout "2.5": expected whole seconds, at least 1'],
    [['-t', 'pm2', '-f', 'm.yaml', '--graceful-timeout', '-5', 'e.config.js'], 'invalid --graceful-timeout "-5": expected whole seconds, at least 1'],
    [['-t', 'log-config', '-b', '-5', 'log.yaml'], 'option -b is not for template log-config (only for app, pm2, systemd)'],
    [['-t', 'systemd', '-f', 'm.yaml', '--user', 'root;rm', 'x.service'], 'invalid --user "root;rm"'],
    [['-t', 'log-config', '--nope', 'x'], 'unknown option --nope'],
    [['-t'], 'option -t, --template needs a value'],
    [['-t', 'log-config', '--force=yes', 'x'], 'option --force takes no value'],
    // Refused, not ignored: the file would not do what the option says.
    [['-t', 'app', '-f', 'm.yaml', '--log-config', 'log.yaml', 'app.mjs'], 'option --log-config is not for template app (only for pm2, systemd)'],
    [['-t', 'app', '-f', 'm.yaml', '--graceful-timeout', '10', 'app.mjs'], 'option --graceful-timeout is not for template app (only for pm2, systemd)'],
    [['-t', 'pm2', '-f', 'm.yaml', '--user', 'maps', 'e.config.js'], 'option --user is not for template pm2 (only for systemd)'],
    [['-t', 'log-config', '-b', ':8080', 'log.yaml'], 'option -b is not for template log-config (only for app, pm2, systemd)'],
    [['-t', 'base-config', '-f', 'm.yaml', 'cfg'], 'option -f is not for template base-config (only for seed-config, app, pm2, systemd)'],
  ];
  for (const [args, message] of cases) {
    const r = await create(...args);
    assert.deepEqual(r, { code: 2, out: '', err: `mapproxy-ts create: ${message}\n\n${CREATE_HELP}` }, args.join(' '));
  }
});

test('base-config: mapproxy.yaml passes check-config, seed.yaml seeds its cache (checked by MapProxy when installed)', async () => {
  await withTmp(async (dir) => {
    const r = await create('-t', 'base-config', path.join(dir, 'new', 'cfg'));
    const cfg = path.join(dir, 'new', 'cfg');
    assert.deepEqual(r, { code: 0, out: `writing ${cfg}/mapproxy.yaml\nwriting ${cfg}/seed.yaml\n`, err: '' });
    const check = await captured(() => checkConfigCommand(path.join(cfg, 'mapproxy.yaml')));
    assert.deepEqual(check, { code: 0, out: `${cfg}/mapproxy.yaml: ok\n`, err: '' });
    const conf = yaml.load(await readFile(path.join(cfg, 'mapproxy.yaml'), 'utf8')) as { caches: Record<string, unknown> };
    const seed = yaml.load(await readFile(path.join(cfg, 'seed.yaml'), 'utf8')) as {
      seeds: Record<string, { caches: string[]; levels: { to: number } }>;
      cleanups: Record<string, { caches: string[]; levels: { from: number } }>;
    };
    assert.deepEqual(Object.keys(conf.caches), ['osm_cache']);
    assert.deepEqual(seed.seeds.initial.caches, ['osm_cache']);
    assert.deepEqual(seed.cleanups.old_tiles.caches, ['osm_cache']);
    assert.equal(seed.seeds.initial.levels.to, 6);
    // It does not pretend mapproxy-ts seeds, and says what remove_before goes by (MapProxy's
    // cleanup compares the file's st_mtime).
    const seedText = await readFile(path.join(cfg, 'seed.yaml'), 'utf8');
    assert.match(seedText, /^# mapproxy-ts cannot seed yet\. MapProxy's own seeder \(Python/m);
    assert.match(seedText, /^# {3}mapproxy-seed -f mapproxy\.yaml -s seed\.yaml$/m);
    assert.match(seedText, /# remove tiles written more than two weeks ago \(by file modification time, not by when they\n {4}# were last served\)/);
    assert.doesNotMatch(seedText, /nobody asked for/);
    if (existsSync('/usr/bin/mapproxy-seed')) {
      // MapProxy reads the pair as a valid configuration: nothing unknown, the right tasks.
      const ms = spawnSync('/usr/bin/mapproxy-seed', ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '--summary'], { cwd: cfg, encoding: 'utf8' });
      assert.equal(ms.status, 0, ms.stderr);
      assert.doesNotMatch(ms.stdout + ms.stderr, /WARNING|ERROR/);
      assert.match(ms.stdout, /Seeding cache 'osm_cache' with grid 'webmercator' in EPSG:3857\n[^\n]*\n\s+Levels: \[0, 1, 2, 3, 4, 5, 6\]/);
    }
  });
});

test('existing files are kept unless --force; nothing is written when one of them exists', async () => {
  await withTmp(async (dir) => {
    const cfg = path.join(dir, 'cfg');
    await mkdir(cfg);
    await writeFile(path.join(cfg, 'seed.yaml'), 'mine');
    const r = await create('-t', 'base-config', cfg);
    assert.deepEqual(r, { code: 1, out: '', err: `mapproxy-ts create: ${cfg}/seed.yaml already exists, use --force to overwrite\n` });
    assert.equal(existsSync(path.join(cfg, 'mapproxy.yaml')), false);
    assert.equal(await readFile(path.join(cfg, 'seed.yaml'), 'utf8'), 'mine');
    await writeFile(path.join(dir, 'log.yaml'), 'mine');
    assert.equal((await create('-t', 'log-config', path.join(dir, 'log.yaml'))).code, 1);
    assert.equal(await readFile(path.join(dir, 'log.yaml'), 'utf8'), 'mine');
    const forced = await create('-t', 'base-config', '--force', cfg);
    assert.equal(forced.code, 0);
    assert.match(await readFile(path.join(cfg, 'seed.yaml'), 'utf8'), /^seeds:$/m);
  });
});

test('seed-config: with -f, seeds every cache of that configuration', async () => {
  await withTmp(async (dir) => {
    const conf = path.join(dir, 'mapproxy.yaml');
    await writeFile(conf, 'caches:\n  roads: {grids: [GLOBAL_WEBMERCATOR], sources: []}\n  "aerial 2024": {grids: [GLOBAL_WEBMERCATOR], sources: []}\n');
    const r = await create('-t', 'seed-config', '-f', conf, dir);
    assert.deepEqual(r, { code: 0, out: `writing ${dir}/seed.yaml\n`, err: '' });
    const text = await readFile(path.join(dir, 'seed.yaml'), 'utf8');
    assert.match(text, /^ {4}caches: \[roads, "aerial 2024"\]$/m);
    const seed = yaml.load(text) as { seeds: { initial: { caches: string[] } } };
    assert.deepEqual(seed.seeds.initial.caches, ['roads', 'aerial 2024']);
    await writeFile(conf, 'layers: []\n');
    assert.deepEqual(await create('-t', 'seed-config', '-f', conf, path.join(dir, 's2.yaml')), {
      code: 1,
      out: '',
      err: `mapproxy-ts create: ${conf} has no caches to seed\n`,
    });
    assert.deepEqual(await create('-t', 'seed-config', '-f', path.join(dir, 'none.yaml'), path.join(dir, 's3.yaml')), {
      code: 1,
      out: '',
      err: `mapproxy-ts create: configuration not found: ${dir}/none.yaml\n`,
    });
  });
});

test('log-config: the commented example is valid, and so is its commented file section', async () => {
  await withTmp(async (dir) => {
    assert.equal((await create('-t', 'log-config', dir)).code, 0);
    const file = path.join(dir, 'log.yaml');
    assert.deepEqual(await loadLogConfig(file), {
      level: 'info',
      loggers: { 'mapproxy.source.request': 'info' },
      file: undefined,
      accessLog: false,
      pretty: false,
    });
    // Uncomment the examples the way a user would: `file:` and the access_log mapping.
    const text = (await readFile(file, 'utf8'))
      .replace(/^# (file:| {2}path:| {2}size:| {2}frequency:| {2}limit:| {4}count:)/gm, '$1')
      .replace(/^access_log: false\n# access_log:\n# {3}exclude/m, 'access_log:\n  exclude');
    await writeFile(file, text);
    assert.deepEqual(await loadLogConfig(file), {
      level: 'info',
      loggers: { 'mapproxy.source.request': 'info' },
      file: { path: '/var/log/mapproxy-ts/mapproxy.log', size: '10m', frequency: 'daily', limit: { count: 7 } },
      accessLog: { exclude: ['/metrics'] },
      pretty: false,
    });
  });
});

/** Every logger name the code writes to: getLogger('…') in src/, and the access log's. */
async function loggerNames(): Promise<string[]> {
  const names = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ts')) {
        const text = await readFile(p, 'utf8');
        for (const m of text.matchAll(/getLogger\('([^']+)'\)/g)) names.add(m[1]);
        for (const m of text.matchAll(/ACCESS_LOGGER = '([^']+)'/g)) names.add(m[1]);
      }
    }
  };
  await walk(path.join(ROOT, 'src'));
  return [...names].sort();
}

test('log-config and docs/deployment.md: their logger lists name every logger the code writes to, and no other', async () => {
  const names = await loggerNames();
  // Some loggers the lists must show, whatever the scan finds.
  for (const n of ['mapproxy.master', 'mapproxy.worker', 'mapproxy.multiapp', 'mapproxy.wsgiapp', 'mapproxy.cache', 'mapproxy.access']) assert.ok(names.includes(n), n);
  const template = await readFile(path.join(ROOT, 'templates', 'log.yaml'), 'utf8');
  const listed = [...template.matchAll(/^# {3}(mapproxy\.[a-z.<>]+) /gm)].map((m) => m[1]);
  const docs = await readFile(path.join(ROOT, 'docs', 'deployment.md'), 'utf8');
  const documented = [...docs.matchAll(/^ {2}\| `(mapproxy\.[a-z.<>]+)` \|/gm)].map((m) => m[1]);
  // mapproxy.source.<type> stands for the names its line gives: mapproxy.source.wms and .tile.
  const real = (list: string[]): string[] => list.flatMap((n) => (n === 'mapproxy.source.<type>' ? ['mapproxy.source.tile', 'mapproxy.source.wms'] : [n])).sort();
  assert.match(template, /^# {3}mapproxy\.source\.<type> .*\n# .*\(mapproxy\.source\.wms, mapproxy\.source\.tile\)$/m);
  assert.match(docs, /^ {2}\| `mapproxy\.source\.<type>` \|.*\(`mapproxy\.source\.wms`, `mapproxy\.source\.tile`\) \|$/m);
  assert.deepEqual(real(listed), names, 'templates/log.yaml');
  assert.deepEqual(real(documented), names, 'docs/deployment.md');
  // What mapproxy.cache logs: repairs, never one line per tile (not "tile creation").
  assert.match(template, /^# {3}mapproxy\.cache {13}repairs in the cache/m);
});

test('app: an ES module that exports the request listener and serves the configuration when run', async () => {
  await withTmp(async (dir) => {
    const conf = await baseConfig(dir);
    const r = await create('-t', 'app', '-f', conf, path.join(dir, 'myapp'));
    assert.deepEqual(r, { code: 0, out: `writing ${dir}/myapp.mjs\n`, err: '' });
    const file = path.join(dir, 'myapp.mjs');
    nodeCheck(file);
    const text = await readFile(file, 'utf8');
    assert.match(text, new RegExp(`^export const CONFIG = ${JSON.stringify(conf).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')};$`, 'm'));
    assert.deepEqual(await create('-t', 'app', '-f', conf, path.join(dir, 'app.js')), {
      code: 2,
      out: '',
      err: `mapproxy-ts create: app.js would be loaded as CommonJS; the app is an ES module: name it app.mjs\n\n${CREATE_HELP}`,
    });
    if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) return; // the app imports the built package
    const app = await runApp(file, { HOST: '127.0.0.1', PORT: '0' }, / on (http:\/\/127\.0\.0\.1:\d+)\/\n/);
    try {
      const url = app.match[1];
      assert.match(app.output(), new RegExp(`^mapproxy-ts serving ${conf.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} on `, 'm'));
      const res = await fetch(`${url}/tms/1.0.0/`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<TileMap [^>]*title="OpenStreetMap \(terrestris OSM-WMS\)"[^>]*href="[^"]*\/tms\/1\.0\.0\/osm\/webmercator"/);
    } finally {
      app.child.kill('SIGTERM');
    }

    // `--bind :port` as serve reads it: every interface, shown as *.
    const every = path.join(dir, 'every.mjs');
    assert.equal((await create('-t', 'app', '-f', conf, '--bind', ':0', every)).code, 0);
    const everyText = await readFile(every, 'utf8');
    assert.match(everyText, /HOST and PORT from the environment, default \*:0$/m);
    assert.match(everyText, /^ {2}const host = process\.env\.HOST \|\| "";$/m);
    const everyApp = await runApp(every, { HOST: '', PORT: '' }, / on http:\/\/\*:(\d+)\/\n/);
    try {
      assert.equal((await fetch(`http://127.0.0.1:${everyApp.match[1]}/tms/1.0.0/`)).status, 200);
    } finally {
      everyApp.child.kill('SIGTERM');
    }
  });
});

/** Run a written app file with `env`; resolves once its output matches `ready` (rejects if it exits first). */
async function runApp(file: string, env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`app exited with ${code}: ${out}`)));
  });
  return { child, match, output: () => out };
}

interface Pm2App {
  name: string;
  script: string;
  args: string[];
  interpreter: string;
  cwd: string;
  exec_mode: string;
  instances: number;
  wait_ready: boolean;
  listen_timeout: number;
  kill_timeout: number;
  stop_exit_codes: number[];
  out_file: string;
  error_file: string;
  env: Record<string, string>;
}

test('pm2: CommonJS or ES module by the directory, loadable with require() as pm2 does', async () => {
  await withTmp(async (dir) => {
    const conf = await baseConfig(dir);
    const cjs = await create('-t', 'pm2', '-f', conf, '--graceful-timeout', '60', dir);
    assert.deepEqual(cjs, { code: 0, out: `writing ${dir}/ecosystem.config.js\n`, err: '' });
    const file = path.join(dir, 'ecosystem.config.js');
    nodeCheck(file);
    assert.match(await readFile(file, 'utf8'), /^module\.exports = \{ apps \};$/m);
    const { apps } = createRequire(import.meta.url)(file) as { apps: Pm2App[] };
    const cfgDir = path.dirname(conf);
    assert.deepEqual(apps, [
      {
        name: 'mapproxy-ts',
        script: BIN,
        args: ['serve', conf, '--bind', '127.0.0.1:8080', '--graceful-timeout', '60'],
        interpreter: process.execPath,
        cwd: cfgDir,
        exec_mode: 'fork',
        instances: 1,
        wait_ready: true,
        listen_timeout: 60000,
        kill_timeout: 70000,
        autorestart: true,
        exp_backoff_restart_delay: 500,
        stop_exit_codes: [2, 78],
        out_file: path.join(cfgDir, 'logs', 'mapproxy-ts.out.log'),
        error_file: path.join(cfgDir, 'logs', 'mapproxy-ts.error.log'),
        merge_logs: true,
        env: { NODE_ENV: 'production' },
      },
    ]);
    // In a "type": "module" package the file is an ES module exporting `apps` by name.
    const esmDir = path.join(dir, 'esm');
    await mkdir(esmDir);
    await writeFile(path.join(esmDir, 'package.json'), '{"type": "module"}\n');
    const log = path.join(dir, 'log.yaml');
    await writeFile(log, 'level: info\n');
    assert.equal((await create('-t', 'pm2', '-f', conf, '--log-config', log, '-b', '127.0.0.1:9000', esmDir)).code, 0);
    const esm = path.join(esmDir, 'ecosystem.config.js');
    nodeCheck(esm);
    assert.match(await readFile(esm, 'utf8'), /^export \{ apps \};$/m);
    const loaded = (await import(esm)) as { apps: Pm2App[] };
    assert.deepEqual(loaded.apps[0].args, ['serve', conf, '--bind', '127.0.0.1:9000', '--graceful-timeout', '30', '--log-config', log]);
    assert.equal(loaded.apps[0].kill_timeout, 40000);
    // Its comment says to check the configuration before pm2 starts it.
    assert.match(await readFile(file, 'utf8'), new RegExp(`^//   mapproxy-ts check-config ${escape(conf)}\n//       first, and before every start or reload:`, 'm'));
    // Its comment says where pm2 writes the output (a directory outside /etc: next to the configuration).
    assert.match(await readFile(file, 'utf8'), new RegExp(`^//\\s+${path.join(cfgDir, 'logs').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: pm2 creates that directory`, 'm'));
    assert.deepEqual(await create('-t', 'pm2', '-f', conf, path.join(dir, 'pm2.js')), {
      code: 2,
      out: '',
      err: `mapproxy-ts create: pm2 reads a JS ecosystem file only when its name ends in .config.js, .config.cjs or .config.mjs: pm2.js\n\n${CREATE_HELP}`,
    });
  });
});

test('systemd: serve with absolute paths, writable cache and log directories, quoted where needed', async () => {
  await withTmp(async (base) => {
    const dir = path.join(base, 'my maps');
    const conf = await baseConfig(dir);
    const log = path.join(dir, 'log.yaml');
    await writeFile(log, 'file: {path: /var/log/maps/mapproxy.log}\n');
    const r = await create('-t', 'systemd', '-f', conf, '--log-config', log, '--user', 'maps', path.join(dir, 'maps.service'));
    // In the temporary directory (normally /tmp) the unit's PrivateTmp=yes would hide them.
    const hidden = [conf, log, path.join(dir, 'cfg', 'cache_data')];
    const warning = hidden[0].startsWith('/tmp/') || hidden[0].startsWith('/var/tmp/') ? privateTmpWarning(hidden) : '';
    assert.deepEqual(r, { code: 0, out: `writing ${dir}/maps.service\n`, err: warning });
    const unit = await readFile(path.join(dir, 'maps.service'), 'utf8');
    const line = (key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`));
    const q = (p: string) => `"${p}"`;
    assert.deepEqual(line('ExecStart'), [
      `ExecStart=${process.execPath} ${BIN} serve ${q(conf)} --bind 127.0.0.1:8080 --graceful-timeout 30 --log-config ${q(log)}`,
    ]);
    assert.deepEqual(line('ReadWritePaths'), [`ReadWritePaths=${q(path.join(dir, 'cfg', 'cache_data'))} /var/log/maps`]);
    // Every interface, as serve reads `:port`: the value goes into the unit as given.
    assert.equal((await create('-t', 'systemd', '-f', conf, '-b', ':8080', '--force', path.join(dir, 'every.service'))).code, 0);
    assert.match(await readFile(path.join(dir, 'every.service'), 'utf8'), /^ExecStart=.* serve .* --bind :8080 --graceful-timeout 30$/m);
    assert.deepEqual(line('WorkingDirectory'), [`WorkingDirectory=${path.join(dir, 'cfg')}`]);
    assert.deepEqual(line('User'), ['User=maps']);
    assert.deepEqual(line('TimeoutStopSec'), ['TimeoutStopSec=40']);
    assert.match(unit, /^#\s+systemctl reload maps\s/m);
    // systemd's own syntax: % starts a specifier, $ a variable in ExecStart, quotes group words.
    assert.equal(systemdWord('/srv/a b/$HOME/100%', 'exec'), '"/srv/a b/$$HOME/100%%"');
    assert.equal(systemdWord('/srv/a"b\\c', 'list'), '"/srv/a\\"b\\\\c"');
    assert.equal(systemdWord('/srv/a b/100%', 'path'), '/srv/a b/100%%');
    assert.deepEqual(await create('-t', 'systemd', '-f', conf, path.join(dir, 'maps.unit')), {
      code: 2,
      out: '',
      err: `mapproxy-ts create: a systemd unit file name ends in .service: maps.unit\n\n${CREATE_HELP}`,
    });
  });
});

const privateTmpWarning = (paths: string[]): string =>
  'mapproxy-ts create: warning: the unit sets PrivateTmp=yes, which gives the service a /tmp and /var/tmp of its own: ' +
  `it will not see ${paths.join(', ')}; move them out of /tmp and /var/tmp (or remove PrivateTmp=yes from the unit)\n`;

test('systemd: a configuration or cache in /tmp is written with a warning (PrivateTmp=yes hides it), exit 0', async () => {
  // /tmp itself, not os.tmpdir(): the warning is about /tmp whatever TMPDIR says.
  const dir = await mkdtemp('/tmp/mpx-');
  try {
    const conf = path.join(dir, 'mapproxy.yaml');
    // The cache and lock directories outside /tmp (only named, never created): only the configuration is hidden.
    await writeFile(conf, 'globals:\n  cache:\n    base_dir: /var/cache/mpx-none\n    lock_dir: /var/cache/mpx-none/locks\n');
    const unit = path.join(dir, 'a.service');
    assert.deepEqual(await create('-t', 'systemd', '-f', conf, unit), { code: 0, out: `writing ${unit}\n`, err: privateTmpWarning([conf]) });
    assert.match(await readFile(unit, 'utf8'), /^PrivateTmp=yes$/m);
    // Relative cache paths land next to it, in /tmp too.
    await writeFile(conf, 'caches:\n  c: {grids: [GLOBAL_WEBMERCATOR], sources: [], cache_dir: /var/tmp/mpx-none}\n');
    assert.deepEqual(await create('-t', 'systemd', '-f', conf, '--force', unit), {
      code: 0,
      out: `writing ${unit}\n`,
      err: privateTmpWarning([conf, path.join(dir, 'cache_data'), '/var/tmp/mpx-none']),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Elsewhere nothing is hidden; /tmpfoo and /var/tmpx are not /tmp and /var/tmp.
  assert.deepEqual(privateTmpPaths(['/etc/mapproxy-ts/mapproxy.yaml', '/var/cache/mapproxy-ts', '/tmpfoo/a', '/var/tmpx']), []);
  assert.deepEqual(privateTmpPaths(['/tmp', '/var/tmp/a', '/tmp/../etc/x', '/tmp/a', '/tmp/a/']), ['/tmp', '/var/tmp/a', '/tmp/a']);
});

test('pm2: out_file and error_file go to /var/log/mapproxy-ts for a configuration under /etc, else to logs/ beside it', () => {
  // docs/deployment.md's layout: configuration in /etc/mapproxy-ts, logs in /var/log/mapproxy-ts.
  assert.equal(pm2LogDir('/etc/mapproxy-ts'), '/var/log/mapproxy-ts');
  assert.equal(pm2LogDir('/etc'), '/var/log/mapproxy-ts');
  assert.equal(pm2LogDir('/etc/mapproxy-ts/projects/'), '/var/log/mapproxy-ts');
  assert.equal(pm2LogDir('/etcetera/maps'), '/etcetera/maps/logs');
  assert.equal(pm2LogDir('/srv/maps'), '/srv/maps/logs');
});

const YAML_BROKEN = 'caches: [\n';
const yamlBrokenError = (file: string): string =>
  `mapproxy-ts create: invalid configuration ${file}:\n  YAML syntax error at line 2, column 1: unexpected end of the stream within a flow collection\n`;
/** A destination of each template that takes -f. */
const DEST: Record<string, string> = { 'seed-config': 'seed.yaml', app: 'app.mjs', pm2: 'ecosystem.config.js', systemd: 'mapproxy-ts.service' };

test('-f: every template refuses a configuration serve would refuse, with the same message and exit 1, and writes nothing', async () => {
  await withTmp(async (dir) => {
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, YAML_BROKEN);
    const invalid = path.join(dir, 'invalid.yaml');
    await writeFile(invalid, 'caches:\n  c: {grids: [NO_SUCH_GRID], sources: []}\n');
    // A directory of projects, one of which cannot be read: refused as the file itself would be.
    const projects = path.join(dir, 'projects');
    await mkdir(projects);
    await writeFile(path.join(projects, 'bad.yaml'), YAML_BROKEN);
    for (const [name, dest] of Object.entries(DEST)) {
      const out = path.join(dir, dest);
      assert.deepEqual(await create('-t', name, '-f', broken, out), { code: 1, out: '', err: yamlBrokenError(broken) }, `${name}: broken YAML`);
      assert.deepEqual(await create('-t', name, '-f', path.join(dir, 'none.yaml'), out), {
        code: 1,
        out: '',
        err: `mapproxy-ts create: configuration not found: ${dir}/none.yaml\n`,
      }, `${name}: missing`);
      // Valid YAML that serve refuses: the same check as serve's, before anything is written.
      // Not for seed-config: its file is for MapProxy's seeder, which judges the configuration.
      if (name !== 'seed-config') {
        assert.deepEqual(await create('-t', name, '-f', invalid, out), {
          code: 1,
          out: '',
          err: `mapproxy-ts create: invalid configuration ${invalid}:\n  caches.c.grids[0]: unknown grid "NO_SUCH_GRID"\n`,
        }, `${name}: invalid`);
      }
      const viaDir =
        name === 'seed-config'
          ? `mapproxy-ts create: seed-config takes one configuration file, and ${projects} is a directory (a MultiMapProxy project is ${projects}/<name>.yaml)\n`
          : yamlBrokenError(path.join(projects, 'bad.yaml'));
      assert.deepEqual(await create('-t', name, '-f', projects, out), { code: 1, out: '', err: viaDir }, `${name}: a directory`);
      assert.equal(existsSync(out), false, `${name}: nothing written`);
    }
  });
});

const SRS_DEF = '"+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +no_defs"';
const SRS_BODY =
  'grids:\n  g: {srs: "EPSG:999001", bbox: [-20037508.34, -20037508.34, 20037508.34, 20037508.34]}\n' +
  'services:\n  tms:\nlayers:\n  - {name: l, title: l, sources: [c]}\ncaches:\n  c: {grids: [g], sources: []}\n';

test('-f with a directory: each project is checked on its own, another project\'s SRS definitions do not count', async () => {
  await withTmp(async (dir) => {
    const projects = path.join(dir, 'projects');
    await mkdir(projects);
    // a.yaml defines EPSG:999001 and is checked first; b.yaml uses it without defining it.
    await writeFile(path.join(projects, 'a.yaml'), `globals:\n  srs:\n    proj4_defs:\n      "EPSG:999001": ${SRS_DEF}\n${SRS_BODY}`);
    await writeFile(path.join(projects, 'b.yaml'), SRS_BODY);
    const out = path.join(dir, 'e.config.js');
    assert.deepEqual(await create('-t', 'pm2', '-f', projects, out), {
      code: 1,
      out: '',
      err: `mapproxy-ts create: invalid configuration ${projects}/b.yaml:\n  grids.g.srs: unknown SRS "EPSG:999001": not built in; define it in globals.srs.proj4_defs\n`,
    });
    assert.equal(existsSync(out), false);
  });
});

test('create checks quietly: what building the configuration logs (a warning) does not reach its output', { skip: !existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')) && 'runs the built CLI (npm run build)' }, async () => {
  await withTmp(async (dir) => {
    const conf = path.join(dir, 'mapproxy.yaml');
    // A tile source without a grid: building it logs a warning (GLOBAL_MERCATOR is assumed).
    await writeFile(conf, 'sources:\n  t: {type: tile, url: "http://127.0.0.1:9/%(z)s/%(x)s/%(y)s.png"}\ncaches:\n  c: {grids: [GLOBAL_WEBMERCATOR], sources: [t]}\n');
    // The CLI itself: the logger writes to the process's stdout, which an in-process capture misses.
    const r = spawnSync(process.execPath, [BIN, 'create', '-t', 'pm2', '-f', conf, path.join(dir, 'e.config.js')], { encoding: 'utf8', timeout: 30_000 });
    assert.deepEqual({ status: r.status, stdout: r.stdout, stderr: r.stderr }, { status: 0, stdout: `writing ${dir}/e.config.js\n`, stderr: '' });
  });
});

test('seed-config writes a seed.yaml for a configuration with what only MapProxy supports (its seeder judges it)', async () => {
  await withTmp(async (dir) => {
    const conf = path.join(dir, 'mapproxy.yaml');
    await writeFile(conf, 'globals:\n  image:\n    formats:\n      image/png8: {format: image/png, mode: P}\ncaches:\n  c: {grids: [GLOBAL_WEBMERCATOR], sources: []}\n');
    const r = await create('-t', 'seed-config', '-f', conf, path.join(dir, 'seed.yaml'));
    assert.equal(r.code, 0, r.err);
    assert.match(await readFile(path.join(dir, 'seed.yaml'), 'utf8'), /caches: \[c\]/);
  });
});

test('--log-config: pm2 and systemd refuse a log configuration serve would refuse, exit 1', async () => {
  await withTmp(async (dir) => {
    const conf = await baseConfig(dir);
    const cases: [string, string | undefined, string][] = [
      ['broken-log.yaml', 'level: [\n', 'YAML syntax error: unexpected end of the stream within a flow collection (line 2, column 1)'],
      ['loud-log.yaml', 'level: loud\n', 'level: unknown level "loud"; expected one of trace, debug, info, warn, error, fatal, silent'],
    ];
    for (const name of ['pm2', 'systemd']) {
      const out = path.join(dir, DEST[name]);
      for (const [file, text, problem] of cases) {
        await writeFile(path.join(dir, file), text!);
        assert.deepEqual(await create('-t', name, '-f', conf, '--log-config', path.join(dir, file), out), {
          code: 1,
          out: '',
          err: `mapproxy-ts create: invalid log configuration ${dir}/${file}:\n  ${problem}\n`,
        }, `${name} ${file}`);
      }
      assert.deepEqual(await create('-t', name, '-f', conf, '--log-config', path.join(dir, 'none.yaml'), out), {
        code: 1,
        out: '',
        err: `mapproxy-ts create: log configuration not found: ${dir}/none.yaml\n`,
      });
      assert.equal(existsSync(out), false);
    }
  });
});

test('app: run on its own with an invalid configuration, it prints the problems as serve does and exits 78 as serve does', { skip: !existsSync(path.join(ROOT, 'dist', 'index.js')) && 'the app imports the built package (npm run build)' }, async () => {
  await withTmp(async (dir) => {
    const conf = await baseConfig(dir);
    const file = path.join(dir, 'app.mjs');
    assert.equal((await create('-t', 'app', '-f', conf, file)).code, 0);
    // Broken after the app was written, as an edit would break it.
    await writeFile(conf, 'caches:\n  c: {grids: [NO_SUCH_GRID], sources: []}\n');
    const invalid = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    const message = `mapproxy-ts: invalid configuration ${conf}:\n  caches.c.grids[0]: unknown grid "NO_SUCH_GRID"\n`;
    assert.deepEqual({ status: invalid.status, stdout: invalid.stdout, stderr: invalid.stderr }, { status: 78, stdout: '', stderr: message });
    // Word for word what the CLI prints for the same file.
    const serve = spawnSync(process.execPath, [BIN, 'serve', conf], { encoding: 'utf8', timeout: 30_000 });
    assert.deepEqual({ status: serve.status, stderr: serve.stderr }, { status: 78, stderr: message });
    await writeFile(conf, YAML_BROKEN);
    const broken = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    assert.deepEqual(
      { status: broken.status, stdout: broken.stdout, stderr: broken.stderr },
      { status: 78, stdout: '', stderr: `mapproxy-ts: invalid configuration ${conf}:\n  YAML syntax error at line 2, column 1: unexpected end of the stream within a flow collection\n` },
    );
    // Imported, the module leaves the ConfigError to the importer (to catch, or to crash on).
    const imported = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `import(${JSON.stringify(pathToFileURL(file).href)}).then(() => console.log('loaded'), (e) => console.log(e.constructor.name, e.code))`],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.deepEqual({ status: imported.status, stdout: imported.stdout, stderr: imported.stderr }, { status: 0, stdout: 'ConfigError MPX_ERR_CONFIG\n', stderr: '' });
  });
});

test('app: run on its own on a port in use, one line as the CLI words it, exit 1', { skip: !existsSync(path.join(ROOT, 'dist', 'index.js')) && 'the app imports the built package (npm run build)' }, async () => {
  await withTmp(async (dir) => {
    const conf = await baseConfig(dir);
    const file = path.join(dir, 'app.mjs');
    assert.equal((await create('-t', 'app', '-f', conf, file)).code, 0);
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const port = (taken.address() as AddressInfo).port;
      const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) } });
      assert.deepEqual(
        { status: run.status, stdout: run.stdout, stderr: run.stderr },
        { status: 1, stdout: '', stderr: `mapproxy-ts: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE)\n` },
      );
    } finally {
      taken.close();
    }
  });
});

/** `<dir>/projects` with one project, `osm.yaml` (the base-config); resolves to the directory. */
async function projectsDir(dir: string): Promise<string> {
  const conf = await baseConfig(dir);
  const projects = path.join(dir, 'projects');
  await mkdir(projects);
  await writeFile(path.join(projects, 'osm.yaml'), await readFile(conf, 'utf8'));
  return projects;
}

test('pm2 and systemd: -f <directory> runs serve --multiapp on it; with no project yet, pm2 warns and systemd refuses', async () => {
  await withTmp(async (dir) => {
    const projects = await projectsDir(dir);
    const eco = path.join(dir, 'multi.config.js');
    assert.deepEqual(await create('-t', 'pm2', '-f', projects, eco), { code: 0, out: `writing ${eco}\n`, err: '' });
    const { apps } = createRequire(import.meta.url)(eco) as { apps: Pm2App[] };
    assert.deepEqual(apps[0].args, ['serve', '--multiapp', projects, '--bind', '127.0.0.1:8080', '--graceful-timeout', '30']);
    assert.equal(apps[0].cwd, projects);
    assert.equal(apps[0].out_file, path.join(projects, 'logs', 'mapproxy-ts.out.log'));
    const ecoText = await readFile(eco, 'utf8');
    assert.match(ecoText, new RegExp(`^// pm2 process file for mapproxy-ts serving the MultiMapProxy projects in ${escape(projects)}$`, 'm'));
    assert.match(ecoText, new RegExp(`^//   mapproxy-ts check-config ${escape(projects)}/<name>\\.yaml$`, 'm'));

    const unitFile = path.join(dir, 'multi.service');
    const r = await create('-t', 'systemd', '-f', projects, unitFile);
    const hidden = [projects, path.join(projects, 'cache_data')];
    const warning = projects.startsWith('/tmp/') || projects.startsWith('/var/tmp/') ? privateTmpWarning(hidden) : '';
    assert.deepEqual(r, { code: 0, out: `writing ${unitFile}\n`, err: warning });
    const unit = await readFile(unitFile, 'utf8');
    const line = (key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`));
    assert.deepEqual(line('ExecStart'), [`ExecStart=${process.execPath} ${BIN} serve --multiapp ${projects} --bind 127.0.0.1:8080 --graceful-timeout 30`]);
    assert.deepEqual(line('WorkingDirectory'), [`WorkingDirectory=${projects}`]);
    // Every project's directories, and a word on projects added later.
    assert.deepEqual(line('ReadWritePaths'), [`ReadWritePaths=${path.join(projects, 'cache_data')}`]);
    assert.match(unit, new RegExp(`^# These are the directories of the projects in ${escape(projects)} when the unit was written: add\\n# those of a project added later`, 'm'));

    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    assert.deepEqual(await create('-t', 'pm2', '-f', empty, path.join(dir, 'empty.config.js')), {
      code: 0,
      out: `writing ${dir}/empty.config.js\n`,
      err: `mapproxy-ts create: warning: ${empty} holds no project (<name>.yaml) yet: every project URL answers 404 until one is added\n`,
    });
    assert.deepEqual(await create('-t', 'systemd', '-f', empty, path.join(dir, 'empty.service')), {
      code: 1,
      out: '',
      err: `mapproxy-ts create: ${empty} holds no project (<name>.yaml): the unit's ReadWritePaths are the cache and lock directories of its projects; add one first\n`,
    });
    assert.equal(existsSync(path.join(dir, 'empty.service')), false);
  });
});

/** The words of a unit's ExecStart= (written without quotes: no spaces in the test's paths). */
function execStartWords(unit: string): string[] {
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1];
  assert.doesNotMatch(exec, /["'\\]/, 'a plain ExecStart');
  return exec.split(' ').map((w) => w.replaceAll('$$', '$').replaceAll('%%', '%'));
}

/** Run a `serve` command line in a process group of its own until its master logs `ready`. */
async function runServe(argv: readonly string[], cwd: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(argv[0], argv.slice(1), { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid!, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within 60 s: ${out}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)\/"[^\n]*"msg":"ready"/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code}: ${out}`));
      });
    });
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

test('systemd: the ExecStart of a unit for a directory of projects serves them under /<name>/', { skip: !existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')) && 'ExecStart runs the built package (npm run build)' }, async () => {
  await withTmp(async (dir) => {
    const projects = await projectsDir(dir);
    const unitFile = path.join(dir, 'multi.service');
    assert.equal((await create('-t', 'systemd', '-f', projects, '-b', '127.0.0.1:0', unitFile)).code, 0);
    const unit = await readFile(unitFile, 'utf8');
    // As systemd would run it (in WorkingDirectory), one worker and no spare to stay small.
    const cwd = /^WorkingDirectory=(.*)$/m.exec(unit)![1];
    const server = await runServe([...execStartWords(unit), '--workers', '1', '--spare-workers', '0'], cwd);
    try {
      const res = await fetch(`${server.url}/osm/tms/1.0.0/`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), new RegExp(`<TileMap [^>]*href="${escape(server.url)}/osm/tms/1\\.0\\.0/osm/webmercator"`));
      assert.equal((await fetch(`${server.url}/other/tms/1.0.0/`)).status, 404);
    } finally {
      await server.stop();
    }
  });
});

test('app: -f <directory> serves every project under /<name>/ with createMultiApp', { skip: !existsSync(path.join(ROOT, 'dist', 'index.js')) && 'the app imports the built package (npm run build)' }, async () => {
  await withTmp(async (dir) => {
    const projects = await projectsDir(dir);
    const file = path.join(dir, 'multi.mjs');
    assert.deepEqual(await create('-t', 'app', '-f', projects, file), { code: 0, out: `writing ${file}\n`, err: '' });
    const text = await readFile(file, 'utf8');
    assert.match(text, /^import \{ createMultiApp, ConfigError \} from "file:\/\/\/[^"]+\/dist\/index\.js";$/m);
    assert.match(text, /^ {2}app = createMultiApp\(CONFIG\);$/m);
    nodeCheck(file);
    const app = await runApp(file, { HOST: '127.0.0.1', PORT: '0' }, / on (http:\/\/127\.0\.0\.1:\d+)\/\n/);
    try {
      const url = app.match[1];
      const res = await fetch(`${url}/osm/tms/1.0.0/`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), new RegExp(`<TileMap [^>]*href="${escape(url)}/osm/tms/1\\.0\\.0/osm/webmercator"`));
      assert.equal((await fetch(`${url}/other/tms/1.0.0/`)).status, 404);
    } finally {
      app.child.kill('SIGTERM');
    }
  });
});

test('pm2 and systemd: a cache or log directory under /etc is written into the file, with a warning naming the documented layout', async () => {
  await withTmp(async (dir) => {
    const conf = path.join(dir, 'mapproxy.yaml');
    // Only named, never created.
    await writeFile(conf, 'globals:\n  cache:\n    base_dir: /etc/mpx-none/cache_data\n    lock_dir: /var/cache/mpx-none/locks\n');
    const log = path.join(dir, 'log.yaml');
    await writeFile(log, 'file: {path: /etc/mpx-none/logs/mapproxy.log}\n');
    const warning =
      'mapproxy-ts create: warning: the configuration writes under /etc: /etc/mpx-none/cache_data, /etc/mpx-none/logs; ' +
      'docs/deployment.md keeps tiles in /var/cache/mapproxy-ts (globals.cache base_dir, lock_dir and tile_lock_dir) ' +
      'and log files in /var/log/mapproxy-ts (file.path of the log configuration)\n';
    const eco = path.join(dir, 'ecosystem.config.js');
    assert.deepEqual(await create('-t', 'pm2', '-f', conf, '--log-config', log, eco), { code: 0, out: `writing ${eco}\n`, err: warning });
    const unit = path.join(dir, 'mapproxy-ts.service');
    const r = await create('-t', 'systemd', '-f', conf, '--log-config', log, unit);
    assert.equal(r.code, 0);
    assert.ok(r.err.endsWith(warning), r.err);
    assert.match(await readFile(unit, 'utf8'), /^ReadWritePaths=\/etc\/mpx-none\/cache_data \/var\/cache\/mpx-none\/locks \/etc\/mpx-none\/logs$/m);
  });
  assert.deepEqual(etcPaths(['/etc/mapproxy-ts/cache_data', '/etc', '/etcetera/x', '/var/cache/mapproxy-ts', '/etc/a/../b']), ['/etc/mapproxy-ts/cache_data', '/etc', '/etc/b']);
});

test('base-config and log-config: their production paths, uncommented, give the repository unit\'s ReadWritePaths, without a warning', async () => {
  await withTmp(async (dir) => {
    // The layout of docs/deployment.md, as the templates' comments give it.
    const conf = await baseConfig(dir);
    const text = (await readFile(conf, 'utf8'))
      .replace(/^ {4}(base_dir|lock_dir|tile_lock_dir): \.\/cache_data.*\n/gm, '')
      .replace(/^ {4}# {3}((base_dir|lock_dir|tile_lock_dir): \/var\/cache\/mapproxy-ts)/gm, '    $1');
    await writeFile(conf, text);
    assert.match(text, /^ {4}base_dir: \/var\/cache\/mapproxy-ts\n {4}lock_dir: \/var\/cache\/mapproxy-ts\/locks\n {4}tile_lock_dir: \/var\/cache\/mapproxy-ts\/tile_locks\n/m);
    assert.equal((await create('-t', 'log-config', dir)).code, 0);
    const log = path.join(dir, 'log.yaml');
    await writeFile(log, (await readFile(log, 'utf8')).replace(/^# (file:| {2}path:)/gm, '$1'));
    assert.equal((await loadLogConfig(log)).file?.path, '/var/log/mapproxy-ts/mapproxy.log');
    const unit = path.join(dir, 'mapproxy-ts.service');
    const r = await create('-t', 'systemd', '-f', conf, '--log-config', log, unit);
    // Only the PrivateTmp=yes warning of the test's own directory, if it is in /tmp.
    const warning = conf.startsWith('/tmp/') || conf.startsWith('/var/tmp/') ? privateTmpWarning([conf, log]) : '';
    assert.deepEqual(r, { code: 0, out: `writing ${unit}\n`, err: warning });
    assert.deepEqual(
      (await readFile(unit, 'utf8')).split('\n').filter((l) => l.startsWith('ReadWritePaths=')),
      [`ReadWritePaths=${SYSTEMD_DEFAULTS.writablePaths.join(' ')}`],
    );
  });
});
