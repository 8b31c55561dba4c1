/**
 * The repository's deployment files: `systemd/mapproxy-ts.service` (rendered from the template,
 * verified by `systemd-analyze verify`) and `ecosystem.config.js` (loaded with require() as pm2
 * loads it). Units written by `create -t systemd` are verified as well.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEMD_DEFAULTS, createCommand, renderSystemdUnit } from '../../src/cli/create.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = path.join(ROOT, 'systemd', 'mapproxy-ts.service');
const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** `Key=value` lines of a unit, by section, repeated keys in order. */
function unitEntries(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) section = s[1];
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (kv) out.set(`${section}.${kv[1]}`, [...(out.get(`${section}.${kv[1]}`) ?? []), kv[2]]);
  }
  return out;
}

/** `systemd-analyze verify` must accept the unit without a single complaint. */
function verify(file: string): void {
  const r = spawnSync(ANALYZE!, ['verify', file], { encoding: 'utf8' });
  assert.equal(r.stderr, '', `systemd-analyze verify ${file}`);
  assert.equal(r.status, 0);
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mpx-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('systemd/mapproxy-ts.service is the template rendered with the documented defaults', async () => {
  const text = await readFile(UNIT, 'utf8');
  assert.equal(text, await renderSystemdUnit(SYSTEMD_DEFAULTS), 'regenerate it from templates/mapproxy-ts.service.tmpl');
  const e = unitEntries(text);
  const expected: Record<string, string> = {
    'Service.Type': 'notify',
    'Service.NotifyAccess': 'all',
    'Service.User': 'mapproxy-ts',
    'Service.Group': 'mapproxy-ts',
    'Service.ExecStart':
      '/usr/bin/node /opt/mapproxy-ts/bin/mapproxy-ts.js serve /etc/mapproxy-ts/mapproxy.yaml --bind 127.0.0.1:8080 --graceful-timeout 30 --log-config /etc/mapproxy-ts/log.yaml',
    'Service.ExecReload': '/bin/kill -HUP $MAINPID',
    'Service.KillMode': 'mixed',
    'Service.KillSignal': 'SIGTERM',
    'Service.TimeoutStopSec': '40',
    'Service.Restart': 'on-failure',
    // serve's usage error and invalid configuration: a restart would fail the same way.
    'Service.RestartPreventExitStatus': '2 78',
    'Service.NoNewPrivileges': 'yes',
    'Service.ProtectSystem': 'strict',
    'Service.ReadWritePaths': '/var/cache/mapproxy-ts /var/log/mapproxy-ts',
    'Service.PrivateTmp': 'yes',
    'Install.WantedBy': 'multi-user.target',
  };
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(e.get(key), [value], key);
  // The stop timeout must exceed serve's graceful timeout, or systemd kills a draining server.
  assert.ok(Number(e.get('Service.TimeoutStopSec')?.[0]) > SYSTEMD_DEFAULTS.gracefulTimeout);
});

test('systemd-analyze verify: the repository unit with this checkout as ExecStart, and created units (one configuration, a directory of projects)', { skip: !ANALYZE && 'systemd-analyze is not installed' }, async () => {
  await withTmp(async (dir) => {
    const unit = path.join(dir, 'mapproxy-ts.service');
    await writeFile(unit, await renderSystemdUnit({ ...SYSTEMD_DEFAULTS, node: process.execPath, bin: path.join(ROOT, 'bin', 'mapproxy-ts.js') }));
    verify(unit);
    // With a pid file in /run, as docs/deployment.md says to write it: RuntimeDirectory= makes it.
    const withPid = path.join(dir, 'pid.service');
    await writeFile(
      withPid,
      (await readFile(unit, 'utf8'))
        .replace(/^\[Service\]$/m, '[Service]\nRuntimeDirectory=mapproxy-ts')
        .replace(/^(ExecStart=.*)$/m, '$1 --pid-file /run/mapproxy-ts/mapproxy-ts.pid'),
    );
    assert.deepEqual(unitEntries(await readFile(withPid, 'utf8')).get('Service.RuntimeDirectory'), ['mapproxy-ts']);
    verify(withPid);

    // A created unit: paths with a space and a % need quoting and escaping to stay valid.
    const cfgDir = path.join(dir, 'my maps 100%');
    // A MultiMapProxy directory of projects: serve --multiapp.
    const projects = path.join(dir, 'projects');
    const quiet = { out: process.stdout.write, err: process.stderr.write };
    process.stdout.write = (() => true) as typeof process.stdout.write;
    // The PrivateTmp=yes warning when the temporary directory is /tmp.
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      assert.equal(await createCommand(['-t', 'base-config', cfgDir]), 0);
      assert.equal(await createCommand(['-t', 'systemd', '-f', path.join(cfgDir, 'mapproxy.yaml'), path.join(dir, 'maps.service')]), 0);
      assert.equal(await createCommand(['-t', 'base-config', projects]), 0);
      await rename(path.join(projects, 'mapproxy.yaml'), path.join(projects, 'osm.yaml'));
      assert.equal(await createCommand(['-t', 'systemd', '-f', projects, path.join(dir, 'multi.service')]), 0);
    } finally {
      process.stdout.write = quiet.out;
      process.stderr.write = quiet.err;
    }
    const created = await readFile(path.join(dir, 'maps.service'), 'utf8');
    assert.deepEqual(unitEntries(created).get('Service.ReadWritePaths'), [`"${path.join(dir, 'my maps 100%%', 'cache_data')}"`]);
    verify(path.join(dir, 'maps.service'));
    const multi = unitEntries(await readFile(path.join(dir, 'multi.service'), 'utf8'));
    assert.match(multi.get('Service.ExecStart')![0], new RegExp(` serve --multiapp ${projects.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --bind `));
    assert.deepEqual(multi.get('Service.WorkingDirectory'), [projects]);
    verify(path.join(dir, 'multi.service'));

    // The check itself works: a unit whose ExecStart binary is missing is refused.
    const broken = path.join(dir, 'broken.service');
    await writeFile(broken, created.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'));
    const r = spawnSync(ANALYZE!, ['verify', broken], { encoding: 'utf8' });
    assert.match(r.stderr, /\/nonexistent\/node/);
  });
});

interface Pm2App {
  name: string;
  script: string;
  args: string[];
  cwd: string;
  exec_mode: string;
  instances: number;
  wait_ready?: boolean;
  listen_timeout?: number;
  kill_timeout?: number;
  out_file: string;
  error_file: string;
  env?: Record<string, string>;
}

test('ecosystem.config.js: the master in fork mode, one instance, wait_ready, kill_timeout above the graceful timeout', () => {
  const file = path.join(ROOT, 'ecosystem.config.js');
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  // pm2 loads the file with require(); this package is "type": "module", so that is require(esm).
  const { apps } = createRequire(import.meta.url)(file) as { apps: Pm2App[] };
  assert.deepEqual(apps.map((a) => a.name), ['mapproxy-ts-example-wms', 'mapproxy-ts']);
  const [wms, master] = apps;
  assert.equal(path.resolve(master.cwd), path.resolve(ROOT));
  assert.equal(master.script, 'bin/mapproxy-ts.js');
  assert.ok(existsSync(path.join(master.cwd, master.script)));
  assert.deepEqual(master.args, ['serve', 'examples/mapproxy.yaml', '--bind', '127.0.0.1:8080', '--graceful-timeout', '30']);
  assert.ok(existsSync(path.join(master.cwd, master.args[1])));
  assert.equal(master.exec_mode, 'fork');
  assert.equal(master.instances, 1);
  assert.equal(master.wait_ready, true);
  assert.equal(master.listen_timeout, 60000);
  assert.equal(master.kill_timeout, 40000);
  assert.ok(master.kill_timeout! > 30_000, 'kill_timeout must exceed serve\'s graceful timeout of 30 s');
  assert.deepEqual([master.out_file, master.error_file], ['logs/mapproxy-ts.out.log', 'logs/mapproxy-ts.error.log']);
  assert.deepEqual(master.env, { NODE_ENV: 'production', EXAMPLE_WMS_PORT: '8091' });
  assert.equal(wms.script, 'examples/world-wms.mjs');
  assert.ok(existsSync(path.join(wms.cwd, wms.script)));
  assert.deepEqual(wms.args, ['8091']);
  assert.equal(wms.exec_mode, 'fork');

  // MAPPROXY_BIND and EXAMPLE_WMS_PORT in pm2's environment move the addresses.
  const moved = spawnSync(process.execPath, ['-e', `const { apps } = require(${JSON.stringify(file)}); console.log(JSON.stringify([apps[0].args, apps[1].args[3], apps[1].env]))`], {
    encoding: 'utf8',
    env: { ...process.env, MAPPROXY_BIND: '127.0.0.1:18080', EXAMPLE_WMS_PORT: '18091' },
  });
  assert.equal(moved.status, 0, moved.stderr);
  assert.deepEqual(JSON.parse(moved.stdout), [['18091'], '127.0.0.1:18080', { NODE_ENV: 'production', EXAMPLE_WMS_PORT: '18091' }]);
});
