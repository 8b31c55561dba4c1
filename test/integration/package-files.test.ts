/**
 * What `npm pack` ships, as npm itself lists it (`npm pack --dry-run --json`): the docs that
 * `serve --help` and the README point to, and none of the tiles `npm start` leaves in
 * examples/cache_data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The paths `npm pack` would put in the tarball. --ignore-scripts: no `prepare` build. */
async function packedFiles(): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  return pack.files.map((f) => f.path);
}

test('npm pack ships docs/ and the templates, but not the tiles of examples/cache_data', async () => {
  const cacheData = path.join(ROOT, 'examples', 'cache_data');
  // A tile as `npm start` writes one; only what this test made is removed afterwards.
  const made = !existsSync(cacheData);
  const tileDir = path.join(cacheData, `pack-test-${process.pid}`, 'EPSG3857', '00', '000', '000', '000', '000', '000');
  await mkdir(tileDir, { recursive: true });
  await writeFile(path.join(tileDir, '000.png'), 'not really a tile');
  let files: string[];
  try {
    files = await packedFiles();
  } finally {
    await rm(made ? cacheData : path.join(cacheData, `pack-test-${process.pid}`), { recursive: true, force: true });
  }
  // Linked from serve --help, the README and the templates.
  for (const doc of ['docs/deployment.md', 'docs/caches.md', 'docs/configuration.md']) assert.ok(files.includes(doc), `${doc} is packed`);
  for (const f of ['bin/mapproxy-ts.js', 'templates/log.yaml', 'templates/app.mjs.tmpl', 'systemd/mapproxy-ts.service', 'examples/mapproxy.yaml']) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  assert.deepEqual(files.filter((f) => f.startsWith('examples/cache_data')), []);
});

test('prepare without TypeScript (npm ci --omit=dev): keeps a dist/ built from the src/ there, else says what to run', async () => {
  // A copy of the package root without node_modules: TypeScript cannot be found from there.
  const dir = await mkdtemp(path.join(tmpdir(), 'mpx-prepare-'));
  try {
    await mkdir(path.join(dir, 'scripts'));
    await copyFile(path.join(ROOT, 'scripts', 'prepare.mjs'), path.join(dir, 'scripts', 'prepare.mjs'));
    await writeFile(path.join(dir, 'package.json'), '{"name":"copy","type":"module"}\n');
    const prepare = (): Promise<{ code: number; stdout: string; stderr: string }> =>
      run(process.execPath, [path.join(dir, 'scripts', 'prepare.mjs')], { cwd: dir }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );
    assert.deepEqual(await prepare(), {
      code: 1,
      stdout: '',
      stderr:
        'mapproxy-ts: dist/ is not built and TypeScript, a dev dependency, is not installed.\n' +
        'Install with the dev dependencies and drop them after the build:\n' +
        '  npm ci && npm prune --omit=dev\n',
    });
    await mkdir(path.join(dir, 'src', 'cli'), { recursive: true });
    await writeFile(path.join(dir, 'src', 'cli', 'main.ts'), '');
    await mkdir(path.join(dir, 'dist', 'cli'), { recursive: true });
    await writeFile(path.join(dir, 'dist', 'cli', 'main.js'), '');
    const built = new Date(Date.now() - 60_000);
    await utimes(path.join(dir, 'src', 'cli', 'main.ts'), built, built);
    assert.deepEqual(await prepare(), {
      code: 0,
      stdout: 'mapproxy-ts: TypeScript is not installed (no dev dependencies): keeping the dist/ built before\n',
      stderr: '',
    });
    // A source file changed after the build (a git pull): that dist/ would run the old code.
    await writeFile(path.join(dir, 'src', 'cli', 'main.ts'), 'changed');
    await utimes(path.join(dir, 'dist', 'cli', 'main.js'), built, built);
    assert.deepEqual(await prepare(), {
      code: 1,
      stdout: '',
      stderr:
        'mapproxy-ts: src/ changed after dist/ was built, and TypeScript, a dev dependency, is not installed.\n' +
        'Install with the dev dependencies and drop them after the build:\n' +
        '  npm ci && npm prune --omit=dev\n',
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
