/**
 * `serve --threadpool-size` and UV_THREADPOOL_SIZE reach the workers' environment, where libuv
 * reads them (the default, two threads, is checked in cluster-config.test.ts), and a worker with a
 * larger pool serves tiles as any other. Image work may take all of the pool but one thread
 * (src/image/pool.ts), which the listening line reports as `imageJobs`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { get } from '../helpers/server.js';
import { clusterFixture, startServe, waitFor, wmtsTile, type LogLine } from '../helpers/serve.js';

const fx = clusterFixture();

const isListening = (l: LogLine): boolean => l.name === 'mapproxy.worker' && l.msg === 'listening';

/** Start serve with one worker, fetch a tile through it, return the worker's pool as it sees it. */
async function poolOf(args: string[], env: NodeJS.ProcessEnv): Promise<{ logged: unknown; imageJobs: unknown; environ: string | undefined }> {
  const serve = await startServe(fx.cfg.file, ['-w', '1', '--spare-workers', '0', ...args], { env });
  try {
    await waitFor(() => serve.logs().some(isListening), 'the worker\'s listening line');
    const line = serve.logs().find(isListening) as LogLine;
    const environ = await readFile(`/proc/${line.pid as number}/environ`, 'latin1');
    const res = await get(serve.url + wmtsTile(1, 1, 6));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    return { logged: line.threadpool, imageJobs: line.imageJobs, environ: /(?:^|\0)UV_THREADPOOL_SIZE=([^\0]*)\0/.exec(environ)?.[1] };
  } finally {
    await serve.kill();
  }
}

test('the master\'s UV_THREADPOOL_SIZE is passed on when no flag is given', async () => {
  assert.deepEqual(await poolOf([], { UV_THREADPOOL_SIZE: '3' }), { logged: 3, imageJobs: 2, environ: '3' });
});

test('--threadpool-size sets the pool, also over UV_THREADPOOL_SIZE', async () => {
  assert.deepEqual(await poolOf(['--threadpool-size', '2'], { UV_THREADPOOL_SIZE: '3' }), { logged: 2, imageJobs: 1, environ: '2' });
});

test('--image-jobs sets the image work of each worker, whatever its pool', async () => {
  assert.deepEqual(await poolOf(['--threadpool-size', '2', '--image-jobs', '3'], {}), { logged: 2, imageJobs: 3, environ: '2' });
});
