/**
 * The `mapproxy-ts` command line as a user meets it: a real child process
 * (`node --import tsx test/helpers/cli.ts …`), its exact stdout, stderr and exit code. Help and
 * usage errors, `check-config` on good and broken files, `serve-develop` start-up failures, the
 * `-b` address forms and a clean stop on SIGTERM.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { parseBind, UsageError, VERSION } from '../../src/cli/main.js';
import { SERVE_HELP as SERVE_COMMAND_HELP } from '../../src/cli/serve.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'test/helpers/cli.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI in a child process; `wrap` runs it under another command (`prlimit … --`). */
function spawnCli(args: string[], wrap: string[] = []): ChildProcess {
  const argv = [process.execPath, '--import', 'tsx', CLI, ...args];
  const [cmd, ...rest] = [...wrap, ...argv];
  return spawn(cmd, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Run the command to its end. */
async function run(...args: string[]): Promise<Run> {
  return runWrapped([], ...args);
}

/** Run the command to its end under `wrap`. */
async function runWrapped(wrap: string[], ...args: string[]): Promise<Run> {
  const child = spawnCli(args, wrap);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** A serve-develop child, resolved once it says where it listens. */
async function serve(args: string[]): Promise<{ child: ChildProcess; url: string; line: string; out: () => string; err: () => string }> {
  const child = spawnCli(['serve-develop', ...args]);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const found = await new Promise<{ url: string; line: string }>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /serving on (http:\/\/\S+?:\d+)\//.exec(stdout);
      if (m) resolve({ url: m[1], line: stdout.split('\n').find((l) => l.includes('serving on')) ?? '' });
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${stdout}\n${stderr}`)));
  });
  return { child, ...found, out: () => stdout, err: () => stderr };
}

const USAGE = `Usage: mapproxy-ts <command> [options]

Commands:
  serve <mapproxy.yaml>           the production server: a master and pre-forked workers
  serve-develop <mapproxy.yaml>   serve a configuration in one process (development)
  serve-multiapp-develop <dir>    serve every <dir>/<name>.yaml under /<name>/ (development)
  check-config <mapproxy.yaml>    validate a configuration, print every problem
  create -t <template> <dest>     write a starting file (base-config, seed-config, log-config,
                                  app, pm2, systemd)

Options:
  -h, --help       show help (also: mapproxy-ts <command> --help)
  -v, --version    print the version
`;

const SERVE_HELP = `Usage: mapproxy-ts serve-develop <mapproxy.yaml> [options]

Serve a MapProxy configuration in one process, for local testing. The configuration (and
every base: file) is reloaded when it changes; an invalid edit keeps the old one serving.

Options:
  -b, --bind address   where to listen (default 127.0.0.1:8080): host:port, [ipv6]:port,
                       port (on localhost), :port (on all interfaces) or host (port 8080)
      --log-format F   pretty (human-readable) or json log lines (default: pretty on a
                       terminal, json otherwise)
      --debug          answer internal errors (500) with their stack trace instead of
                       "internal error" (development only: it shows the server's internals)
      --health-path P  where liveness answers (default /healthz); off: nowhere
      --ready-path P   where readiness answers (default /readyz); off: nowhere
      --metrics-path P
                       where the Prometheus metrics answer (default /metrics); off: nowhere
  -h, --help           show this help
`;

const CHECK_HELP = `Usage: mapproxy-ts check-config <mapproxy.yaml>

Load and validate a configuration (including base: files) and print every problem with its
YAML path. Exit 0 when it is valid (warnings allowed), 1 when it is not.
`;

const VALID = `
services:
  tms:
layers:
  - name: dbg
    title: Debug
    sources: [dbg_cache]
caches:
  dbg_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [dbg]
    disable_storage: true
sources:
  dbg:
    type: debug
`;

/** What the config layer says about broken.yaml, in its order. */
const BROKEN_PROBLEMS = [
  'services.wms: not supported yet',
  'caches.osm.grids[0]: unknown grid "GLOBAL_MERCATR" (did you mean GLOBAL_MERCATOR?)',
  'caches.osm.sources[1]: unknown source "nosuch"',
  'caches.osm.meta_size[1]: expected an integer >= 1, got "x"',
];

let dir: string;
let blocker: Server;
let busyPort: number;
const file = (name: string): string => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpx-'));
  await writeFile(file('valid.yaml'), VALID);
  await writeFile(file('warn.yaml'), VALID.replace('    disable_storage: true\n', '    disable_storage: true\n    colour: red\n'));
  await writeFile(file('broken.yaml'), `
services:
  tms:
  wms:
    md: {title: WMS}
layers:
  - name: osm
    title: OSM
    sources: [osm]
caches:
  osm:
    grids: [GLOBAL_MERCATR]
    sources: [wms1, nosuch]
    meta_size: [4, "x"]
sources:
  wms1:
    type: wms
    req:
      url: http://127.0.0.1:1/wms?
      layers: a
`);
  await writeFile(file('syntax.yaml'), 'services:\n  tms:\nlayers:\n  - name: a\n    title: [unclosed\ncaches: {}\n');
  // Valid YAML and schema, but the tile URL and the on_error colour only fail when built.
  await writeFile(file('build.yaml'), `
services:
  tms:
layers:
  - name: t
    title: T
    sources: [c]
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [t]
sources:
  t:
    type: tile
    grid: GLOBAL_WEBMERCATOR
    url: ftp://example.org/%(z)s/%(x)s/%(y)s.png
  w:
    type: wms
    req: {url: "http://127.0.0.1:9/wms?", layers: a}
    on_error:
      500: {response: "#zzzzzz"}
`);
  await writeFile(file('include.yaml'), 'base: nothere.yaml\nservices:\n  tms:\n');
  // MapProxy's mapproxy_export.yaml and others: a tile source without grid.
  await writeFile(file('nogrid.yaml'), `
services:
  tms:
layers:
  - name: t
    title: T
    sources: [c]
caches:
  c:
    sources: [t]
    disable_storage: true
sources:
  t:
    type: tile
    url: http://127.0.0.1:9/%(tms_path)s.png
`);
  // Valid, but its cache directory lies below a regular file: storing a tile fails unexpectedly.
  await writeFile(file('afile'), 'not a directory\n');
  await writeFile(file('notdir.yaml'), VALID.replace('    disable_storage: true\n', '').concat('globals:\n  cache:\n    base_dir: ./afile/cache\n'));
  await writeFile(file('template.yaml'), VALID.replace('services:\n  tms:\n', 'services:\n  wmts:\n    restful_template: /{Layer}/{TileMatrix}.png\n'));
  blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  busyPort = (blocker.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((r) => blocker?.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

test('help, version and usage errors: exact text, stream and exit code', async () => {
  const [help, version, v, serveHelp, checkHelp, none, unknown, unknownHelp, noFile, noFile2, noBindValue, badOption, bogus, boolValue, ambiguous] =
    await Promise.all([
      run('--help'),
      run('--version'),
      run('-v'),
      run('serve-develop', '--help'),
      run('check-config', '-h'),
      run(),
      run('seed'),
      run('frobnicate', '--help'),
      run('check-config'),
      run('serve-develop', 'a.yaml', 'b.yaml'),
      run('serve-develop', 'a.yaml', '-b'),
      run('check-config', 'a.yaml', '--port', '80'),
      run('serve-develop', 'x.yaml', '--bogus'),
      run('serve-develop', 'x.yaml', '--debug=yes'),
      run('serve-develop', 'x.yaml', '-b', '--debug'),
    ]);
  assert.deepEqual(help, { code: 0, stdout: USAGE, stderr: '' });
  for (const r of [version, v]) assert.deepEqual(r, { code: 0, stdout: `mapproxy-ts ${VERSION}\n`, stderr: '' });
  assert.equal(VERSION, '0.1.0');
  assert.deepEqual(serveHelp, { code: 0, stdout: SERVE_HELP, stderr: '' });
  assert.deepEqual(checkHelp, { code: 0, stdout: CHECK_HELP, stderr: '' });
  // Usage errors: exit 2, the reason and the usage on stderr, nothing on stdout.
  assert.deepEqual(none, { code: 2, stdout: '', stderr: `mapproxy-ts: no command given\n\n${USAGE}` });
  assert.deepEqual(unknown, { code: 2, stdout: '', stderr: `mapproxy-ts: unknown command "seed"\n\n${USAGE}` });
  assert.deepEqual(unknownHelp, { code: 2, stdout: '', stderr: `mapproxy-ts: unknown command "frobnicate"\n\n${USAGE}` });
  assert.deepEqual(noFile, { code: 2, stdout: '', stderr: `mapproxy-ts: check-config needs exactly one configuration file\n\n${CHECK_HELP}` });
  assert.deepEqual(noFile2, { code: 2, stdout: '', stderr: `mapproxy-ts: serve-develop needs exactly one configuration file\n\n${SERVE_HELP}` });
  // Node's parseArgs errors in our words, as the other usage errors.
  assert.deepEqual(noBindValue, { code: 2, stdout: '', stderr: `mapproxy-ts: option -b, --bind needs a value\n\n${SERVE_HELP}` });
  assert.deepEqual(badOption, { code: 2, stdout: '', stderr: `mapproxy-ts: unknown option --port\n\n${CHECK_HELP}` });
  assert.deepEqual(bogus, { code: 2, stdout: '', stderr: `mapproxy-ts: unknown option --bogus\n\n${SERVE_HELP}` });
  assert.deepEqual(boolValue, { code: 2, stdout: '', stderr: `mapproxy-ts: option --debug takes no value\n\n${SERVE_HELP}` });
  assert.deepEqual(ambiguous, {
    code: 2,
    stdout: '',
    stderr: `mapproxy-ts: option -b needs a value (write --bind=-x for a value that starts with "-")\n\n${SERVE_HELP}`,
  });
});

test('without -b, serve-develop, serve-multiapp-develop and serve all listen on 127.0.0.1:8080', async () => {
  // MapProxy: mapproxy-util serve-develop and serve-multiapp-develop default to 127.0.0.1:8080.
  // The address is held here (or by whatever else holds it), so each command must fail on it.
  const holder = createServer();
  await new Promise<void>((resolve) => {
    holder.once('error', () => resolve()); // taken already: just as good
    holder.listen(8080, '127.0.0.1', () => resolve());
  });
  try {
    const runs = await Promise.all([
      run('serve-develop', file('valid.yaml')),
      run('serve-multiapp-develop', dir),
      run('serve', file('valid.yaml'), '-w', '1', '--spare-workers', '0'),
    ]);
    for (const r of runs) {
      assert.deepEqual(r, { code: 1, stdout: r.stdout, stderr: 'mapproxy-ts: cannot listen on 127.0.0.1:8080: the address is already in use (EADDRINUSE)\n' });
    }
  } finally {
    await new Promise<void>((resolve) => (holder.listening ? holder.close(() => resolve()) : resolve()));
  }
});

test('check-config: ok, warnings, every problem with its YAML path, syntax and include errors', async () => {
  const [warn, broken, syntax, built, template, include, missing] = await Promise.all([
    run('check-config', file('warn.yaml')),
    run('check-config', file('broken.yaml')),
    run('check-config', file('syntax.yaml')),
    run('check-config', file('build.yaml')),
    run('check-config', file('template.yaml')),
    run('check-config', file('include.yaml')),
    run('check-config', file('missing.yaml')),
  ]);
  // MapProxy: unknown keys only warn.
  assert.deepEqual(warn, { code: 0, stdout: `${file('warn.yaml')}: ok\n`, stderr: 'warning: caches.dbg_cache.colour: unknown key\n' });
  assert.deepEqual(broken, { code: 1, stdout: '', stderr: `${file('broken.yaml')}: ${BROKEN_PROBLEMS.length} problems\n  ${BROKEN_PROBLEMS.join('\n  ')}\n` });
  assert.deepEqual(syntax, {
    code: 1,
    stdout: '',
    stderr: `${file('syntax.yaml')}: 1 problem\n  YAML syntax error at line 6, column 1: missed comma between flow collection entries\n`,
  });
  // Problems found only when building come in one run, not one per run.
  assert.deepEqual(built, {
    code: 1,
    stdout: '',
    stderr: [
      `${file('build.yaml')}: 2 problems`,
      '  sources.t.url: must be an http://, https:// or file:// URL template (got "ftp://example.org/%(z)s/%(x)s/%(y)s.png")',
      '  sources.w.on_error.500.response: invalid colour "#zzzzzz": use "#rrggbb", "#rrggbbaa", [r, g, b(, a)] or "transparent"',
      '',
    ].join('\n'),
  });
  // The services' own options are checked too, as serving would.
  assert.deepEqual(template, {
    code: 1,
    stdout: '',
    stderr: `${file('template.yaml')}: 1 problem\n  services.wmts.restful_template: missing required variables in WMTS restful template "/{Layer}/{TileMatrix}.png": {TileCol}, {TileRow}, {TileMatrixSet}\n`,
  });
  assert.deepEqual(include, { code: 1, stdout: '', stderr: `${file('include.yaml')}: 1 problem\n  base: cannot read nothere.yaml: no such file\n` });
  assert.deepEqual(missing, { code: 1, stdout: '', stderr: `${file('missing.yaml')}: 1 problem\n  cannot read the file: no such file\n` });
});

test('check-config: warnings found when building read like the others, on stderr; stdout has only the ok line', async () => {
  const [nogrid, limited] = await Promise.all([
    run('check-config', file('nogrid.yaml')),
    runWrapped(['prlimit', '--nofile=160:160', '--'], 'check-config', file('valid.yaml')),
  ]);
  // MapProxy logs "tile source … does not have a grid configured and defaults to GLOBAL_MERCATOR".
  assert.deepEqual(nogrid, {
    code: 0,
    stdout: `${file('nogrid.yaml')}: ok\n`,
    stderr: 'warning: sources.t: no grid: defaults to GLOBAL_MERCATOR (set grid; MapProxy 2.0 changes the default)\n',
  });
  assert.deepEqual(limited, {
    code: 0,
    stdout: `${file('valid.yaml')}: ok\n`,
    stderr: 'warning: globals.cache.memory_tier.open_files: keeping 80 tile files open, not 4096: the process may open 160 files (raise LimitNOFILE / ulimit -n)\n',
  });
});

test('serve-develop: an invalid configuration fails before any port is bound; a port in use fails clearly', async () => {
  const [invalid, inUse] = await Promise.all([
    // The port is taken: had it tried to listen first, the error would be about the port.
    run('serve-develop', file('broken.yaml'), '-b', `127.0.0.1:${busyPort}`),
    run('serve-develop', file('valid.yaml'), '-b', `127.0.0.1:${busyPort}`),
  ]);
  assert.deepEqual(invalid, {
    code: 1,
    stdout: '',
    stderr: `mapproxy-ts: invalid configuration ${file('broken.yaml')}:\n  ${BROKEN_PROBLEMS.join('\n  ')}\n`,
  });
  assert.deepEqual(inUse, {
    code: 1,
    stdout: '',
    stderr: `mapproxy-ts: cannot listen on 127.0.0.1:${busyPort}: the address is already in use (EADDRINUSE)\n`,
  });
});

test('-b: invalid addresses are usage errors (exit 2) naming the value', async () => {
  const cases: Array<[string, string]> = [
    ['garbage here', '"garbage here" is not a host name or address'],
    ['127.0.0.1:http', 'port must be a number 0-65535 (got "http")'],
    ['::1:8080', 'an IPv6 address needs brackets, as in [::1]:8080'],
  ];
  const runs = await Promise.all(cases.map(([b]) => run('serve-develop', file('valid.yaml'), '-b', b)));
  runs.forEach((r, i) => {
    const [b, why] = cases[i];
    assert.deepEqual(r, { code: 2, stdout: '', stderr: `mapproxy-ts: invalid --bind "${b}": ${why}\n\n${SERVE_HELP}` }, b);
  });
  // The same checks without a process each.
  const more: Array<[string, string]> = [
    ['127.0.0.1:70000', 'port must be a number 0-65535 (got "70000")'],
    ['127.0.0.1:', 'port must be a number 0-65535 (got "")'],
    ['[::1', 'expected host:port, [ipv6]:port, :port, port or host'],
    ['[localhost]:80', '"localhost" is not an IPv6 address'],
    [':', 'port must be a number 0-65535 (got "")'],
    ['', 'expected host:port, [ipv6]:port, :port, port or host'],
    ['my_host:80', '"my_host" is not a host name or address'],
  ];
  for (const [b, why] of more) assert.throws(() => parseBind(b), { name: 'Error', message: `invalid --bind "${b}": ${why}` }, b);
  assert.ok((() => { try { parseBind('-'); } catch (e) { return e instanceof UsageError; } return false; })());
});

test('-b forms as MapProxy parses them (port, :port, host, host:port, [ipv6]:port)', () => {
  // MapProxy: parse_bind_address('80') -> ('localhost', 80); '0.0.0.0' -> ('0.0.0.0', 8080);
  // ':8080' -> ('', 8080), every interface. localhost is listened on as 127.0.0.1 (werkzeug binds
  // it over IPv4; Node would take its first address, often ::1 alone).
  assert.deepEqual(parseBind('8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseBind('LocalHost:9000'), { host: '127.0.0.1', port: 9000 });
  assert.deepEqual(parseBind(':8080'), { host: '', port: 8080 });
  assert.deepEqual(parseBind('0.0.0.0'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseBind('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseBind('map-server.local:9000'), { host: 'map-server.local', port: 9000 });
  assert.deepEqual(parseBind('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseBind('[::]'), { host: '::', port: 8080 });
});

test('serve-develop on [::1]:0 and on a bare port (localhost): serves, then stops with exit 0 on SIGTERM', async () => {
  const servers = await Promise.all([serve([file('valid.yaml'), '-b', '[::1]:0']), serve([file('valid.yaml'), '-b', '0'])]);
  try {
    const [v6, bare] = servers;
    assert.match(v6.url, /^http:\/\/\[::1\]:\d+$/);
    assert.match(bare.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${v6.url}/tms/1.0.0/dbg/EPSG3857/0/0/0.png`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    // A bare port listens on localhost, over IPv4 (as MapProxy's werkzeug): 127.0.0.1.
    assert.equal((await fetch(`${bare.url}/`)).status, 200);
  } finally {
    const ends = await Promise.all(servers.map(async (s) => {
      s.child.kill('SIGTERM');
      // 'close': all of stdout and stderr read ('exit' may come before the last line).
      const [code, signal] = (await once(s.child, 'close')) as [number | null, string | null];
      return { code, signal, stderr: s.err() };
    }));
    for (const e of ends) assert.deepEqual(e, { code: 0, signal: null, stderr: '' });
    for (const s of servers) assert.match(s.out(), /stopping/);
  }
});

test('serve-develop --debug answers an unexpected error with its stack; without it only "internal error"; serve has no --debug', async () => {
  const tile = '/tms/1.0.0/dbg/EPSG3857/1/0/0.png';
  const servers = await Promise.all([serve([file('notdir.yaml'), '-b', '127.0.0.1:0', '--debug']), serve([file('notdir.yaml'), '-b', '127.0.0.1:0'])]);
  try {
    const [debug, plain] = servers;
    const d = await fetch(debug.url + tile);
    assert.equal(d.status, 500);
    assert.equal(d.headers.get('content-type'), 'text/plain');
    const body = await d.text();
    // MapProxy's message first, then the error as Node reports it.
    assert.ok(body.startsWith(`internal error\n\nError: ENOTDIR: not a directory, `), body);
    assert.ok(body.includes(` '${file('afile')}/cache/`), body);
    const p = await fetch(plain.url + tile);
    assert.equal(p.status, 500);
    assert.equal(await p.text(), 'internal error');
  } finally {
    for (const s of servers) {
      s.child.kill('SIGTERM');
      await once(s.child, 'exit');
    }
  }
  const refused = await run('serve', file('valid.yaml'), '--debug');
  assert.deepEqual(refused, { code: 2, stdout: '', stderr: `mapproxy-ts: unknown option --debug\n\n${SERVE_COMMAND_HELP}` });
});
