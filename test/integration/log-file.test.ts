/**
 * Log files through configureLoggingFromFile: rotation by size, the per-process file series (two
 * real processes writing one configured path never share a file), slot reuse after SIGKILL, the
 * `limit` on kept files, and the errors of an unreadable or invalid log-config file.
 *
 * The file doubles as the writer process of the multi-process tests: with LOG_CHILD_CONFIG set it
 * configures logging from that file, prints its slot, and on "go" (stdin) writes LOG_CHILD_LINES.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import { ConfigError } from '../../src/errors.js';
import { startUpstream } from '../helpers/upstream.js';
import { clusterYaml, startServe } from '../helpers/serve.js';
import { applyLogConfig, closeLogging, configureLogging, configureLoggingFromFile, currentLogFile, getLogger, loadLogConfig } from '../../src/log/index.js';

const SELF = fileURLToPath(import.meta.url);
const PAD = 'x'.repeat(100);

/** Write `n` numbered lines on `mapproxy.test`, yielding every 10 lines so pino-roll can roll. */
async function writeLines(n: number, writer: string): Promise<void> {
  const log = getLogger('mapproxy.test');
  for (let seq = 0; seq < n; seq++) {
    log.info({ seq, writer, pad: PAD }, 'line');
    if (seq % 10 === 9) await tick();
  }
}

if (process.env.LOG_CHILD_CONFIG) {
  await configureLoggingFromFile(process.env.LOG_CHILD_CONFIG);
  process.stdout.write(`slot ${currentLogFile()?.slot}\n`);
  await once(process.stdin.setEncoding('utf8'), 'data');
  await writeLines(Number(process.env.LOG_CHILD_LINES), String(process.pid));
  await closeLogging();
  process.exit(0);
} else {
  defineTests();
}

