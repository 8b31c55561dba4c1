/**
 * The open-file level of the file cache's hit path: a served tile's file stays open and later hits
 * read it with one pread; a rewritten or removed tile is noticed within revalidateMs; the number
 * of open files never exceeds its bound, and no descriptor is left behind (counted in
 * /proc/self/fd, the real descriptors of this process).
 */
import { test } from 'node:test';
import { pbkdf2 } from 'node:crypto';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileTileStorage, type FileTileStorageOptions } from '../../../src/cache/storage/file.js';
import { OpenFiles, giveBackDescriptors } from '../../../src/cache/storage/open-files.js';
import { MemoryTier } from '../../../src/cache/storage/memory-tier.js';
import type { HeldFile, HeldTile } from '../../../src/cache/types.js';

/** Descriptors of this process open on files of this suite's temp dirs (other fds come and go). */
const openFds = (): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).includes('/mpx-ofiles-');
    } catch {
      return false; // closed meanwhile
    }
  }).length;

/** Files are closed through the thread pool: wait (up to 10 s, for a loaded machine) until the count is `n`. */
async function fdsBecome(n: number): Promise<void> {
  for (let i = 0; i < 1000 && openFds() !== n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(openFds(), n);
}

async function setup(files: OpenFiles | null, more: Partial<FileTileStorageOptions> = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-ofiles-'));
  const storage = new FileTileStorage({ directory: dir, layout: 'tms', extension: 'png', openFiles: files, ...more });
  return { dir, storage, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Replace a tile file behind the storage's back (temp file + rename, as every tile writer does). */
async function replaceOnDisk(dir: string, rel: string, data: Buffer): Promise<void> {
  const p = path.join(dir, rel);
  await fs.writeFile(p + '.new', data);
  await fs.rename(p + '.new', p);
}

test('a served tile keeps its file open; within revalidateMs hits read that file even after a rewrite', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const { dir, storage, cleanup } = await setup(files);
  try {
    await storage.store([1, 2, 3], Buffer.from('first version'));
    const before = openFds();
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'first version');
    assert.equal(files.size, 1);
    await fdsBecome(before + 1);
    // The old inode stays readable through the open file: proof the hit did not open the path.
    await replaceOnDisk(dir, '3/1/2.png', Buffer.from('second'));
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'first version');
    await fdsBecome(before + 1);
    files.close();
    await fdsBecome(before);
  } finally {
    files.close();
    await cleanup();
  }
});

test('with revalidateMs 0 every hit checks the path: a rewrite is served at once, a removal is a miss', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 0 });
  const { dir, storage, cleanup } = await setup(files);
  try {
    await storage.store([1, 2, 3], Buffer.from('first version'));
    const before = openFds();
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'first version');
    await replaceOnDisk(dir, '3/1/2.png', Buffer.from('second'));
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'second');
    // The file of the first version was closed, the new one is open.
    await fdsBecome(before + 1);
    await fs.unlink(path.join(dir, '3/1/2.png'));
    assert.equal(await storage.load([1, 2, 3]), null);
    assert.equal(files.size, 0);
    await fdsBecome(before);
  } finally {
    files.close();
    await cleanup();
  }
});

test('a store or remove by this process closes the open file at once', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(files);
  try {
    await storage.store([0, 0, 1], Buffer.from('one'));
    await storage.load([0, 0, 1]);
    assert.equal(files.size, 1);
    await storage.store([0, 0, 1], Buffer.from('two'));
    assert.equal(files.size, 0);
    assert.equal((await storage.load([0, 0, 1]))?.data.toString(), 'two');
    assert.equal(await storage.remove([0, 0, 1]), true);
    assert.equal(files.size, 0);
    assert.equal(await storage.load([0, 0, 1]), null);
  } finally {
    files.close();
    await cleanup();
  }
});

test('never more than max files open: the least recently used is closed', async () => {
  const files = new OpenFiles({ max: 2, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(files);
  try {
    for (let x = 0; x < 4; x++) await storage.store([x, 0, 2], Buffer.from(`tile ${x}`));
    const before = openFds();
    for (let x = 0; x < 4; x++) assert.equal((await storage.load([x, 0, 2]))?.data.toString(), `tile ${x}`);
    assert.equal(files.size, 2);
    await fdsBecome(before + 2);
    // Tile 0 was closed; it is read from its path again (and is then among the two open).
    assert.equal((await storage.load([0, 0, 2]))?.data.toString(), 'tile 0');
    await fdsBecome(before + 2);
  } finally {
    files.close();
    await cleanup();
  }
});

test('files unused for inactiveMs are closed by the sweep', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000, inactiveMs: 1000 });
  const { storage, cleanup } = await setup(files);
  try {
    await storage.store([0, 0, 1], Buffer.from('one'));
    const before = openFds();
    await storage.load([0, 0, 1]);
    await fdsBecome(before + 1);
    // The sweep runs every inactiveMs / 2: after 1.6 s the entry is older than 1 s.
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(files.size, 0);
    await fdsBecome(before);
  } finally {
    files.close();
    await cleanup();
  }
});

