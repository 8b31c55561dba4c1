/**
 * The `serve` master checks the configuration in a short-lived child process
 * (src/master/check-process.ts), so the master itself never loads the config code, the schema
 * validator or libvips: its memory stays that of a supervisor. The answers are those of the check
 * in-process: the same ConfigError, the same snapshot; a check that dies is an error naming it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { ConfigError } from '../../src/errors.js';
import { checkConfigInChild } from '../../src/master/check-process.js';
import { checkServeConfig } from '../../src/master/validate.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig, get } from '../helpers/server.js';
import { clusterYaml, startServe, waitFor, wmtsTile } from '../helpers/serve.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(clusterYaml(upstream.url));
});

after(async () => {
  await upstream?.close();
  await cfg?.cleanup();
});

/** The shared objects mapped into process `pid` whose path contains `part`. */
async function mapped(pid: number, part: string): Promise<string[]> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  return [...new Set(maps.split('\n').filter((l) => l.includes(part)).map((l) => l.slice(l.lastIndexOf(' ') + 1)))];
}

test('the master maps no libvips, before and after a reload, and logs the versions the check saw', async () => {
  const serve = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0']);
  try {
    const worker = serve.listeningWorkers()[0];
    assert.ok(worker !== undefined);
    const res = await get(serve.url + wmtsTile(1, 1, 2));
    assert.equal(res.status, 200);
    // The worker made the tile with libvips; the master never loaded it.
    assert.notDeepEqual(await mapped(worker, 'libvips'), []);
    assert.deepEqual(await mapped(serve.pid, 'libvips'), []);
    const system = serve.logs().find((l) => l.name === 'mapproxy.system');
    assert.equal(system?.sharp, sharp.versions.sharp);
    assert.equal(system?.libvips, sharp.versions.vips);

    const from = serve.logs().length;
    serve.child.kill('SIGHUP');
    await serve.waitForLog((l) => l.msg === 'reload complete', { from });
    assert.deepEqual(await mapped(serve.pid, 'libvips'), []);
    // No check process is left behind.
    await waitFor(() => childrenOf(serve.pid).every((pid) => serve.listeningWorkers().includes(pid)), 'only workers as children');
  } finally {
    await serve.kill();
  }
});

/** Pids of the children of `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

test('the check in the child answers as the check in-process: snapshot and warnings', async () => {
  const inChild = await checkConfigInChild(cfg.file, false);
  const here = await checkServeConfig(cfg.file, false);
  assert.deepEqual(inChild.check, here);
  assert.equal(inChild.system.libvips, sharp.versions.vips);
});

test('an invalid configuration: the same ConfigError as in-process', async () => {
  const bad = await tempConfig(clusterYaml(upstream.url).replace('sources: [up]', 'sources: [missing]'));
  try {
    const inChild = await checkConfigInChild(bad.file, false).then(
      () => assert.fail('the check passed'),
      (err: unknown) => err,
    );
    assert.ok(inChild instanceof ConfigError);
    assert.equal(inChild.message, `invalid configuration ${bad.file}:\n  caches.proof_cache.sources[0]: unknown source "missing"`);
    assert.equal(inChild.code, 'MPX_ERR_CONFIG');
    await assert.rejects(checkServeConfig(bad.file, false), (err: unknown) => err instanceof ConfigError && err.message === inChild.message);
  } finally {
    await bad.cleanup();
  }
});

test('a MultiMapProxy path that is not a directory is refused by the child', async () => {
  await assert.rejects(checkConfigInChild(cfg.file, true), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `invalid configuration:\n  not a directory of configurations: ${cfg.file}`);
    return true;
  });
});

test('a check process that dies without an answer is an error naming its end', async () => {
  // A FIFO without a writer: the child's read of it waits until the test kills the child.
  const fifo = join(cfg.dir, 'stuck.yaml');
  execFileSync('mkfifo', [fifo]);
  const pending = checkConfigInChild(fifo, false);
  let pid: number | undefined;
  await waitFor(() => {
    pid = childrenOf(process.pid).find((p) => {
      try {
        return execFileSync('ps', ['-o', 'args=', '-p', String(p)], { encoding: 'utf8' }).includes('check-main');
      } catch {
        return false;
      }
    });
    return pid !== undefined;
  }, 'the check process');
  process.kill(pid as number, 'SIGKILL');
  await assert.rejects(pending, (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof ConfigError));
    assert.equal(err.message, `the configuration check (pid ${pid}) ended without an answer (SIGKILL)`);
    return true;
  });
});
