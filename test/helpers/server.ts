/**
 * Start mapproxy-ts for tests: in this process (`startApp`) or as a real child process running
 * the command line (`startServerProcess`), always on 127.0.0.1 with a free port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http, { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app/create-app.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A temp dir with `mapproxy.yaml` written from `yaml`; `cleanup` removes it. */
export async function tempConfig(yaml: string): Promise<{ dir: string; file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mpx-'));
  const file = join(dir, 'mapproxy.yaml');
  await writeFile(file, yaml);
  return { dir, file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A running in-process app. */
export interface RunningApp {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serve `configFile` from this process on 127.0.0.1:0. */
export async function startApp(configFile: string): Promise<RunningApp> {
  const app = await createApp(configFile);
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await app.close();
    },
  };
}

/** A mapproxy-ts child process. */
export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Run `mapproxy-ts serve-develop <configFile> -b 127.0.0.1:0` in a child process and wait until it
 * logs the port it listens on.
 */
export async function startServerProcess(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/cli.ts'), 'serve-develop', configFile, '-b', '127.0.0.1:0'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { out += d; });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    child.stdout.on('data', (d: string) => {
      out += d;
      const m = /"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/**
 * GET `url` on a connection of its own (no agent, no keep-alive pool), so a `serve` master hands
 * each one to a worker anew (round robin). Rejects with `no answer within <timeoutMs> ms` when
 * none comes.
 */
export function getAlone(url: string, timeoutMs = 20_000): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** GET `url`; resolves status, headers and the body bytes. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}
