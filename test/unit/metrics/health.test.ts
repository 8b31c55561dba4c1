// Readiness pieces: the process flag, which directories count as writable, and the directories
// of a built configuration.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDirsOf, isReady, isWritableDir, notWritable, setReady } from '../../../src/metrics/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('the readiness flag: ready unless told otherwise', () => {
  assert.equal(isReady(), true);
  setReady(false);
  assert.equal(isReady(), false);
  setReady(true);
  assert.equal(isReady(), true);
});

test('isWritableDir: existing dirs, dirs still to be created, files and paths below files', async () => {
  const base = await mkdtemp(join(tmpdir(), 'mpx-'));
  dirs.push(base);
  await mkdir(join(base, 'cache'));
  await writeFile(join(base, 'file'), 'x');
  assert.equal(await isWritableDir(join(base, 'cache')), true);
  assert.equal(await isWritableDir(join(base, 'not', 'yet', 'there')), true);
  assert.equal(await isWritableDir(join(base, 'file')), false);
  assert.equal(await isWritableDir(join(base, 'file', 'below')), false);
  assert.deepEqual(await notWritable([join(base, 'cache'), join(base, 'new')]), []);
  assert.deepEqual(await notWritable([join(base, 'cache'), join(base, 'file'), join(base, 'file', 'below')]), [
    `${join(base, 'file')}: not a directory`,
    `${join(base, 'file', 'below')}: a part of its path is a file, not a directory (ENOTDIR)`,
  ]);
  assert.deepEqual(await notWritable([]), []);
});

test('cacheDirsOf: every file cache directory and lock dir, once', () => {
  const tm = (storage: unknown, lockDir: string) => ({ options: { storage, lockDir } });
  const config = {
    caches: new Map([
      ['a', { managers: new Map([['g1', tm({ directory: '/c/a_g1' }, '/locks')], ['g2', tm({ directory: '/c/a_g2' }, '/locks')]]) }],
      ['b', { managers: new Map([['g1', tm(null, '/c/tile_locks')]]) }],
    ]),
  };
  assert.deepEqual(cacheDirsOf(config), ['/c/a_g1', '/locks', '/c/a_g2', '/c/tile_locks']);
});
