// checkConfigFile, the check-config command's entry: never throws for problems of the configuration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfigFile } from '../../../src/config/check.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { validateConfig } from '../../../src/config/validate.js';

const fixtures = fileURLToPath(new URL('../../fixtures/config/', import.meta.url));
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mpx-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('a valid configuration with includes: ok, every file listed', async () => {
  const result = await checkConfigFile(path.join(fixtures, 'includes/main.yaml'));
  assert.deepEqual(result, {
    ok: true,
    problems: [],
    warnings: [],
    files: ['main.yaml', 'a.yaml', 'sub/b.yaml', 'c.yaml'].map((f) => path.join(fixtures, 'includes', f)),
  });
});

test('the rig configuration as MapProxy runs it: only the unsupported services are problems', async () => {
  // ../shared/rig/mapproxy.yaml, copied: demo and wms are not supported yet, everything else is.
  const rig = await writeRigCopy();
  const result = await checkConfigFile(rig);
  assert.equal(result.ok, false);
  assert.deepEqual(result.problems, [
    { path: 'services.demo', message: 'not supported yet' },
    { path: 'services.wms', message: 'not supported yet' },
  ]);
  assert.deepEqual(result.warnings, []);
});

test('validation problems and warnings come back together', async () => {
  const file = path.join(tmp, 'bad.yaml');
  await writeFile(
    file,
    'services:\n  tms:\n    origni: nw\nlayers:\n  - name: a\n    title: A\n    sources: [nope]\n',
  );
  const result = await checkConfigFile(file);
  assert.deepEqual(result, {
    ok: false,
    problems: [{ path: 'layers[0].sources[0]', message: 'unknown cache or source "nope"' }],
    warnings: [{ path: 'services.tms.origni', message: 'unknown key (did you mean origin?)' }],
    files: [file],
  });
});

test('a seed configuration given as mapproxy.yaml: its sections are named as seed.yaml sections', async () => {
  const file = path.join(tmp, 'seed.yaml');
  await writeFile(file, 'seeds:\n  s: {caches: [c], levels: {to: 2}}\ncleanups:\n  c: {caches: [c], remove_before: {days: 1}}\ncoverages:\n  g: {bbox: [0, 0, 1, 1], srs: "EPSG:4326"}\n');
  const result = await checkConfigFile(file);
  const seedSection = 'unknown key: a section of a seed configuration (seed.yaml, read by mapproxy-seed), not of mapproxy.yaml';
  assert.deepEqual(result.warnings, [
    { path: 'layers', message: 'no layers configured' },
    { path: 'services', message: 'no services configured' },
    { path: 'seeds', message: seedSection },
    { path: 'cleanups', message: seedSection },
    { path: 'coverages', message: seedSection },
  ]);
  // Below the top they are ordinary unknown keys.
  await writeFile(file, 'services:\n  tms:\n    seeds: 1\n');
  assert.deepEqual((await checkConfigFile(file)).warnings.filter((w) => w.path === 'services.tms.seeds'), [{ path: 'services.tms.seeds', message: 'unknown key' }]);
});

test('a syntax error in an include is a problem naming the include; the files read are listed', async () => {
  const inc = path.join(tmp, 'inc.yaml');
  const main = path.join(tmp, 'main.yaml');
  await writeFile(inc, 'services: {tms: [}\n');
  await writeFile(main, 'base: inc.yaml\n');
  const result = await checkConfigFile(main);
  assert.equal(result.ok, false);
  assert.deepEqual(result.files, [main, inc]);
  assert.equal(result.problems.length, 1);
  assert.equal(result.problems[0].path, '');
  assert.match(result.problems[0].message, new RegExp(`^${inc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: YAML syntax error at line 1, column \\d+: `));
});

test('a missing file is a problem, not an exception', async () => {
  const result = await checkConfigFile(path.join(tmp, 'missing.yaml'));
  assert.deepEqual(result, { ok: false, problems: [{ path: '', message: 'cannot read the file: no such file' }], warnings: [], files: [] });
});

async function writeRigCopy(): Promise<string> {
  const file = path.join(tmp, 'rig.yaml');
  await writeFile(
    file,
    `services:
  demo:
  tms:
    use_grid_names: false
    origin: 'sw'
  wmts:
    restful: true
    kvp: true
  wms:
    srs: ['EPSG:3857', 'EPSG:4326', 'EPSG:900913']
    image_formats: ['image/png', 'image/jpeg']
    versions: ['1.1.1', '1.3.0']
    md:
      title: MapProxy reference rig
      online_resource: http://127.0.0.1:8080/service?
      contact:
        person: Rig
      access_constraints: None
      fees: 'None'
layers:
  - name: world
    title: Synthetic world (MapServer upstream, cached)
    sources: [world_cache]
caches:
  world_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [world_wms]
    format: image/png
    request_format: image/png
    meta_size: [4, 4]
    meta_buffer: 80
    cache:
      type: file
      directory_layout: tc
sources:
  world_wms:
    type: wms
    req:
      url: http://127.0.0.1:8081/mapserv?
      layers: base
      transparent: false
    supported_srs: ['EPSG:3857', 'EPSG:4326']
    supported_formats: ['image/png', 'image/jpeg']
    wms_opts:
      version: '1.1.1'
    http:
      client_timeout: 120
globals:
  cache:
    base_dir: './cache_data'
    lock_dir: './cache_data/locks'
    tile_lock_dir: './cache_data/tile_locks'
    meta_size: [4, 4]
    meta_buffer: 80
  image:
    resampling_method: bilinear
    paletted: false
`,
  );
  return file;
}

test('a problem or warning in an included file names that file; one the main file sets does not', async () => {
  const dir = path.join(tmp, 'origins');
  await import('node:fs/promises').then((fs) => fs.mkdir(path.join(dir, 'inc'), { recursive: true }));
  await writeFile(
    path.join(dir, 'inc', 'caches.yaml'),
    'caches:\n  c:\n    grids: [NO_SUCH_GRID]\n    sources: []\n    cache: {type: file, directory_layuot: tc}\n',
  );
  await writeFile(path.join(dir, 'other.yaml'), 'globals:\n  cache:\n    meta_size: [0, 4]\n');
  const main = path.join(dir, 'main.yaml');
  await writeFile(main, 'base: [inc/caches.yaml, other.yaml]\nservices:\n  tms:\n    origni: nw\nlayers:\n  - {name: l, title: L, sources: [c]}\n');
  const result = await checkConfigFile(main);
  assert.deepEqual(result.problems, [
    { path: 'globals.cache.meta_size[0]', message: 'expected an integer >= 1, got 0 (in other.yaml)' },
    { path: 'caches.c.grids[0]', message: 'unknown grid "NO_SUCH_GRID" (in inc/caches.yaml)' },
  ]);
  assert.deepEqual(result.warnings, [
    { path: 'caches.c.cache.directory_layuot', message: 'unknown key (did you mean directory_layout?) (in inc/caches.yaml)' },
    { path: 'services.tms.origni', message: 'unknown key (did you mean origin?)' },
  ]);
  // The same in the ConfigError that serve, serve-develop and createApp report.
  const loaded = await loadConfigFile(main);
  assert.throws(() => validateConfig(loaded.config, { file: main, dir: loaded.dir, origins: loaded.origins }), {
    message:
      `invalid configuration ${main}:\n` +
      '  globals.cache.meta_size[0]: expected an integer >= 1, got 0 (in other.yaml)\n' +
      '  caches.c.grids[0]: unknown grid "NO_SUCH_GRID" (in inc/caches.yaml)',
  });
});
