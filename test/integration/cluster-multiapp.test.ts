/**
 * `serve --multiapp <dir>`: the production cluster serving MultiMapProxy, every
 * `<dir>/<name>.yaml` under `/<name>/`, with the project in the capabilities URLs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { get } from '../helpers/server.js';

const dirs: string[] = [];
const masters: ServeProcess[] = [];
after(async () => {
  await Promise.all(masters.map((m) => m.kill()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const project = (title: string) => `
services: {tms: {}}
layers: [{name: dbg, title: ${title}, sources: [c]}]
caches: {c: {grids: [GLOBAL_WEBMERCATOR], sources: [d], cache: {type: file}}}
sources: {d: {type: debug}}
globals: {cache: {base_dir: ./cache_data}}
`;

test('serve --multiapp serves each project under its name from the workers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpx-multi-'));
  dirs.push(dir);
  await writeFile(join(dir, 'alpha.yaml'), project('Alpha'));
  await writeFile(join(dir, 'beta.yaml'), project('Beta'));
  const m = await startServe(dir, ['--multiapp', '-w', '1', '--spare-workers', '0']);
  masters.push(m);
  for (const name of ['alpha', 'beta']) {
    const caps = await get(`${m.url}/${name}/tms/1.0.0/`);
    assert.equal(caps.status, 200);
    assert.match(caps.body.toString(), new RegExp(`href="${m.url}/${name}/tms/1.0.0/dbg/EPSG3857"`));
    const tile = await get(`${m.url}/${name}/tms/1.0.0/dbg/EPSG3857/0/0/0.png`);
    assert.equal(tile.status, 200);
    assert.equal(tile.headers.get('content-type'), 'image/png');
  }
  assert.match((await get(`${m.url}/beta/tms/1.0.0/dbg/EPSG3857`)).body.toString(), /<Title>Beta<\/Title>/);
  const unknown = await get(`${m.url}/gamma/tms/1.0.0/`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.toString(), 'not found');
  // Listing is off by default: the welcome page names no project.
  assert.doesNotMatch((await get(`${m.url}/`)).body.toString(), /alpha/);
  // The operational routes answer at the top, for the whole worker pool.
  assert.equal((await get(`${m.url}/healthz`)).body.toString(), 'ok');
  assert.equal((await get(`${m.url}/readyz`)).body.toString(), 'ready');
  const metrics = (await get(`${m.url}/metrics`)).body.toString();
  assert.match(metrics, /^mapproxy_http_requests_total\{service="tms",status="200"\} \d+$/m);
  process.kill(m.pid, 'SIGTERM');
  assert.deepEqual(await m.exited(), { code: 0, signal: null });
});

test('serve --multiapp with a missing directory exits 78 before binding; --allow-listing needs --multiapp', async () => {
  const m = await startServe('/nonexistent/mapproxy-projects', ['--multiapp'], { waitReady: false });
  assert.equal((await m.exited()).code, 78);
  assert.match(m.output(), /not a directory of configurations: \/nonexistent\/mapproxy-projects/);
  const u = await startServe('/tmp/x.yaml', ['--allow-listing'], { waitReady: false });
  assert.equal((await u.exited()).code, 2);
  assert.match(u.output(), /--allow-listing goes with --multiapp/);
});

test('serve --multiapp: a worker replaced while the directory is away starts, answers 404, and serves again once it is back', async () => {
  const base = await mkdtemp(join(tmpdir(), 'mpx-multi-'));
  dirs.push(base);
  const dir = join(base, 'projects');
  await mkdir(dir);
  await writeFile(join(dir, 'alpha.yaml'), project('Alpha'));
  const m = await startServe(dir, ['--multiapp', '-w', '1', '--spare-workers', '0']);
  masters.push(m);
  assert.equal((await get(`${m.url}/alpha/tms/1.0.0/`)).status, 200);
  // A deploy swapping the directory by mv, and the worker dies meanwhile.
  await rename(dir, `${dir}.old`);
  const [old] = m.listeningWorkers();
  const from = m.logs().length;
  process.kill(old, 'SIGKILL');
  const listening = await m.waitForLog((l) => l.msg === 'worker listening' && l.workerPid !== old, { from });
  assert.equal((await get(`${m.url}/alpha/tms/1.0.0/`)).status, 404);
  assert.deepEqual(m.logs().slice(from).filter((l) => l.msg === 'worker failed to start'), []);
  await rename(`${dir}.old`, dir);
  // Projects are looked up again at most once a second (checkIntervalMs).
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await get(`${m.url}/alpha/tms/1.0.0/`)).status;
  }
  assert.equal(status, 200);
  assert.deepEqual(m.listeningWorkers(), [listening.workerPid], 'the same new worker serves');
  process.kill(m.pid, 'SIGTERM');
  assert.deepEqual(await m.exited(), { code: 0, signal: null });
});