test('without the level no file stays open; after close() new files are closed at once', async () => {
  const { storage, cleanup } = await setup(null);
  const files = new OpenFiles({ max: 10, revalidateMs: 1000 });
  const withFiles = new FileTileStorage({ directory: (storage as FileTileStorage).directory, layout: 'tms', extension: 'png', openFiles: files });
  try {
    await storage.store([0, 0, 1], Buffer.from('one'));
    const before = openFds();
    assert.equal((await storage.load([0, 0, 1]))?.data.toString(), 'one');
    await fdsBecome(before);
    files.close();
    assert.equal((await withFiles.load([0, 0, 1]))?.data.toString(), 'one');
    assert.equal(files.size, 0);
    await fdsBecome(before);
  } finally {
    files.close();
    await cleanup();
  }
});

test('an empty tile file is a miss and leaves nothing open', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 1000 });
  const { dir, storage, cleanup } = await setup(files);
  try {
    await fs.mkdir(path.join(dir, '1', '0'), { recursive: true });
    await fs.writeFile(path.join(dir, '1/0/0.png'), '');
    const before = openFds();
    assert.equal(await storage.load([0, 0, 1]), null);
    assert.equal(files.size, 0);
    await fdsBecome(before);
  } finally {
    files.close();
    await cleanup();
  }
});

/** `HeldFile.read` as a promise. */
const readHeld = (file: HeldFile): Promise<{ data: Buffer; held?: HeldTile } | null> => new Promise((resolve) => file.read(resolve));

test('a tile read with the level on carries its open file; reading it again opens nothing and gives that version', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const { dir, storage, cleanup } = await setup(files);
  try {
    await storage.store([1, 2, 3], Buffer.from('first version'));
    const loaded = await storage.load([1, 2, 3]);
    const file = loaded?.file;
    assert.ok(file, 'no open file handed out');
    // No memory tier here: nothing held in memory.
    assert.equal(loaded?.held, undefined);
    // A tier hit and a read of the open file hand out the same object.
    assert.equal((await storage.load([1, 2, 3]))?.file, file);
    const before = openFds();
    // Replaced by rename: within the bound the open file still gives the version it had.
    await replaceOnDisk(dir, '3/1/2.png', Buffer.from('second'));
    const again = await readHeld(file);
    assert.equal(again?.data.toString(), 'first version');
    assert.equal(again?.held, undefined);
    await fdsBecome(before);
  } finally {
    files.close();
    await cleanup();
  }
});

test('an open file past its bound is checked first: a rewritten or removed tile gives null and is closed', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 0 });
  const { dir, storage, cleanup } = await setup(files);
  try {
    await storage.store([1, 2, 3], Buffer.from('first version'));
    await storage.store([2, 2, 3], Buffer.from('other tile'));
    const before = openFds();
    const a = (await storage.load([1, 2, 3]))?.file;
    const b = (await storage.load([2, 2, 3]))?.file;
    assert.ok(a && b);
    await fdsBecome(before + 2);
    // Unchanged: one stat, then the bytes.
    assert.equal((await readHeld(a))?.data.toString(), 'first version');
    await replaceOnDisk(dir, '3/1/2.png', Buffer.from('second'));
    await fs.unlink(path.join(dir, '3/2/2.png'));
    assert.equal(await readHeld(a), null);
    assert.equal(await readHeld(b), null);
    assert.equal(files.size, 0);
    await fdsBecome(before);
    // The full path reads the new version (and keeps its file open).
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'second');
  } finally {
    files.close();
    await cleanup();
  }
});

