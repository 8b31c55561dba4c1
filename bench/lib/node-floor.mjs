#!/usr/bin/env node
/**
 * A minimal Node tile server over the same tc cache and the same TMS URLs as mapproxy-ts, to show
 * what the cache-hit path can cost in one Node process with each way of reading a tile file. It is
 * a measuring stick for src/cache (the "floor" under mapproxy-ts), not a server to use.
 *
 *   node bench/lib/node-floor.mjs CACHE_DIR PORT MODE
 *     CACHE_DIR  e.g. rig/cache_data/world_cache_EPSG3857 (tc layout)
 *     MODE       filehandle  open + fstat + read + close through fs/promises FileHandle (4 pool hops)
 *                callback    the same four calls with the callback API (close not awaited)
 *                readfile    fs.readFile (callback) + fs.stat: whole-file read, mtime from stat
 *                sync        openSync/fstatSync/readSync/closeSync on the event loop
 *                statcache   fs.stat (1 pool hop) validating an in-memory copy (mtime, size, ino);
 *                            the file is read only when the copy is missing or out of date
 *
 * Every mode answers with the headers mapproxy-ts sends for a hit (ETag as MapProxy's md5 recipe,
 * Last-Modified, Cache-Control, CORS), so the HTTP work is the same.
 */
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [dir, portArg, mode = 'filehandle'] = process.argv.slice(2);
if (!dir || !portArg) {
  console.error('usage: node-floor.mjs CACHE_DIR PORT MODE');
  process.exit(2);
}
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
function fromCallback(file, cb) {
  fs.open(file, 'r', (err, fd) => {
    if (err) return cb(err);
    fs.fstat(fd, (err2, st) => {
      if (err2) return fs.close(fd, () => cb(err2));
      const buf = Buffer.allocUnsafe(st.size);
      fs.read(fd, buf, 0, st.size, 0, (err3) => {
        fs.close(fd, () => {});
        if (err3) return cb(err3);
        cb(null, { data: buf, mtime: st.mtimeMs });
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
const load = { filehandle: fromFileHandle, callback: fromCallback, readfile: fromReadFile, sync: fromSync, statcache: fromStatCache }[mode];
if (!load) {
  console.error(`unknown MODE ${mode}`);
  process.exit(2);
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
    const etag = `"${createHash('md5').update(`${t.mtime / 1000}${t.data.length}`).digest('hex')}"`;
    res.writeHead(200, {
      ETag: etag,
      'Last-Modified': new Date(t.mtime).toUTCString(),
      'Cache-Control': 'public, max-age=259200, s-maxage=259200',
      'Access-Control-Allow-Origin': '*',
      'Content-Type': 'image/png',
      'Content-Length': t.data.length,
    });
    res.end(t.data);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(portArg), '127.0.0.1', () => console.log(`node-floor ${mode} on 127.0.0.1:${portArg}`));
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
