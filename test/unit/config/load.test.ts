// Loading mapproxy.yaml files from disk: includes, env substitution, files list, and the exact
// errors for unreadable files, YAML syntax and include cycles.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/errors.js';
import { loadConfigFile } from '../../../src/config/load.js';

const fixtures = fileURLToPath(new URL('../../fixtures/config/', import.meta.url));
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mpx-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const file = path.join(tmp, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

async function loadError(file: string): Promise<ConfigError> {
  const err = await loadConfigFile(file).then(
    () => assert.fail('expected a ConfigError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.code, 'MPX_ERR_CONFIG');
  return err;
}

test('nested includes: lists of files, paths relative to the including file, MapProxy merge order', async () => {
  const main = path.join(fixtures, 'includes/main.yaml');
  const { config, files, dir } = await loadConfigFile(main);
  assert.equal(dir, path.join(fixtures, 'includes'));
  // Every file read, for the reloader: main first, then the includes depth-first.
  assert.deepEqual(files, ['main.yaml', 'a.yaml', 'sub/b.yaml', 'c.yaml'].map((f) => path.join(fixtures, 'includes', f)));
  // Checked against MapProxy 7's loader run on the same files.
  assert.deepEqual(config, {
    globals: {
      cache: { lock_dir: './locks_from_c', meta_buffer: 10, base_dir: './from_b', meta_size: [2, 2] },
      // Concatenated: c, then b (b includes c), then a (an earlier file of a base list wins), then main.
      srs: { axis_order_ne: ['EPSG:25832', 'EPSG:3035', 'EPSG:4326', 'EPSG:31467'], axis_order_en: ['EPSG:900913'] },
    },
    services: { wmts: { restful: false, kvp: true }, tms: { origin: 'nw' } },
    sources: { s1: { type: 'debug' } },
    layers: [
      { name: 'two', title: 'Two (b)', sources: ['c1'] },
      { name: 'one', title: 'One (main)', sources: ['c1'] },
      { name: 'three', title: 'Three', sources: ['s1'] },
    ],
    // `grids` is replaced, not concatenated.
    caches: { c1: { sources: ['s1'], grids: ['GLOBAL_WEBMERCATOR'] } },
  });
  assert.equal(Object.hasOwn(config, 'base'), false);
});

test('a relative main path resolves against the working directory', async () => {
  const rel = path.relative(process.cwd(), path.join(fixtures, 'includes/main.yaml'));
  const { files, dir } = await loadConfigFile(rel);
  assert.equal(files[0], path.join(fixtures, 'includes/main.yaml'));
  assert.equal(dir, path.join(fixtures, 'includes'));
});

test('a file included twice (not a cycle) is read twice but listed once', async () => {
  await write('diamond/common.yaml', 'services:\n  wmts:\n    kvp: true\n');
  await write('diamond/x.yaml', 'base: common.yaml\n');
  await write('diamond/y.yaml', 'base: common.yaml\n');
  const main = await write('diamond/main.yaml', 'base: [x.yaml, y.yaml]\n');
  const { config, files } = await loadConfigFile(main);
  assert.deepEqual(config, { services: { wmts: { kvp: true } } });
  assert.deepEqual(files, ['main.yaml', 'x.yaml', 'common.yaml', 'y.yaml'].map((f) => path.join(tmp, 'diamond', f)));
});

test('an include cycle is an error naming the chain', async () => {
  const err = await loadError(path.join(fixtures, 'cycle/a.yaml'));
  assert.equal(err.file, path.join(fixtures, 'cycle/b.yaml'));
  assert.deepEqual(err.problems, [{ path: 'base[0]', message: 'include cycle: a.yaml -> b.yaml -> a.yaml' }]);
  assert.equal(
    err.message,
    `invalid configuration ${path.join(fixtures, 'cycle/b.yaml')}:\n  base[0]: include cycle: a.yaml -> b.yaml -> a.yaml`,
  );
});

test('a file including itself is a cycle', async () => {
  const file = await write('self.yaml', 'base: ./self.yaml\n');
  const err = await loadError(file);
  assert.deepEqual(err.problems, [{ path: 'base', message: 'include cycle: self.yaml -> self.yaml' }]);
});

test('$VAR and ${VAR} are replaced in every string value, unset ones are left', async () => {
  const file = await write(
    'env.yaml',
    [
      'sources:',
      '  s:',
      '    type: wms',
      '    req:',
      '      url: http://$MPX_HOST:${MPX_PORT}/wms?key=${MPX_UNSET}&x=$MPX_UNSET2',
      '      layers: [$MPX_LAYER, "${MPX_LAYER}_2"]',
      '    $MPX_HOST: key names are not replaced',
      'globals:',
      '  cache:',
      '    base_dir: ${MPX_DIR}/cache',
      '    meta_buffer: 80',
      '',
    ].join('\n'),
  );
  const env = { MPX_HOST: 'tiles.local', MPX_PORT: '8080', MPX_LAYER: 'roads', MPX_DIR: '/srv' };
  const { config } = await loadConfigFile(file, { env });
  assert.deepEqual(config, {
    sources: {
      s: {
        type: 'wms',
        req: { url: 'http://tiles.local:8080/wms?key=${MPX_UNSET}&x=$MPX_UNSET2', layers: ['roads', 'roads_2'] },
        $MPX_HOST: 'key names are not replaced',
      },
    },
    globals: { cache: { base_dir: '/srv/cache', meta_buffer: 80 } },
  });
});

test('env substitution reads process.env by default, and applies to base file names', async () => {
  process.env.MPX_TEST_BASE = 'from-env';
  try {
    await write('envbase/from-env.yaml', 'services:\n  tms:\n    origin: $MPX_TEST_BASE\n');
    const main = await write('envbase/main.yaml', 'base: ${MPX_TEST_BASE}.yaml\n');
    const { config, files } = await loadConfigFile(main);
    assert.deepEqual(config, { services: { tms: { origin: 'from-env' } } });
    assert.equal(files[1], path.join(tmp, 'envbase/from-env.yaml'));
  } finally {
    delete process.env.MPX_TEST_BASE;
  }
});

test('YAML 1.1 values survive loading (yes/no/on/off)', async () => {
  const file = await write('bools.yaml', 'services:\n  wmts:\n    kvp: yes\n    restful: Off\n');
  assert.deepEqual((await loadConfigFile(file)).config, { services: { wmts: { kvp: true, restful: false } } });
});

test('a YAML syntax error names the file, line and column', async () => {
  const file = await write('syntax.yaml', 'services:\n  tms:\n    origin: nw\n   wmts: {}\n');
  const err = await loadError(file);
  assert.equal(err.file, file);
  assert.deepEqual(err.problems, [
    { path: '', message: 'YAML syntax error at line 4, column 4: bad indentation of a mapping entry' },
  ]);
  assert.equal(err.message, `invalid configuration ${file}:\n  YAML syntax error at line 4, column 4: bad indentation of a mapping entry`);
});

test('a syntax error in an included file names that file', async () => {
  const inc = await write('badinc/inc.yaml', 'a: [1, 2\n');
  const main = await write('badinc/main.yaml', 'base: inc.yaml\n');
  const err = await loadError(main);
  assert.equal(err.file, inc);
  assert.equal(err.problems.length, 1);
  assert.match(err.problems[0].message, /^YAML syntax error at line 2, column 1: /);
});

test('a duplicated key is a syntax error (PyYAML would keep the last one silently)', async () => {
  const file = await write('dup.yaml', 'services: {}\nservices: {}\n');
  const err = await loadError(file);
  assert.deepEqual(err.problems, [{ path: '', message: 'YAML syntax error at line 2, column 1: duplicated mapping key' }]);
});

test('a missing main file or include is a ConfigError', async () => {
  const missing = path.join(tmp, 'nope.yaml');
  let err = await loadError(missing);
  assert.equal(err.file, missing);
  assert.deepEqual(err.problems, [{ path: '', message: 'cannot read the file: no such file' }]);

  const main = await write('missinc/main.yaml', 'base: [gone.yaml]\n');
  err = await loadError(main);
  assert.equal(err.file, main);
  assert.deepEqual(err.problems, [{ path: 'base[0]', message: 'cannot read gone.yaml: no such file' }]);
});

test('a file that is empty or not a mapping is rejected', async () => {
  let err = await loadError(await write('empty.yaml', '# nothing\n'));
  assert.deepEqual(err.problems, [{ path: '', message: 'the file is empty (a configuration is a YAML mapping)' }]);
  err = await loadError(await write('list.yaml', '- a\n- b\n'));
  assert.deepEqual(err.problems, [
    { path: '', message: 'not a YAML mapping (a configuration is a mapping of keys to values)' },
  ]);
});

test('base must be a file name or a list of file names', async () => {
  const file = await write('badbase.yaml', 'base: 3\n');
  const err = await loadError(file);
  assert.equal(err.file, file);
  assert.deepEqual(err.problems, [{ path: 'base', message: 'expected a file name or a list of file names, got 3' }]);
});
