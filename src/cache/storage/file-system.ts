/**
 * Which file system a cache directory is on, for the warning of
 * `globals.cache.memory_tier.blocking_reads: true`: a read of a local file in the page cache is a
 * copy of a few microseconds, but one on a network file system may wait on a server for as long as
 * it is away, and a read on the event loop stops every request of the worker meanwhile.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * statfs(2) `f_type` of the file systems whose reads may wait on a network or a user-space
 * daemon (linux/magic.h and the file systems' own headers).
 */
const NETWORK_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0x517b, 'smb'],
  [0xfe534d42, 'smb2'],
  [0xff534d42, 'cifs'],
  [0x65735546, 'fuse'],
  [0x00c36400, 'ceph'],
  [0x0bd00bd0, 'lustre'],
  [0x47504653, 'gpfs'],
  [0x01161970, 'gfs2'],
  [0x7461636f, 'ocfs2'],
  [0x5346414f, 'afs'],
  [0x6b414653, 'afs'],
  [0x73757245, 'coda'],
  [0x01021997, '9p'],
  [0x19830326, 'beegfs'],
  [0x20030528, 'orangefs'],
  [0x786f4256, 'vboxsf'],
]);

/** The name of the network file system with statfs type `type`, or undefined for any other. */
export function networkFileSystemName(type: number): string | undefined {
  return NETWORK_FILE_SYSTEMS.get(type);
}

/**
 * Why reads under `dir` should not block the event loop: the network file system it is on (of its
 * nearest existing ancestor while it does not exist yet), or `unknown` when statfs fails otherwise;
 * undefined for a local file system.
 */
export function blockingReadsRisk(dir: string, statfs: (p: string) => { type: number } = fs.statfsSync): string | undefined {
  let d = path.resolve(dir);
  for (;;) {
    try {
      return networkFileSystemName(statfs(d).type);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const up = path.dirname(d);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || up === d) return 'unknown';
      d = up;
    }
  }
}
