/**
 * Which cache directories `memory_tier.blocking_reads: true` warns about: a network file system
 * (or one statfs cannot tell), not a local one. The statfs types are Linux's; a directory that
 * does not exist yet is judged by its nearest existing ancestor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { blockingReadsRisk, networkFileSystemName } from '../../../src/cache/storage/file-system.js';

test('network file systems by statfs type: NFS, SMB/CIFS, FUSE, Ceph, ...; local ones are none', () => {
  assert.equal(networkFileSystemName(0x6969), 'nfs');
  assert.equal(networkFileSystemName(0xff534d42), 'cifs');
  assert.equal(networkFileSystemName(0xfe534d42), 'smb2');
  assert.equal(networkFileSystemName(0x65735546), 'fuse');
  assert.equal(networkFileSystemName(0x00c36400), 'ceph');
  // ext4, xfs, btrfs, tmpfs, zfs
  for (const local of [0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x2fc12fc1]) assert.equal(networkFileSystemName(local), undefined);
});

test('a real directory (this temp dir) and one not made yet below it are judged by statfs of the temp dir', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mpx-fstype-'));
  try {
    // Local (ext4, tmpfs) on CI; a temp dir on 9p or FUSE (WSL, some containers) is a risk.
    const expected = networkFileSystemName(statfsSync(dir).type);
    assert.equal(blockingReadsRisk(dir), expected);
    assert.equal(blockingReadsRisk(path.join(dir, 'cache_data', 'osm_EPSG3857')), expected);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a cache dir to be made on an NFS mount is judged by the mount; a statfs that fails otherwise is a risk', () => {
  const asked: string[] = [];
  const nfsAt = (mount: string) => (p: string) => {
    asked.push(p);
    if (p === mount) return { type: 0x6969 };
    if (p.startsWith(`${mount}/`)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return { type: 0xef53 };
  };
  assert.equal(blockingReadsRisk('/srv/tiles/cache_data/osm', nfsAt('/srv/tiles')), 'nfs');
  assert.deepEqual(asked, ['/srv/tiles/cache_data/osm', '/srv/tiles/cache_data', '/srv/tiles']);
  const denied = () => {
    throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
  };
  assert.equal(blockingReadsRisk('/srv/tiles', denied), 'unknown');
});