interface Tmp {
  dir: string;
  cleanup(): Promise<void>;
}
async function tmp(): Promise<Tmp> {
  const dir = await mkdtemp(join(tmpdir(), 'mpx-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const FILE_RE = /^mapproxy-(\d+)\.(\d+)\.log$/;

async function logFiles(dir: string): Promise<{ name: string; slot: number; n: number }[]> {
  const out = [];
  for (const name of await readdir(dir)) {
    const m = FILE_RE.exec(name);
    if (m) out.push({ name, slot: Number(m[1]), n: Number(m[2]) });
  }
  return out.sort((a, b) => a.slot - b.slot || a.n - b.n);
}

async function lines(file: string): Promise<{ seq: number; writer: string; pid: number; name: string }[]> {
  const text = await readFile(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${file} ends mid-line`);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { seq: number; writer: string; pid: number; name: string });
}

function defineTests(): void {
  test('rotation by size: numbered files, each full before the next starts, no line lost', async () => {
    const t = await tmp();
    try {
      await writeFile(join(t.dir, 'log.yaml'), 'level: info\nfile:\n  path: logs/mapproxy.log\n  size: 2k\n');
      await configureLoggingFromFile(join(t.dir, 'log.yaml'));
      await writeLines(200, 'me');
      await closeLogging();
      const files = await logFiles(join(t.dir, 'logs'));
      assert.ok(files.length >= 5, `expected at least 5 files, got ${files.map((f) => f.name).join(' ')}`);
      assert.deepEqual(new Set(files.map((f) => f.slot)).size, 1);
      const seqs: number[] = [];
      for (const [i, f] of files.entries()) {
        const path = join(t.dir, 'logs', f.name);
        if (i < files.length - 1) assert.ok((await stat(path)).size >= 2048, `${f.name} rolled before reaching 2k`);
        for (const l of await lines(path)) seqs.push(l.seq);
      }
      assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i));
    } finally {
      configureLogging();
      await t.cleanup();
    }
  });

  test('re-applying a log config with the same file keeps the open file; closing frees the slot', async () => {
    const t = await tmp();
    try {
      const cfg = join(t.dir, 'log.yaml');
      await writeFile(cfg, 'level: info\nfile: {path: mapproxy.log}\n');
      await configureLoggingFromFile(cfg);
      const first = currentLogFile();
      assert.equal(first?.slot, 0);
      assert.equal(first?.currentFile(), join(t.dir, 'mapproxy-0.1.log'));
      await writeFile(cfg, 'level: debug\nfile: {path: mapproxy.log}\n');
      await configureLoggingFromFile(cfg); // a SIGHUP re-read: same file, new level
      assert.equal(currentLogFile(), first);
      getLogger('mapproxy.test').debug('after reload');
      await writeFile(cfg, 'level: info\n');
      await configureLoggingFromFile(cfg); // back to stdout: the file is closed, the slot freed
      assert.equal(currentLogFile(), undefined);
      await writeFile(cfg, 'file: {path: mapproxy.log}\n');
      await configureLoggingFromFile(cfg);
      assert.equal(currentLogFile()?.slot, 0);
      await writeFile(cfg, 'file: {path: mapproxy.log, size: 1m}\n');
      await configureLoggingFromFile(cfg); // other rotation options: reopened, same slot
      assert.notEqual(currentLogFile(), first);
      assert.equal(currentLogFile()?.slot, 0);
      await closeLogging();
      assert.deepEqual((await lines(join(t.dir, 'mapproxy-0.1.log'))).map((l) => (l as unknown as { msg: string }).msg), ['after reload']);
    } finally {
      configureLogging();
      await t.cleanup();
    }
  });

  test('limit.count keeps that many rolled files besides the current one', async () => {
    const t = await tmp();
    try {
      await writeFile(join(t.dir, 'log.yaml'), 'file: {path: mapproxy.log, size: 2k, limit: {count: 2}}\n');
      await configureLoggingFromFile(join(t.dir, 'log.yaml'));
      await writeLines(200, 'me');
      await closeLogging();
      // pino-roll prunes asynchronously after each roll; wait for it to settle.
      let files = await logFiles(t.dir);
      for (let i = 0; i < 500 && files.length > 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        files = await logFiles(t.dir);
      }
      assert.equal(files.length, 3, files.map((f) => f.name).join(' '));
      // What is left is the newest lines, without a gap.
      const seqs: number[] = [];
      for (const f of files) for (const l of await lines(join(t.dir, f.name))) seqs.push(l.seq);
      assert.ok(seqs.length > 0 && seqs.length < 200);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => 200 - seqs.length + i));
      assert.ok(files[0].n > 1, 'the oldest files were removed');
    } finally {
      configureLogging();
      await t.cleanup();
    }
  });

  test('restarts between rolls do not pile files up: on open a slot keeps limit.count files besides the current one', async () => {
    const t = await tmp();
    try {
      await writeFile(join(t.dir, 'log.yaml'), 'file: {path: mapproxy.log, size: 1m, limit: {count: 2}}\n');
      await writeFile(join(t.dir, 'other.log'), '');
      const opened: string[] = [];
      for (let start = 0; start < 5; start++) {
        // Another series rolls meanwhile; pino-roll numbers this slot's next file after it.
        await writeFile(join(t.dir, `mapproxy-2.${10 + start * 5}.log`), '');
        await configureLoggingFromFile(join(t.dir, 'log.yaml'));
        opened.push(currentLogFile()!.currentFile());
        await writeLines(3, `start ${start}`);
        await closeLogging();
      }
      assert.equal(new Set(opened).size, 5, 'each start opened a file of its own');
      const names = (await readdir(t.dir)).sort();
      const files = await logFiles(t.dir);
      assert.deepEqual(files.filter((f) => f.slot === 0).map((f) => join(t.dir, f.name)).sort(), opened.slice(2).sort(), names.join(' '));
      assert.equal(files.filter((f) => f.slot === 2).length, 5, 'another series is left alone');
      assert.ok(names.includes('other.log'));
    } finally {
      configureLogging();
      await t.cleanup();
    }
  });

  test('loadLogConfig with a signal: a file that does not answer rejects in time instead of hanging', async () => {
    const t = await tmp();
    const fifo = join(t.dir, 'log.yaml');
    execFileSync('mkfifo', [fifo]);
    try {
      await assert.rejects(loadLogConfig(fifo, { signal: AbortSignal.timeout(200) }), {
        message: `cannot read the log configuration ${fifo}: no answer in time (is it on a file system that does not answer?)`,
      });
    } finally {
      // Release the pool thread still waiting in open(2) for a writer.
      closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
      await t.cleanup();
    }
  });

  test('applyLogConfig: other rotation options for a file whose directory is gone fail before the open file is let go', async () => {
    const t = await tmp();
    try {
      const path = join(t.dir, 'logs', 'mp.log');
      await applyLogConfig({ level: 'info', loggers: {}, file: { path, size: '1m' }, accessLog: false, pretty: false });
      const before = currentLogFile();
      assert.ok(before);
      await rm(join(t.dir, 'logs'), { recursive: true });
      await writeFile(join(t.dir, 'logs'), 'a file where the log directory was');
      await assert.rejects(applyLogConfig({ level: 'info', loggers: {}, file: { path, size: '2m' }, accessLog: false, pretty: false }), {
        message: `cannot open the log file ${path}: a part of its path is a file, not a directory (EEXIST)`,
      });
      assert.equal(currentLogFile(), before, 'the open file is kept');
    } finally {
      await closeLogging();
      configureLogging();
      await t.cleanup();
    }
  });

  test('two processes writing one configured path each roll their own files and lose nothing', async () => {
    const t = await tmp();
    const cfg = join(t.dir, 'log.yaml');
    await writeFile(cfg, 'file: {path: logs/mapproxy.log, size: 2k}\n');
    const n = 400;
    const children = [startWriter(cfg, n), startWriter(cfg, n)];
    try {
      const slots = await Promise.all(children.map((c) => c.slot));
      assert.deepEqual([...slots].sort(), [0, 1]);
      // Both hold their files open now; let them write at the same time.
      for (const c of children) c.child.stdin?.write('go\n');
      assert.deepEqual(await Promise.all(children.map((c) => c.exit)), [0, 0]);
      const files = await logFiles(join(t.dir, 'logs'));
      const bySlot = new Map<number, { pid: number; seqs: number[] }>();
      for (const f of files) {
        const ls = await lines(join(t.dir, 'logs', f.name));
        if (ls.length === 0) {
          // A roll right after the last line leaves the new file empty: only ever a slot's last file.
          assert.equal(f, files.filter((g) => g.slot === f.slot).at(-1), `${f.name} is empty`);
          continue;
        }
        const pids = new Set(ls.map((l) => l.pid));
        assert.equal(pids.size, 1, `${f.name} holds lines of ${pids.size} processes`);
        const entry = bySlot.get(f.slot) ?? { pid: ls[0].pid, seqs: [] };
        assert.equal(entry.pid, ls[0].pid, `slot ${f.slot} written by two processes`);
        entry.seqs.push(...ls.map((l) => l.seq));
        bySlot.set(f.slot, entry);
      }
      assert.deepEqual([...bySlot.keys()].sort(), [0, 1]);
      assert.deepEqual(new Set([...bySlot.values()].map((e) => e.pid)), new Set(children.map((c) => c.child.pid)));
      for (const e of bySlot.values()) assert.deepEqual(e.seqs, Array.from({ length: n }, (_, i) => i));
      assert.ok(files.filter((f) => f.slot === 0).length >= 5 && files.filter((f) => f.slot === 1).length >= 5, 'both rolled');
    } finally {
      for (const c of children) c.child.kill('SIGKILL');
      await t.cleanup();
    }
  });

  test('a process killed with SIGKILL frees its slot for the next one', async () => {
    const t = await tmp();
    const cfg = join(t.dir, 'log.yaml');
    await writeFile(cfg, 'file: {path: mapproxy.log}\n');
    const started: Writer[] = [];
    try {
      const a = startWriter(cfg, 0);
      started.push(a);
      assert.equal(await a.slot, 0);
      const b = startWriter(cfg, 0);
      started.push(b);
      assert.equal(await b.slot, 1);
      a.child.kill('SIGKILL');
      await a.exit;
      const c = startWriter(cfg, 0);
      started.push(c);
      assert.equal(await c.slot, 0);
    } finally {
      for (const w of started) w.child.kill('SIGKILL');
      await t.cleanup();
    }
  });

  test('configureLoggingFromFile: unreadable or invalid files reject with ConfigError and change nothing', async () => {
    const t = await tmp();
    const captured: string[] = [];
    configureLogging({ destination: { write: (s: string) => void captured.push(s) } });
    try {
      const missing = join(t.dir, 'nope.yaml');
      await assert.rejects(configureLoggingFromFile(missing), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, `invalid log configuration ${missing}:\n  cannot read it: no such file`);
        return true;
      });
      const syntax = join(t.dir, 'syntax.yaml');
      await writeFile(syntax, 'level: info\nloggers:\n  a: [debug\n');
      await assert.rejects(configureLoggingFromFile(syntax), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [{ path: '', message: 'YAML syntax error: unexpected end of the stream within a flow collection (line 4, column 1)' }]);
        return true;
      });
      const bad = join(t.dir, 'bad.yaml');
      await writeFile(bad, 'level: loud\nfile: {path: x.log, size: big}\n');
      await assert.rejects(configureLoggingFromFile(bad), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(
          err.message,
          `invalid log configuration ${bad}:\n` +
            '  level: unknown level "loud"; expected one of trace, debug, info, warn, error, fatal, silent\n' +
            '  file.size: expected a size like 500k, 10m or 1g, got "big"',
        );
        return true;
      });
      getLogger('mapproxy.system').info('still here');
      assert.equal(captured.length, 1);
      assert.equal((JSON.parse(captured[0]) as { msg: string }).msg, 'still here');
      assert.deepEqual(await readdir(t.dir), ['bad.yaml', 'syntax.yaml']);
    } finally {
      configureLogging();
      await t.cleanup();
    }
  });

  test('a serve worker that cannot open its log file says why in one line; the master gives up on the crash loop', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'mpx-'));
    const up = await startUpstream();
    t.after(async () => {
      await up.close();
      await rm(dir, { recursive: true, force: true });
    });
    const cfg = join(dir, 'mapproxy.yaml');
    await writeFile(cfg, clusterYaml(up.url));
    await writeFile(join(dir, 'log.yaml'), 'file: {path: logs/mp.log}\n');
    // pino-roll continues from the highest number in the directory: the master's slot 0 opens
    // mp-0.9.log, the worker's slot 1 finds a directory where mp-1.9.log would be.
    await mkdir(join(dir, 'logs', 'mp-1.9.log'), { recursive: true });
    const serve = await startServe(cfg, ['-w', '1', '--spare-workers', '0', '--log-config', join(dir, 'log.yaml')], { waitReady: false });
    t.after(() => serve.kill());
    const { code } = await serve.exited();
    assert.equal(code, 1, serve.output());
    const said = serve.output().split('\n').filter((l) => l.startsWith('mapproxy-ts worker '));
    assert.ok(said.length >= 1, serve.output());
    for (const line of said) {
      assert.match(line, new RegExp(`^mapproxy-ts worker \\d+: cannot open the log file ${join(dir, 'logs', 'mp.log')}: it is a directory \\(EISDIR\\)$`));
    }
    assert.doesNotMatch(serve.output(), /^\s+at /m, 'no stack trace');
  });
}

interface Writer {
  child: ChildProcess;
  slot: Promise<number>;
  exit: Promise<number | null>;
}

function startWriter(config: string, n: number): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF], {
    env: { ...process.env, LOG_CHILD_CONFIG: config, LOG_CHILD_LINES: String(n) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  let out = '';
  child.stdout?.setEncoding('utf8');
  const slot = new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (d: string) => {
      out += d;
      const m = /^slot (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exit.then((code) => reject(new Error(`writer exited with ${code} before reporting its slot: ${out}`)));
  });
  return { child, slot, exit };
}
