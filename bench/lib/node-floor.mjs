#!/usr/bin/env node
/**
 * A minimal Node tile server over the same tc cache and the same TMS URLs as mapproxy-ts, to show
 * what the cache-hit path can cost in one Node process with each way of reading a tile file. It is
 * a measuring stick for src/cache (the "floor" under mapproxy-ts), not a server to use.
 *
 *   node bench/lib/node-floor.mjs CACHE_DIR PORT MODE [WORKERS]
 *     CACHE_DIR  e.g. rig/cache_data/world_cache_EPSG3857 (tc layout)
 *     WORKERS    0 or absent: one process; N: a node:cluster primary forking N workers that share
 *                the port (as `mapproxy-ts serve`; bench/cluster.sh's floor-<mode> targets)
 *     MODE       filehandle  open + fstat + read + close through fs/promises FileHandle (4 pool hops)
 *                callback    the same four calls with the callback API (close not awaited)
 *                readfile    fs.readFile (callback) + fs.stat: whole-file read, mtime from stat
 *                sync        openSync/fstatSync/readSync/closeSync on the event loop
 *                statcache   fs.stat (1 pool hop) validating an in-memory copy (mtime, size, ino);
 *                            the file is read only when the copy is missing or out of date
 *                heldfd      the file kept open after its first hit, then one pread (1 pool hop) per
 *                            hit and nothing else: the floor of mapproxy-ts's open-file level
 *                            without its freshness checks
 *                heldsync    as heldfd, but the pread runs on the event loop (no pool hop), as
 *                            nginx reads a file when `aio threads` is off (its default)
 *                scratch     as heldsync, into one buffer used again for every hit whose write the
 *                            socket took at once (a new one when it kept some): no allocation per
 *                            hit, as mapproxy-ts's lent buffer (src/app/hot-answers.ts)
 *                reuse       as heldfd (pool hop), into buffers from a free list, given back after
 *                            a write the socket took at once: the allocation without the pool hop
 *                memory      every tile kept in memory after its first hit (a Map, no bound, never
 *                            checked again): the floor of a memory tier holding the whole working set
 *
 * Every mode answers with the headers mapproxy-ts sends for a hit (ETag as MapProxy's md5 recipe,
 * Last-Modified, Cache-Control, CORS, X-Cache), so the HTTP work is the same.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [dir, portArg, mode = 'filehandle', workersArg = '0'] = process.argv.slice(2);
if (!dir || !portArg) {
  console.error('usage: node-floor.mjs CACHE_DIR PORT MODE [WORKERS]');
  process.exit(2);
}
const workers = Number(workersArg);
if (!Number.isInteger(workers) || workers < 0) {
  console.error(`WORKERS must be a whole number, got ${workersArg}`);
  process.exit(2);
}
const MODES = ['filehandle', 'callback', 'readfile', 'sync', 'statcache', 'heldfd', 'heldsync', 'scratch', 'reuse', 'memory'];
if (!MODES.includes(mode)) {
  console.error(`unknown MODE ${mode} (one of ${MODES.join(', ')})`);
  process.exit(2);
}
if (workers > 0 && cluster.isPrimary) {
  // Like `mapproxy-ts serve`: the primary only forks and waits; it stops the workers on SIGTERM.
  // The workers run with the settings a serve worker gets (src/master/master.ts: workerExecArgv,
  // workerThreadpoolSize, workerMallocEnv), so memory and speed compare like with like.
  cluster.setupPrimary({ execArgv: ['--max-semi-space-size=1', '--optimize-for-size'] });
  process.env.UV_THREADPOOL_SIZE ??= '2';
  process.env.MALLOC_MMAP_THRESHOLD_ ??= '131072';
  let listening = 0;
  let stopping = false;
  let died = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('listening', () => {
      if (++listening === workers) console.log(`node-floor ${mode}: ${workers} workers on 127.0.0.1:${portArg}`);
    });
  }
  // A worker is never replaced: a run that lost one measured fewer workers, so the primary stops
  // the others and exits 1, and the bench sees the run fail instead of a lower figure.
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) {
      died++;
      console.error(`node-floor worker ${w.process.pid} died (${signal ?? `exit ${code}`}): stopping`);
      stopAll();
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(died > 0 ? 1 : 0);
  });
  function stopAll() {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  }
  process.once('SIGTERM', stopAll);
} else {
  serve();
}

function serve() {
  const TMS = /^\/tms\/1\.0\.0\/world\/EPSG3857\/(\d+)\/(\d+)\/(\d+)\.png$/;
  const pad = (n) => String(n).padStart(9, '0');
  function tcPath(level, x, y) {
    const xs = pad(x);
    const ys = pad(y);
    return path.join(dir, String(level).padStart(2, '0'), xs.slice(0, 3), xs.slice(3, 6), xs.slice(6), ys.slice(0, 3), ys.slice(3, 6), `${ys.slice(6)}.png`);
  }

  function fromFileHandle(file, cb) {
    (async () => {
      const fh = await fs.promises.open(file, 'r');
      try {
        const st = await fh.stat();
        const buf = Buffer.allocUnsafe(st.size);
        await fh.read(buf, 0, st.size, 0);
        return { data: buf, mtime: st.mtimeMs };
      } finally {
        await fh.close();
      }
    })().then((t) => cb(null, t), cb);
  }
  /** open, fstat, read; then close, or with `keepOpen` hand the fd and size on. */
  function fromCallback(file, cb, keepOpen = false) {
    fs.open(file, 'r', (err, fd) => {
      if (err) return cb(err);
      fs.fstat(fd, (err2, st) => {
        if (err2) return fs.close(fd, () => cb(err2));
        const buf = Buffer.allocUnsafe(st.size);
        fs.read(fd, buf, 0, st.size, 0, (err3) => {
          if (err3 || !keepOpen) fs.close(fd, () => {});
          if (err3) return cb(err3);
          cb(null, keepOpen ? { fd, size: st.size, data: buf, mtime: st.mtimeMs } : { data: buf, mtime: st.mtimeMs });
        });
      });
    });
  }
  function fromReadFile(file, cb) {
    fs.stat(file, (err, st) => {
      if (err) return cb(err);
      fs.readFile(file, (err2, data) => (err2 ? cb(err2) : cb(null, { data, mtime: st.mtimeMs })));
    });
  }
  function fromSync(file, cb) {
    let t;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const st = fs.fstatSync(fd);
        const buf = Buffer.allocUnsafe(st.size);
        fs.readSync(fd, buf, 0, st.size, 0);
        t = { data: buf, mtime: st.mtimeMs };
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      return cb(err);
    }
    cb(null, t);
  }
  const copies = new Map();
  function fromStatCache(file, cb) {
    fs.stat(file, (err, st) => {
      if (err) return cb(err);
      const c = copies.get(file);
      if (c && c.mtime === st.mtimeMs && c.size === st.size && c.ino === st.ino) return cb(null, c);
      fromCallback(file, (err2, t) => {
        if (err2) return cb(err2);
        const copy = { ...t, size: st.size, ino: st.ino };
        copies.set(file, copy);
        cb(null, copy);
      });
    });
  }
  const SCRATCH = 256 * 1024;
  let scratch = Buffer.allocUnsafeSlow(SCRATCH);
  let scratchLost = 0;
  /** reuse: buffers whose bytes the kernel has taken, ready for the next read. */
  const free = [];
  const held = new Map();
  /** Callers waiting for a file's first open, so concurrent first hits open it once. */
  const opening = new Map();
  function fromHeldFd(file, cb) {
    const h = held.get(file);
    if (h === undefined) {
      const waiting = opening.get(file);
      if (waiting !== undefined) {
        waiting.push(cb);
        return;
      }
      opening.set(file, [cb]);
      fromCallback(
        file,
        (err, t) => {
          const callers = opening.get(file) ?? [];
          opening.delete(file);
          if (err) {
            for (const c of callers) c(err);
            return;
          }
          // The bytes are not kept: every later hit reads them again.
          const entry = { fd: t.fd, size: t.size, mtime: t.mtime };
          held.set(file, entry);
          for (const c of callers) c(null, { data: t.data, mtime: t.mtime, held: entry });
        },
        true,
      );
      return;
    }
    if (mode === 'scratch') {
      if (scratch.length < h.size) scratch = Buffer.allocUnsafeSlow(Math.max(h.size, SCRATCH));
      try {
        fs.readSync(h.fd, scratch, 0, h.size, 0);
      } catch (err) {
        return cb(err);
      }
      return cb(null, { data: scratch.subarray(0, h.size), mtime: h.mtime, held: h, scratch: true });
    }
    if (mode === 'reuse') {
      let b = free.pop();
      if (b === undefined || b.length < h.size) b = Buffer.allocUnsafeSlow(Math.max(h.size, SCRATCH));
      fs.read(h.fd, b, 0, h.size, 0, (err) => {
        if (err) {
          free.push(b);
          return cb(err);
        }
        cb(null, { data: b.subarray(0, h.size), mtime: h.mtime, held: h, scratch: true, whole: b });
      });
      return;
    }
    const buf = Buffer.allocUnsafe(h.size);
    if (mode === 'heldsync') {
      try {
        fs.readSync(h.fd, buf, 0, h.size, 0);
      } catch (err) {
        return cb(err);
      }
      return cb(null, { data: buf, mtime: h.mtime, held: h });
    }
    fs.read(h.fd, buf, 0, h.size, 0, (err) => (err ? cb(err) : cb(null, { data: buf, mtime: h.mtime, held: h })));
  }
  const inMemory = new Map();
  function fromMemory(file, cb) {
    const t = inMemory.get(file);
    if (t !== undefined) return cb(null, t);
    fromCallback(file, (err, got) => {
      if (err) return cb(err);
      inMemory.set(file, got);
      cb(null, got);
    });
  }
  const load = {
    filehandle: fromFileHandle,
    callback: fromCallback,
    readfile: fromReadFile,
    sync: fromSync,
    statcache: fromStatCache,
    heldfd: fromHeldFd,
    heldsync: fromHeldFd,
    scratch: fromHeldFd,
    reuse: fromHeldFd,
    memory: fromMemory,
  }[mode];

  function headersOf(t) {
    return {
      ETag: `"${createHash('md5').update(`${t.mtime / 1000}${t.data.length}`).digest('hex')}"`,
      'Last-Modified': new Date(t.mtime).toUTCString(),
      'Cache-Control': 'public, max-age=259200, s-maxage=259200',
      'Access-Control-Allow-Origin': '*',
      'X-Cache': 'HIT',
      'Content-Type': 'image/png',
      'Content-Length': t.data.length,
    };
  }
  const server = createServer((req, res) => {
    const m = TMS.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const level = Number(m[1]) + 1;
    const y = 2 ** level - 1 - Number(m[3]);
    load(tcPath(level, Number(m[2]), y), (err, t) => {
      if (err) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('no tile\n');
        return;
      }
      // heldfd, memory and statcache answer a tile with the same headers every time, made once
      // (as mapproxy-ts keeps them with its held answers); the other modes make them per request.
      const owner = t.held ?? t;
      owner.headers ??= headersOf(t);
      res.writeHead(200, owner.headers);
      res.end(t.data);
      // scratch: the kernel took every byte unless the socket still holds some; then the buffer
      // belongs to that pending write and the next hit reads into a new one.
      if (t.scratch) {
        const lost = res.socket === null || res.socket.writableLength > 0;
        if (lost) scratchLost++;
        if (t.whole !== undefined) {
          if (!lost) free.push(t.whole);
        } else if (lost) scratch = Buffer.allocUnsafeSlow(SCRATCH);
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(portArg), '127.0.0.1', () => {
    if (workers === 0) console.log(`node-floor ${mode} on 127.0.0.1:${portArg}`);
  });
  process.once('SIGTERM', () => {
    if (mode === 'scratch' || mode === 'reuse') console.error(`node-floor ${mode}: ${scratchLost} buffers left to pending writes`);
    // A cluster worker's IPC channel would keep it alive after the server closed.
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