test('an open file let go of gives null, never the bytes of a file that took its descriptor number', async () => {
  const files = new OpenFiles({ max: 1, revalidateMs: 0 });
  const { dir, storage, cleanup } = await setup(files);
  try {
    await storage.store([1, 2, 3], Buffer.from('tile A bytes'));
    const file = (await storage.load([1, 2, 3]))?.file;
    assert.ok(file);
    const got = readHeld(file);
    // Let go of while its check (a stat) is in flight; the number is taken again at once by a file
    // of the same size, as the next open of a busy worker would.
    files.close();
    await new Promise((r) => setImmediate(r));
    const other = path.join(dir, 'other');
    await fs.writeFile(other, 'XXXXXXXXXXXX');
    const fh = await fs.open(other, 'r');
    try {
      assert.equal(await got, null);
    } finally {
      await fh.close();
    }
    assert.equal(await readHeld(file), null);
  } finally {
    files.close();
    await cleanup();
  }
});

test('with a memory tier too, a tile read through its open file is held in memory again', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const tier = new MemoryTier({ maxBytes: 64, revalidateMs: 3_600_000 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-ofiles-'));
  const storage = new FileTileStorage({ directory: dir, layout: 'tms', extension: 'png', openFiles: files, memoryTier: tier });
  try {
    await storage.store([1, 2, 3], Buffer.from('tile one'));
    const first = await storage.load([1, 2, 3]);
    const held = first?.held;
    assert.ok(held && first.file);
    // Out of the tier, the file stays open.
    tier.clear();
    assert.equal(held.isFresh(), false);
    const again = await readHeld(first.file);
    assert.equal(again?.data.toString(), 'tile one');
    assert.ok(again?.held);
    assert.notEqual(again.held, held);
    assert.equal(again.held.isFresh(), true);
    assert.equal(tier.stats.entries, 1);
  } finally {
    files.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('reading through the open file counts as a use: the file answered most is not the one let go of', async () => {
  const files = new OpenFiles({ max: 2, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(files);
  try {
    for (let x = 0; x < 3; x++) await storage.store([x, 0, 2], Buffer.from(`tile ${x}`));
    const a = (await storage.load([0, 0, 2]))?.file;
    const b = (await storage.load([1, 0, 2]))?.file;
    assert.ok(a && b);
    // Tile 0 answered again through its file (as the fast lane does) is the most recently used:
    // a file was added since it moved, more than a quarter of max (see the next test for less).
    assert.equal((await readHeld(a))?.data.toString(), 'tile 0');
    await storage.load([2, 0, 2]);
    assert.equal(files.size, 2);
    assert.equal((await readHeld(a))?.data.toString(), 'tile 0');
    assert.equal(await readHeld(b), null);
  } finally {
    files.close();
    await cleanup();
  }
});

test('uses within REORDER_MS of the last move of an entry leave the order as it is (no Map churn per hit)', async () => {
  const files = new OpenFiles({ max: 4, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(files);
  try {
    for (let x = 0; x < 5; x++) await storage.store([x, 0, 2], Buffer.from(`tile ${x}`));
    const a = (await storage.load([0, 0, 2]))?.file;
    const b = (await storage.load([1, 0, 2]))?.file;
    assert.ok(a && b);
    // Read again at once (one file added since, not more than a quarter of max): tile 0 stays
    // the least recently moved, and is the one let go of when the level is full.
    for (let i = 0; i < 3; i++) assert.equal((await readHeld(a))?.data.toString(), 'tile 0');
    for (let x = 2; x < 5; x++) await storage.load([x, 0, 2]);
    assert.equal(await readHeld(a), null);
    assert.equal((await readHeld(b))?.data.toString(), 'tile 1');
  } finally {
    files.close();
    await cleanup();
  }
});

/** A lender of one buffer of `size` bytes (or none), counting what was asked for and given back. */
function lender(size: number | undefined) {
  const buf = size === undefined ? undefined : Buffer.alloc(size);
  const asked: number[] = [];
  const given: Buffer[] = [];
  return {
    buf,
    asked,
    given,
    take(bytes: number): Buffer | undefined {
      asked.push(bytes);
      return buf !== undefined && buf.length >= bytes ? buf : undefined;
    },
    give(lent: Buffer): void {
      given.push(lent);
    },
  };
}

const readHeldInto = (file: HeldFile, into: ReturnType<typeof lender>): Promise<{ data: Buffer; held?: HeldTile; lent?: boolean } | null> =>
  new Promise((resolve) => file.read(resolve, into));

test('a read through the pool with a lender: lent only when the lender had a buffer, and never with a memory tier', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const { storage: plain, cleanup } = await setup(files);
  const { storage: tiered, cleanup: cleanup2 } = await setup(files, { memoryTier: new MemoryTier({ maxBytes: 1 << 20, revalidateMs: 3_600_000 }) });
  try {
    await plain.store([1, 2, 3], Buffer.from('tile plain'));
    const file = (await plain.load([1, 2, 3]))?.file;
    assert.ok(file);
    const big = lender(64);
    const got = await readHeldInto(file, big);
    assert.equal(got?.data.toString(), 'tile plain');
    assert.equal(got?.lent, true);
    assert.equal(got?.data.buffer, big.buf?.buffer);
    // The lender has none large enough: the read's own buffer, not reported as lent.
    const none = await readHeldInto(file, lender(4));
    assert.equal(none?.data.toString(), 'tile plain');
    assert.notEqual(none?.lent, true);
    // A memory tier keeps what it reads: never into a lent buffer.
    await tiered.store([2, 2, 3], Buffer.from('tile tiered'));
    const kept = (await tiered.load([2, 2, 3]))?.file;
    assert.ok(kept);
    const offered = lender(64);
    const fromTier = await readHeldInto(kept, offered);
    assert.equal(fromTier?.data.toString(), 'tile tiered');
    assert.notEqual(fromTier?.lent, true);
    assert.notEqual(fromTier?.data.buffer, offered.buf?.buffer);
    assert.deepEqual(offered.asked, []);
  } finally {
    files.close();
    await cleanup();
    await cleanup2();
  }
});

test('a hot file is not let go of when a quarter of max new files come in within REORDER_MS', async () => {
  const files = new OpenFiles({ max: 8, revalidateMs: 3_600_000 });
  const { storage, cleanup } = await setup(files);
  try {
    for (let x = 0; x < 12; x++) await storage.store([x, 0, 4], Buffer.from(`tile ${x}`));
    const hot = (await storage.load([0, 0, 4]))?.file;
    assert.ok(hot);
    // Eleven more files within the second, the hot one read between each: it stays open.
    for (let x = 1; x < 12; x++) {
      await storage.load([x, 0, 4]);
      assert.equal((await readHeld(hot))?.data.toString(), 'tile 0', `after tile ${x}`);
    }
    assert.equal(files.size, 8);
  } finally {
    files.close();
    await cleanup();
  }
});

test('blocking reads: a kept-open tile is read at once into the lent buffer, exactly its bytes', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const { dir, storage, cleanup } = await setup(files, { blockingReads: true });
  try {
    await storage.store([1, 2, 3], Buffer.from('tile one two three'));
    const file = (await storage.load([1, 2, 3]))?.file;
    assert.ok(file?.readNow);
    const lent = lender(64);
    const data = file.readNow(lent);
    assert.equal(data?.toString(), 'tile one two three');
    // One byte more is asked for: a file grown in place is noticed, not sent cut.
    assert.deepEqual(lent.asked, [19]);
    assert.equal(data?.buffer, lent.buf?.buffer);
    // No buffer lent (or one too small): the caller reads through the pool instead.
    assert.equal(file.readNow(lender(undefined)), undefined);
    assert.equal(file.readNow(lender(18)), undefined);
    // Grown in place: not this version any more (the buffer is given back); read() then drops it.
    await fs.writeFile(path.join(dir, '3/1/2.png'), 'tile one two three, longer');
    const back = lender(64);
    assert.equal(file.readNow(back), undefined);
    assert.deepEqual(back.given, [back.buf]);
    assert.equal(await readHeld(file), null);
  } finally {
    files.close();
    await cleanup();
  }
});

test('blocking reads past the bound: the stat on the event loop too; a changed or removed tile, or one let go of, declines', async () => {
  const files = new OpenFiles({ max: 1, revalidateMs: 200 });
  const { dir, storage, cleanup } = await setup(files, { blockingReads: true });
  try {
    await storage.store([0, 0, 1], Buffer.from('tile a'));
    await storage.store([1, 0, 1], Buffer.from('tile b'));
    const a = (await storage.load([0, 0, 1]))?.file;
    assert.ok(a?.readNow);
    assert.equal(a.readNow(lender(64))?.toString(), 'tile a');
    // Due, unchanged: stat and read at once, and the check starts a new bound.
    await new Promise((r) => setTimeout(r, 250));
    const entry = files.get(path.join(dir, '1/0/0.png'));
    assert.ok(entry);
    const before = entry.checked;
    assert.equal(a.readNow(lender(64))?.toString(), 'tile a');
    assert.ok(entry.checked > before, 'checked again');
    // Due, rewritten by another process: declined before any buffer is taken; the pool path then
    // drops the old file and the full load reads the new one.
    await new Promise((r) => setTimeout(r, 250));
    await replaceOnDisk(dir, '1/0/0.png', Buffer.from('tile A'));
    const back = lender(64);
    assert.equal(a.readNow(back), undefined);
    assert.deepEqual(back.asked, []);
    assert.equal(await readHeld(a), null);
    const again = (await storage.load([0, 0, 1]))?.file;
    assert.ok(again?.readNow);
    assert.equal(again.readNow(lender(64))?.toString(), 'tile A');
    // Due, removed: declined.
    await new Promise((r) => setTimeout(r, 250));
    await fs.unlink(path.join(dir, '1/0/0.png'));
    assert.equal(again.readNow(lender(64)), undefined);
    // Let go of (max 1): never read again, whatever now holds its descriptor number.
    await storage.store([0, 0, 1], Buffer.from('tile a'));
    const fresh = (await storage.load([0, 0, 1]))?.file;
    assert.ok(fresh?.readNow);
    await storage.load([1, 0, 1]);
    assert.equal(fresh.readNow(lender(64)), undefined);
  } finally {
    files.close();
    await cleanup();
  }
});

test('no blocking reads without the setting, or with a memory tier (whose copies cannot live in a lent buffer)', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const { storage: off, cleanup } = await setup(files);
  const { storage: tiered, cleanup: cleanup2 } = await setup(files, { blockingReads: true, memoryTier: new MemoryTier({ maxBytes: 1 << 20, revalidateMs: 3_600_000 }) });
  try {
    await off.store([1, 2, 3], Buffer.from('tile'));
    const plain = (await off.load([1, 2, 3]))?.file;
    assert.ok(plain);
    assert.equal(plain.readNow, undefined);
    await tiered.store([2, 2, 3], Buffer.from('tile'));
    const held = (await tiered.load([2, 2, 3]))?.file;
    assert.ok(held);
    assert.equal(held.readNow, undefined);
  } finally {
    files.close();
    await cleanup();
    await cleanup2();
  }
});

test('a tile rewritten in place with another length is not sent cut to the old one: the path is read again', async () => {
  const files = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const { dir, storage, cleanup } = await setup(files);
  try {
    await storage.store([1, 2, 3], Buffer.from('first version'));
    const file = (await storage.load([1, 2, 3]))?.file;
    assert.ok(file);
    // cp / rsync --inplace: the same inode, new bytes, within the revalidate bound.
    await fs.writeFile(path.join(dir, '3/1/2.png'), 'a longer second version');
    assert.equal(await readHeld(file), null);
    assert.equal((await storage.load([1, 2, 3]))?.data.toString(), 'a longer second version');
  } finally {
    files.close();
    await cleanup();
  }
});

test('after EMFILE the level keeping the most files closes its older half, and says when they are closed', async () => {
  const small = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const large = new OpenFiles({ max: 10, revalidateMs: 3_600_000 });
  const a = await setup(small);
  const b = await setup(large);
  try {
    for (let x = 0; x < 2; x++) await a.storage.store([x, 0, 3], Buffer.from(`a ${x}`));
    for (let x = 0; x < 6; x++) await b.storage.store([x, 0, 3], Buffer.from(`b ${x}`));
    const before = openFds();
    for (let x = 0; x < 2; x++) await a.storage.load([x, 0, 3]);
    for (let x = 0; x < 6; x++) await b.storage.load([x, 0, 3]);
    await fdsBecome(before + 8);
    // The open retried in the callback must find the descriptors free: they are closed by then,
    // also when the closes wait in the thread pool behind other work (held busy here).
    const busy = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, () =>
      new Promise((r) => pbkdf2('x', 'y', 200_000, 32, 'sha256', r)));
    const closedAtCallback = await new Promise<number>((resolve) => {
      assert.equal(giveBackDescriptors(() => resolve(openFds())), true);
    });
    await Promise.all(busy);
    assert.equal(closedAtCallback, before + 5);
    assert.deepEqual([small.size, large.size], [2, 3]);
    // The most recently used three of the larger level are still answered from their files.
    for (let x = 3; x < 6; x++) assert.equal((await b.storage.load([x, 0, 3]))?.data.toString(), `b ${x}`);
    assert.equal(openFds(), before + 5);
  } finally {
    small.close();
    large.close();
    await a.cleanup();
    await b.cleanup();
  }
  // With no file kept anywhere there is nothing to give back.
  assert.equal(giveBackDescriptors(() => assert.fail('not called')), false);
});
