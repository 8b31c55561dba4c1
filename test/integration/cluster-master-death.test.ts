/**
 * A master that dies without stopping its workers (SIGKILL, the OOM killer): each worker finishes
 * the requests it has in flight, releases their locks and exits, as gunicorn's workers do when
 * their parent changes. node:cluster alone would end the worker at once, its requests cut off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { get } from '../helpers/server.js';
import { clusterFixture, isAlive, newChildOf, startServe, waitFor, wmtsTile } from '../helpers/serve.js';

const fx = clusterFixture();

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1));
}

test('SIGKILL of the master: the worker finishes its request in flight, releases the lock and exits', async (t) => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', '--graceful-timeout', '20']);
  t.after(() => serve.kill());
  const [worker] = serve.listeningWorkers();
  fx.upstream.setDelay(2_000);
  t.after(() => fx.upstream.setDelay(0));
  const before = fx.upstream.count();
  const pending = get(serve.url + wmtsTile(5, 9, 7)).catch((err: Error) => err);
  await waitFor(() => fx.upstream.count() === before + 1, 'the tile waiting on the upstream');
  assert.equal((await readdir(join(fx.cfg.dir, 'tile_locks'))).length, 1, 'the meta tile is locked');

  const from = serve.logs().length;
  serve.child.kill('SIGKILL');
  // The listening socket was the master's: nothing new reaches the orphaned worker.
  await waitFor(() => serve.child.signalCode === 'SIGKILL', 'the master gone');
  await assert.rejects(get(serve.url + wmtsTile(0, 0, 1)), (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED');

  const answer = await pending;
  assert.ok(!(answer instanceof Error), `the request in flight completed: ${String(answer)}`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('content-type'), 'image/png');
  const meta = await sharp(answer.body).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 256, 256]);

  // Then it exits on its own, well within the graceful timeout ('close' of the master's output
  // comes once the worker, which shares it, has exited too).
  await waitFor(() => !isAlive(worker), 'the worker to exit', 15_000);
  await serve.exited();
  const gone = serve.logs().slice(from).find((l) => l.pid === worker && l.msg === 'the master process is gone: finishing the requests in flight, then exiting');
  assert.ok(gone, `the worker said why it stops:\n${serve.output()}`);
  assert.deepEqual([gone.level, gone.inFlight], [40, 1]);
  assert.deepEqual(serve.logs().slice(from).filter((l) => Number(l.level) >= 50), [], 'no error on the way out');
  assert.doesNotMatch(serve.output(), /ERR_IPC|EPIPE|Uncaught|\n\s+at /, 'no stack trace on stderr');
  assert.deepEqual(await readdir(join(fx.cfg.dir, 'tile_locks')), [], 'the lock was released');
  const files = await filesUnder(join(fx.cfg.dir, 'cache'));
  assert.ok(files.length >= 16, `the meta tile's tiles were stored: ${files.join(', ')}`);
  assert.deepEqual(files.filter((f) => !f.endsWith('.png')), [], 'no temp file is left');
});

test('SIGKILL of the master while a worker waits for its configuration: the worker exits at once', async (t) => {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', '--timeout', '0']);
  t.after(() => serve.kill());
  const [first] = serve.listeningWorkers();
  process.kill(first, 'SIGKILL');
  // Hold the master as soon as the replacement exists: the worker boots, asks for its
  // configuration and waits for an answer that will never come.
  const booting = await newChildOf(serve.pid, [first]);
  process.kill(serve.pid, 'SIGSTOP');
  // Booted and waiting: asleep, its CPU time unchanged for 300 ms.
  let cpu = -1;
  let sameSince = Date.now();
  await waitFor(async () => {
    const stat = await readFile(`/proc/${booting}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const now = Number(fields[11]) + Number(fields[12]);
    if (now !== cpu) {
      cpu = now;
      sameSince = Date.now();
    }
    return fields[0] === 'S' && Date.now() - sameSince >= 300;
  }, 'the replacement booted and waiting', 30_000);
  const from = serve.logs().length;
  serve.child.kill('SIGKILL');
  // 'close' of the master's output comes once the worker, which shares it, has exited too.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    serve.exited(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the booting worker ${booting} did not exit within 10 s:\n${serve.output()}`)), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(isAlive(booting), false);
  assert.deepEqual(serve.logs().slice(from).filter((l) => Number(l.level) >= 50), [], 'no error on the way out');
  assert.doesNotMatch(serve.output(), /EPIPE|Unhandled|\n\s+at /, 'no stack trace on stderr');
});
