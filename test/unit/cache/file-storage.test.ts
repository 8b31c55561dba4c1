// The file cache: the shared TileStorage suite in every layout, then what only files do — the exact
// paths on disk (as MapProxy writes them), permissions, atomic writes seen from another process,
// single-colour links, lockCacheId.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../src/errors.js';
import { FILE_LAYOUTS, type FileLayout } from '../../../src/cache/storage/layouts.js';
import { FileTileStorage, linksSingleColor, parseOctalMode } from '../../../src/cache/storage/file.js';
import type { TileCoord } from '../../../src/grid/types.js';
import { tileStorageTests } from '../../conformance/tile-storage.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/mapproxy-paths.json', import.meta.url), 'utf8')) as {
  tiles: Array<{ layout: FileLayout; coord: TileCoord; ext: string; path: string }>;
  lockCacheId: { directory: string; id: string };
  singleColor: Array<{ color: number[]; path: string }>;
};

const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'mpx-'));

for (const layout of FILE_LAYOUTS) {
  tileStorageTests(`file, layout ${layout}`, async () => {
    const dir = await tempDir();
    return {
      storage: new FileTileStorage({ directory: path.join(dir, 'cache'), layout, extension: 'png' }),
      cleanup: () => fs.rm(dir, { recursive: true, force: true }),
    };
  });
}
tileStorageTests('file, symlinked single colours enabled', async () => {
  const dir = await tempDir();
  return {
    storage: new FileTileStorage({ directory: dir, extension: 'jpeg', linkSingleColor: 'symlink' }),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
});

describe('FileTileStorage', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  let n = 0;
  const root = () => path.join(dir, `c${++n}`);

  it('writes each tile exactly where MapProxy 1.15 does, and reads tiles MapProxy wrote', async () => {
    for (const layout of FILE_LAYOUTS) {
      const r = root();
      const s = new FileTileStorage({ directory: r, layout, extension: 'png' });
      for (const t of fixture.tiles.filter((e) => e.layout === layout && e.ext === 'png').slice(0, 8)) {
        const data = Buffer.from(`${layout}:${t.coord.join(',')}`);
        await s.store(t.coord, data);
        assert.deepEqual(await fs.readFile(path.join(r, t.path)), data, `${layout} ${t.path}`);
        assert.equal(s.tileLocation(t.coord), path.join(r, t.path));
      }
      const mp = fixture.tiles.find((e) => e.layout === layout && e.coord[2] === 9)!;
      await fs.mkdir(path.dirname(path.join(r, mp.path)), { recursive: true });
      await fs.writeFile(path.join(r, mp.path), 'seeded by mapproxy');
      assert.equal((await s.load(mp.coord))?.data.toString(), 'seeded by mapproxy');
    }
  });

  it('gives absolute level directories, null without levels', () => {
    const r = root();
    assert.equal(new FileTileStorage({ directory: r, extension: 'png' }).levelLocation(3), path.join(r, '03'));
    assert.equal(new FileTileStorage({ directory: r, layout: 'arcgis', extension: 'png' }).levelLocation(12), path.join(r, 'L12'));
    assert.equal(new FileTileStorage({ directory: r, layout: 'tms', extension: 'png' }).levelLocation(3), path.join(r, '3'));
    assert.equal(new FileTileStorage({ directory: r, layout: 'quadkey', extension: 'png' }).levelLocation(3), null);
    assert.equal(new FileTileStorage({ directory: r, layout: 'reverse_tms', extension: 'png' }).levelLocation(3), null);
    const dims = new FileTileStorage({ directory: r, extension: 'png', dimensions: { time: '2020' } });
    assert.equal(dims.levelLocation(1), path.join(r, 'time-2020', '01'));
    assert.equal(dims.tileLocation([1, 0, 1]), path.join(r, 'time-2020/01/000/000/001/000/000/000.png'));
  });

  it('derives lockCacheId as md5 of the cache directory (MapProxy lock_cache_id)', () => {
    const s = new FileTileStorage({ directory: fixture.lockCacheId.directory, extension: 'png' });
    assert.equal(s.lockCacheId, fixture.lockCacheId.id);
    const r = root();
    assert.equal(new FileTileStorage({ directory: r, extension: 'png' }).lockCacheId, createHash('md5').update(r).digest('hex'));
  });

  it('applies file and directory permissions exactly, whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      const r = root();
      const s = new FileTileStorage({
        directory: r,
        extension: 'png',
        fileMode: parseOctalMode('640', 'caches.c.cache.file_permissions'),
        dirMode: parseOctalMode('750', 'caches.c.cache.directory_permissions'),
      });
      await s.store([3, 4, 2], Buffer.from('x'));
      assert.equal((await fs.stat(s.tileLocation([3, 4, 2]))).mode & 0o7777, 0o640);
      // every directory it created, from the root down to the tile's
      const rel = '02/000/000/003/000/000'.split('/');
      for (let i = 0; i <= rel.length; i++) {
        const d = path.join(r, ...rel.slice(0, i));
        assert.equal((await fs.stat(d)).mode & 0o7777, 0o750, d);
      }
      const wide = new FileTileStorage({ directory: root(), extension: 'png', fileMode: 0o666, dirMode: 0o777 });
      await wide.store([0, 0, 0], Buffer.from('y'));
      assert.equal((await fs.stat(wide.tileLocation([0, 0, 0]))).mode & 0o7777, 0o666);
      assert.equal((await fs.stat(path.dirname(wide.tileLocation([0, 0, 0])))).mode & 0o7777, 0o777);
      // Without modes the umask applies, as for MapProxy (0664 files).
      const plain = new FileTileStorage({ directory: root(), extension: 'png' });
      await plain.store([0, 0, 0], Buffer.from('z'));
      assert.equal((await fs.stat(plain.tileLocation([0, 0, 0]))).mode & 0o7777, 0o600);
    } finally {
      process.umask(old);
    }
  });

  it('parses octal permission strings and names the YAML path on bad ones', () => {
    assert.equal(parseOctalMode('640', 'x'), 0o640);
    assert.equal(parseOctalMode('0755', 'x'), 0o755);
    assert.equal(parseOctalMode(644, 'x'), 0o644);
    for (const bad of ['9', 'rw-r--r--', '', '12345', null]) {
      assert.throws(() => parseOctalMode(bad, 'caches.osm.cache.file_permissions'), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'MPX_ERR_CONFIG');
        assert.equal(
          err.message,
          `invalid configuration:\n  caches.osm.cache.file_permissions: expected an octal permission string like '644', got ${JSON.stringify(bad)}`,
        );
        return true;
      });
    }
  });

  it('rejects bad options when built', () => {
    assert.throws(() => new FileTileStorage({ directory: 'cache_data/x', extension: 'png' }), {
      name: 'RangeError',
      message: 'cache directory must be an absolute path, got "cache_data/x"',
    });
    assert.throws(() => new FileTileStorage({ directory: '/c', layout: 'nope' as FileLayout, extension: 'png' }), {
      message: 'unknown directory_layout "nope"',
    });
    assert.throws(() => new FileTileStorage({ directory: '/c', extension: '../png' }), {
      message: 'invalid tile file extension "../png"',
    });
    assert.throws(() => new FileTileStorage({ directory: '/c', extension: 'png', fileMode: 0o10000 }), {
      message: 'fileMode must be a file mode between 0 and 0o7777, got 4096',
    });
    assert.throws(() => new FileTileStorage({ directory: '/c', layout: 'quadkey', extension: 'png', dimensions: { time: 't' } }), {
      message: 'directory_layout quadkey does not support dimensions',
    });
  });

  it('leaves no temp file behind after stores', async () => {
    const r = root();
    const s = new FileTileStorage({ directory: r, layout: 'quadkey', extension: 'png' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.store([1, 1, 1], Buffer.alloc(1000 + i, i))));
    assert.deepEqual(await fs.readdir(r), ['3.png']);
  });

  it('removes the old temp files of exactly the given tiles with removeLeftovers', async () => {
    const r = root();
    const s = new FileTileStorage({ directory: r, extension: 'png' });
    // Two tiles of one meta tile in two directories (tc: one directory per column).
    const [a, b]: TileCoord[] = [[8, 4, 5], [9, 5, 5]];
    await s.store(b, Buffer.from('tile b'));
    const [locA, locB] = [s.tileLocation(a), s.tileLocation(b)];
    await fs.mkdir(path.dirname(locA), { recursive: true });
    const old = new Date(Date.now() - 20_000);
    const plant = async (file: string, age: Date | null): Promise<string> => {
      await fs.writeFile(file, 'half');
      if (age) await fs.utimes(file, age, age);
      return file;
    };
    const gone = [
      await plant(`${locA}.4242-17-abcdef0123.tmp`, old), // ours, a killed writer's
      await plant(`${locB}.tmp-31415926`, old), // MapProxy's
    ];
    // A single-colour tile's link under its temp name (link_single_color_images: symlink).
    const link = `${locB}.4242-20-abcdef0123.tmp`;
    await fs.symlink('../../single_color_tiles/ffffff.png', link);
    await fs.lutimes(link, old, old);
    gone.push(link);
    const kept = [
      await plant(`${locA}.4242-18-abcdef0123.tmp`, null), // being written now
      await plant(path.join(path.dirname(locA), '005.png.4242-19-abcdef0123.tmp'), old), // another tile's
      await plant(`${locB}.tmp-notdigits`, old), // not a temp name
      await plant(`${locB}.bak`, old),
    ];
    assert.equal(await s.removeLeftovers([a, b, [20, 20, 5]], 10_000), 3);
    for (const f of gone) await assert.rejects(fs.lstat(f), { code: 'ENOENT' });
    for (const f of kept) await fs.stat(f);
    assert.equal((await fs.readFile(locB)).toString(), 'tile b');
    // Nothing left to remove; a level that was never written is fine.
    assert.equal(await s.removeLeftovers([a, b], 10_000), 0);
    assert.equal(await s.removeLeftovers([[0, 0, 9]], 0), 0);
  });

  it('with link_single_color_images, removeLeftovers also removes old temp files of the shared single-colour tiles', async () => {
    const r = root();
    const shared = path.join(r, 'single_color_tiles');
    const old = new Date(Date.now() - 20_000);
    const plant = async (name: string, age: Date | null): Promise<string> => {
      const file = path.join(shared, name);
      await fs.writeFile(file, 'half');
      if (age) await fs.utimes(file, age, age);
      return file;
    };
    for (const linkSingleColor of ['symlink', 'hardlink', false] as const) {
      await fs.mkdir(shared, { recursive: true });
      const s = new FileTileStorage({ directory: r, extension: 'png', linkSingleColor });
      const gone = [
        await plant('ff0000.png.4242-1-abcdef0123.tmp', old), // a writer killed while writing a new colour
        await plant('ff000080.png.tmp-27182818', old), // RGBA, MapProxy's temp name
      ];
      const kept = [
        await plant('00ff00.png.4242-2-abcdef0123.tmp', null), // being written now
        await plant('0000ff.png', old), // a shared tile
        await plant('notes.txt.4242-3-abcdef0123.tmp', old), // not a colour's
      ];
      const removed = await s.removeLeftovers([[0, 0, 1]], 10_000);
      if (linkSingleColor === false) {
        // Without linking, that directory is not the cache's: left alone.
        assert.equal(removed, 0);
        for (const f of [...gone, ...kept]) await fs.stat(f);
      } else {
        assert.equal(removed, 2, String(linkSingleColor));
        for (const f of gone) await assert.rejects(fs.lstat(f), { code: 'ENOENT' });
        for (const f of kept) await fs.stat(f);
      }
      await fs.rm(shared, { recursive: true });
    }
    // No such directory yet: nothing to do.
    assert.equal(await new FileTileStorage({ directory: r, extension: 'png', linkSingleColor: 'symlink' }).removeLeftovers([[0, 0, 1]], 0), 0);
  });

  it('never lets a reader see a torn tile while another process rewrites it', async () => {
    const r = root();
    const s = new FileTileStorage({ directory: r, extension: 'png' });
    const coord: TileCoord = [12, 34, 5];
    const [sizeA, sizeB] = [300_000, 700_000];
    const child = fork(new URL('./fixtures/tile-writer.ts', import.meta.url), [r, '12', '34', '5', String(sizeA), String(sizeB)], {
      execArgv: ['--import', 'tsx'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let written = 0;
    const done = new Promise<number>((resolve) =>
      child.on('message', (m: { written?: number; done?: number }) => {
        if (m.written) written = m.written;
        if (m.done !== undefined) resolve(m.done);
      }),
    );
    let loads = 0;
    let whole = 0;
    // Read until the writer has replaced the tile many times while we were reading.
    while (written < 200 || whole < 50) {
      const t = await s.load(coord);
      loads++;
      if (t === null) continue;
      const ok =
        (t.data.length === sizeA && t.data.every((b) => b === 0xaa)) || (t.data.length === sizeB && t.data.every((b) => b === 0xbb));
      assert.ok(ok, `load ${loads} saw a torn tile of ${t.data.length} bytes`);
      whole++;
    }
    child.send('stop');
    assert.ok((await done) >= 200);
    await exited;
  });

  it('leaves a whole tile or none when the writing process is killed', async () => {
    const r = root();
    const s = new FileTileStorage({ directory: r, extension: 'png' });
    const size = 4_000_000;
    const child = fork(new URL('./fixtures/tile-writer.ts', import.meta.url), [r, '1', '2', '3', String(size), String(size + 1)], {
      execArgv: ['--import', 'tsx'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) => child.on('message', (m: { written?: number }) => (m.written ?? 0) >= 3 && resolve()));
    child.kill('SIGKILL');
    await exited;
    const t = await s.load([1, 2, 3]);
    assert.ok(t);
    assert.ok(
      (t.data.length === size && t.data.every((b) => b === 0xaa)) || (t.data.length === size + 1 && t.data.every((b) => b === 0xbb)),
      `tile of ${t.data.length} bytes after the kill`,
    );
  });

  describe('single-colour tiles (link_single_color_images)', () => {
    it('names the shared tile as MapProxy does', () => {
      const s = new FileTileStorage({ directory: '/cache/root', extension: 'png', linkSingleColor: 'symlink' });
      for (const e of fixture.singleColor) assert.equal(s.singleColorLocation(e.color), path.join('/cache/root', e.path));
      assert.throws(() => s.singleColorLocation([1, 2]), { message: 'a single colour is 3 or 4 integers 0-255, got [1, 2]' });
      assert.throws(() => s.singleColorLocation([1, 2, 256]), { message: 'a single colour is 3 or 4 integers 0-255, got [1, 2, 256]' });
    });

    it('stores the colour once and links tiles to it with relative symlinks', async () => {
      const r = root();
      const s = new FileTileStorage({ directory: r, extension: 'png', linkSingleColor: 'symlink' });
      assert.equal(linksSingleColor(s), true);
      const red = Buffer.from('red tile png');
      await s.storeSingleColor([3, 4, 2], red, [254, 0, 4]);
      await s.storeSingleColor([3, 5, 2], Buffer.from('another encoding'), [254, 0, 4]);
      const shared = path.join(r, 'single_color_tiles', 'fe0004.png');
      assert.deepEqual(await fs.readFile(shared), red);
      for (const c of [[3, 4, 2], [3, 5, 2]] as TileCoord[]) {
        const loc = s.tileLocation(c);
        assert.ok((await fs.lstat(loc)).isSymbolicLink());
        // MapProxy: os.path.relpath(real_tile_loc, dirname(tile_loc))
        assert.equal(await fs.readlink(loc), '../../../../../../single_color_tiles/fe0004.png');
        assert.deepEqual((await s.load(c))?.data, red);
      }
      assert.deepEqual(await fs.readdir(path.join(r, 'single_color_tiles')), ['fe0004.png']);
      // no temp link left behind
      assert.deepEqual((await fs.readdir(path.dirname(s.tileLocation([3, 4, 2])))).sort(), ['004.png', '005.png']);
    });

    it('dates a symlinked tile by its link, as MapProxy lstat does', async () => {
      const r = root();
      const s = new FileTileStorage({ directory: r, extension: 'png', linkSingleColor: 'symlink' });
      await s.storeSingleColor([0, 0, 1], Buffer.from('white'), [255, 255, 255, 0]);
      const shared = path.join(r, 'single_color_tiles', 'ffffff00.png');
      const y2000 = new Date('2000-01-01T00:00:00Z');
      await fs.utimes(shared, y2000, y2000);
      const ts = await s.timestamp([0, 0, 1]);
      const link = await fs.lstat(s.tileLocation([0, 0, 1]));
      assert.equal(ts, link.mtimeMs);
      assert.notEqual(ts, y2000.getTime());
      assert.equal((await s.load([0, 0, 1]))?.mtime, link.mtimeMs);
    });

    it('replaces a link by a real file on store, leaving the shared tile alone', async () => {
      const r = root();
      const s = new FileTileStorage({ directory: r, extension: 'png', linkSingleColor: 'symlink' });
      await s.storeSingleColor([1, 1, 1], Buffer.from('black'), [0, 0, 0]);
      await s.store([1, 1, 1], Buffer.from('detailed'));
      assert.equal((await fs.lstat(s.tileLocation([1, 1, 1]))).isSymbolicLink(), false);
      assert.equal((await s.load([1, 1, 1]))?.data.toString(), 'detailed');
      assert.equal(await fs.readFile(path.join(r, 'single_color_tiles', '000000.png'), 'utf8'), 'black');
      // and back: a link replaces the file atomically
      await s.storeSingleColor([1, 1, 1], Buffer.from('black'), [0, 0, 0]);
      assert.equal((await fs.lstat(s.tileLocation([1, 1, 1]))).isSymbolicLink(), true);
    });

    it('hard-links tiles to the shared file', async () => {
      const r = root();
      const s = new FileTileStorage({ directory: r, layout: 'tms', extension: 'png', linkSingleColor: 'hardlink' });
      await s.storeSingleColor([1, 0, 1], Buffer.from('blue'), [0, 0, 255]);
      await s.storeSingleColor([0, 1, 1], Buffer.from('blue'), [0, 0, 255]);
      const shared = await fs.stat(path.join(r, 'single_color_tiles', '0000ff.png'));
      assert.equal(shared.nlink, 3);
      for (const c of [[1, 0, 1], [0, 1, 1]] as TileCoord[]) {
        const st = await fs.lstat(s.tileLocation(c));
        assert.equal(st.isSymbolicLink(), false);
        assert.equal(st.ino, shared.ino);
        assert.equal((await s.load(c))?.data.toString(), 'blue');
      }
    });

    it('stores a plain file when linking is off', async () => {
      const r = root();
      const s = new FileTileStorage({ directory: r, extension: 'png' });
      assert.equal(linksSingleColor(s), false);
      await s.storeSingleColor([1, 0, 1], Buffer.from('blue'), [0, 0, 255]);
      assert.equal((await fs.lstat(s.tileLocation([1, 0, 1]))).isFile(), true);
      await assert.rejects(fs.stat(path.join(r, 'single_color_tiles')), { code: 'ENOENT' });
    });
  });
});
