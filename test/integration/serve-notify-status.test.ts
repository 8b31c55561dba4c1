/**
 * The status text `serve` gives systemd (NOTIFY_SOCKET) with a single worker: `serving with 1
 * worker`, in the singular (cluster-config.test.ts checks the plural with two).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempConfig } from '../helpers/server.js';
import { clusterYaml, startNotifyListener, startServe, waitFor, type NotifyListener, type ServeProcess } from '../helpers/serve.js';

let upstream: Upstream | undefined;
let cfg: Awaited<ReturnType<typeof tempConfig>> | undefined;
let notify: NotifyListener | undefined;
let serve: ServeProcess | undefined;

after(async () => {
  await serve?.kill();
  await notify?.close();
  await upstream?.close();
  await cfg?.cleanup();
});

test('one worker: READY=1 with STATUS=serving with 1 worker', async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(clusterYaml(upstream.url));
  notify = await startNotifyListener(cfg.dir);
  serve = await startServe(cfg.file, ['-w', '1', '--spare-workers', '0'], { env: { NOTIFY_SOCKET: notify.path } });
  await waitFor(() => notify!.messages().length > 0, 'a systemd notification');
  assert.equal(notify.messages()[0], `MAINPID=${serve.pid} READY=1 STATUS=serving with 1 worker`);
});
