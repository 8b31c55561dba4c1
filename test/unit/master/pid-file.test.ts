/** The master's pid file: written, refused while another live process holds it, removed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, utimes, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PidFileInUseError, processStartMs, removePidFile, writePidFile } from '../../../src/master/pid-file.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mpx-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('writes the pid and removes the file', () => withDir(async (dir) => {
  const file = join(dir, 'serve.pid');
  await writePidFile(file);
  assert.equal(await readFile(file, 'utf8'), `${process.pid}\n`);
  await removePidFile(file);
  await assert.rejects(access(file), { code: 'ENOENT' });
}));

test('replaces a stale pid file (dead process)', () => withDir(async (dir) => {
  const file = join(dir, 'serve.pid');
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  await writeFile(file, `${child.pid}\n`);
  await writePidFile(file);
  assert.equal(await readFile(file, 'utf8'), `${process.pid}\n`);
}));

test('refuses a pid file naming a live process, and does not remove it', () => withDir(async (dir) => {
  const file = join(dir, 'serve.pid');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  try {
    await writeFile(file, `${child.pid}\n`);
    await assert.rejects(writePidFile(file), (err: unknown) => {
      assert.ok(err instanceof PidFileInUseError);
      assert.equal(err.code, 'MPX_ERR_PID_FILE_IN_USE');
      assert.equal(err.message, `pid file ${file} names the running process ${child.pid}; is mapproxy-ts already running? (remove the file if not)`);
      return true;
    });
    await removePidFile(file);
    assert.equal(await readFile(file, 'utf8'), `${child.pid}\n`, 'another process\'s pid file is left alone');
  } finally {
    child.kill('SIGKILL');
  }
}));

test('replaces a pid file whose pid now belongs to a process started after the file was written', { skip: process.platform !== 'linux' && 'needs /proc' }, () => withDir(async (dir) => {
  // A master killed by SIGKILL left the file; its pid was given to another process since.
  const file = join(dir, 'serve.pid');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  try {
    await once(child, 'spawn');
    const started = await processStartMs(child.pid as number);
    assert.ok(started !== undefined && Math.abs(started - Date.now()) < 10_000, `start time ${started} is about now`);
    await writeFile(file, `${child.pid}\n`);
    const written = new Date(Date.now() - 60_000);
    await utimes(file, written, written);
    await writePidFile(file);
    assert.equal(await readFile(file, 'utf8'), `${process.pid}\n`);
  } finally {
    child.kill('SIGKILL');
  }
}));

test('a mapproxy-ts process that looks younger than its pid file (a clock step) still holds it', { skip: process.platform !== 'linux' && 'needs /proc' }, () => withDir(async (dir) => {
  const file = join(dir, 'serve.pid');
  // Its command line names mapproxy-ts, as a master's does (node …/bin/mapproxy-ts.js serve …).
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '/opt/mapproxy-ts/bin/mapproxy-ts.js', 'serve']);
  try {
    await once(child, 'spawn');
    await writeFile(file, `${child.pid}\n`);
    const written = new Date(Date.now() - 60_000);
    await utimes(file, written, written);
    await assert.rejects(writePidFile(file), PidFileInUseError);
    assert.equal(await readFile(file, 'utf8'), `${child.pid}\n`);
  } finally {
    child.kill('SIGKILL');
  }
}));

test('a pid file that cannot be written or read: the error names the pid file and why', () => withDir(async (dir) => {
  const missing = join(dir, 'no-such-dir', 'serve.pid');
  await assert.rejects(writePidFile(missing), {
    code: 'ENOENT',
    message: `cannot write the pid file ${missing}: its directory does not exist (ENOENT)`,
  });
  await assert.rejects(writePidFile(dir), {
    code: 'EISDIR',
    message: `cannot read the pid file ${dir}: it is a directory (EISDIR)`,
  });
  const underFile = join(dir, 'plain', 'serve.pid');
  await writeFile(join(dir, 'plain'), 'x');
  await assert.rejects(writePidFile(underFile), {
    code: 'ENOTDIR',
    message: `cannot read the pid file ${underFile}: a part of its path is a file, not a directory (ENOTDIR)`,
  });
}));
