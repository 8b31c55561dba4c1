/**
 * The workers of `serve` build the configuration the master validated, not whatever the file says
 * when they start: a worker that replaces a crashed one serves the same configuration as its
 * siblings until a SIGHUP has checked the new file; an edit the master never checked (even a
 * broken one) never reaches a worker.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { getAlone, tempConfig } from '../helpers/server.js';
import { clusterYaml, startServe, waitFor, type ServeProcess } from '../helpers/serve.js';

let upstream: Upstream;
let cfg: Awaited<ReturnType<typeof tempConfig>>;
let serve: ServeProcess;
let yaml: string;

before(async () => {
  upstream = await startUpstream();
  cfg = await tempConfig(clusterYaml(upstream.url));
  yaml = await readFile(cfg.file, 'utf8');
  serve = await startServe(cfg.file, ['-w', '2', '--spare-workers', '0']);
});

after(async () => {
  await serve?.kill();
  await upstream?.close();
  await cfg?.cleanup();
});

/** One request on a connection of its own, so round robin can hand it to any worker. */
async function capabilities(): Promise<string> {
  const res = await getAlone(`${serve.url}/wmts/1.0.0/WMTSCapabilities.xml`, 10_000);
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return res.body.toString();
}

/** Ask every listening worker (new connections go round robin) and collect the layer titles. */
async function titlesSeen(): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const m = /<ows:Title>(cluster proof[^<]*)<\/ows:Title>/.exec(await capabilities());
    seen.add(m?.[1] ?? 'none');
  }
  return seen;
}

async function replaceWorker(): Promise<void> {
  const [victim] = serve.listeningWorkers();
  const from = serve.logs().length;
  process.kill(victim, 'SIGKILL');
  await serve.waitForLog((l) => l.msg === 'worker listening' && l.workerPid !== victim, { from, timeoutMs: 20_000 });
  await waitFor(() => serve.listeningWorkers().length === 2, 'two workers listening again');
}

test('a replacement worker serves the validated configuration, not an unchecked edit of the file', { timeout: 120_000 }, async () => {
  assert.deepEqual(await titlesSeen(), new Set(['cluster proof']));
  await writeFile(cfg.file, yaml.replace('title: cluster proof', 'title: cluster proof EDITED'));
  await replaceWorker();
  assert.deepEqual(await titlesSeen(), new Set(['cluster proof']), 'every worker serves what the master checked');
  // (That SIGHUP then brings the edit to every worker is reload-config.test.ts's subject.)
});

test('a broken file never reaches a worker: a crashed worker is replaced with the last valid configuration', { timeout: 120_000 }, async () => {
  await writeFile(cfg.file, 'layers: [oops\n');
  await replaceWorker();
  assert.deepEqual(await titlesSeen(), new Set(['cluster proof']));
  assert.equal(serve.logs().some((l) => l.msg === 'cannot build the app'), false);
});
