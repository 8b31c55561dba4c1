/**
 * `mapproxy-ts serve-multiapp-develop <dir>` as a real child process (MapProxy's
 * `mapproxy-util serve-multiapp-develop`): help, usage errors and their exit codes, serving two
 * projects with the listing, reloading an edited project with the default check interval, and a
 * clean exit 0 on SIGTERM.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { get } from '../helpers/server.js';
import { waitFor } from '../helpers/serve.js';
import { SERVE_MULTIAPP_DEVELOP_HELP } from '../../src/cli/serve-multiapp-develop.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRY = join(ROOT, 'src/cli/serve-multiapp-develop.ts');
// The command as main.ts will call it, without going through main.ts's dispatch.
const SCRIPT = `import { serveMultiappDevelopCommand } from ${JSON.stringify(ENTRY)};
serveMultiappDevelopCommand(process.argv.slice(1)).then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });`;

let upstream: Upstream;
let dir: string;

function start(args: string[]): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, '--', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  // 'close': the exit code once all output is read ('exit' may come before the last of it).
  const exit = once(child, 'close').then(([code]) => code as number | null);
  return { child, output: () => out, exit };
}

function project(layer: string, wmsLayers: string): string {
  return `services:
  tms:
layers:
  - name: ${layer}
    title: ${layer}
    sources: [c]
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [s]
    disable_storage: true
    meta_size: [1, 1]
    meta_buffer: 0
sources:
  s:
    type: wms
    req: {url: "${upstream.url}/wms?", layers: ${wmsLayers}}
globals:
  cache: {base_dir: ./cache_${layer}, lock_dir: ./locks_${layer}}
`;
}

before(async () => {
  upstream = await startUpstream();
  dir = await mkdtemp(join(tmpdir(), 'mpx-'));
  await writeFile(join(dir, 'one.yaml'), project('a', 'first'));
  await writeFile(join(dir, 'two.yaml'), project('b', 'second'));
});

after(async () => {
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

test('--help prints the help and exits 0; usage errors exit 2; a missing directory exits 1', async () => {
  const missing = join(dir, 'nope');
  const blocker = createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const busy = (blocker.address() as AddressInfo).port;
  // Seven processes at once: each spends most of its time starting.
  const [help, none, badBind, unknown, gone, badFormat, busyPort] = [
    ['--help'],
    [],
    [dir, '-b', 'host:99999'],
    [dir, '--workers', '2'],
    [missing],
    [dir, '--log-format', 'xml'],
    [dir, '-b', `127.0.0.1:${busy}`],
  ].map(start);
  assert.equal(await help.exit, 0);
  assert.equal(help.output(), SERVE_MULTIAPP_DEVELOP_HELP);

  assert.equal(await none.exit, 2);
  assert.equal(none.output(), `mapproxy-ts: serve-multiapp-develop needs exactly one projects directory\n\n${SERVE_MULTIAPP_DEVELOP_HELP}`);

  assert.equal(await badBind.exit, 2);
  assert.ok(badBind.output().startsWith('mapproxy-ts: invalid --bind "host:99999": port must be a number 0-65535 (got "99999")\n'), badBind.output());

  assert.equal(await unknown.exit, 2);
  assert.equal(unknown.output(), `mapproxy-ts: unknown option --workers\n\n${SERVE_MULTIAPP_DEVELOP_HELP}`);

  assert.equal(await gone.exit, 1);
  assert.equal(gone.output(), `mapproxy-ts: not a directory of configurations: ${missing}\n`);

  assert.equal(await badFormat.exit, 2);
  assert.equal(badFormat.output(), `mapproxy-ts: invalid --log-format "xml": expected json or pretty\n\n${SERVE_MULTIAPP_DEVELOP_HELP}`);

  assert.equal(await busyPort.exit, 1);
  assert.equal(busyPort.output(), `mapproxy-ts: cannot listen on 127.0.0.1:${busy}: the address is already in use (EADDRINUSE)\n`);
  blocker.close();
});

test('serves the projects with the listing, reloads an edited project, stops on SIGTERM with 0', async () => {
  const server = start([dir, '-b', '127.0.0.1:0', '--allow-listing']);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /"port":(\d+)/.exec(server.output());
        if (m) {
          clearInterval(timer);
          resolve(Number(m[1]));
        }
      }, 20);
      void server.exit.then((code) => {
        clearInterval(timer);
        reject(new Error(`exited with ${code}: ${server.output()}`));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const index = await get(`${url}/`);
    assert.equal(index.status, 200);
    assert.ok(index.body.toString().includes(`<ul><li><a href="${url}/one/">one</a></li>\n<li><a href="${url}/two/">two</a></li></ul>`), index.body.toString());

    const caps = (await get(`${url}/two/tms/1.0.0/`)).body.toString();
    assert.ok(caps.includes(`href="${url}/two/tms/1.0.0/b/EPSG3857"`), caps);
    assert.equal((await get(`${url}/one/tms/1.0.0/a/EPSG3857/0/0/0.png`)).status, 200);
    assert.equal(upstream.last().query.get('layers'), 'first');
    assert.equal((await get(`${url}/three/`)).status, 404);

    // the default check interval is one second: keep asking until the edit is served
    await writeFile(join(dir, 'one.yaml.tmp'), project('a', 'edited'));
    await rename(join(dir, 'one.yaml.tmp'), join(dir, 'one.yaml'));
    for (let i = 0; upstream.last().query.get('layers') !== 'edited'; i++) {
      assert.ok(i < 200, 'the edited project was not reloaded');
      assert.equal((await get(`${url}/one/tms/1.0.0/a/EPSG3857/0/0/0.png`)).status, 200);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Logged before the edit was served, but stdout and the HTTP connection are read apart: wait for it.
    await waitFor(() => /"msg":"configuration reloaded"/.test(server.output()), 'the reload line');

    server.child.kill('SIGTERM');
    assert.equal(await server.exit, 0);
    assert.match(server.output(), /"msg":"stopping"/);
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  }
});
