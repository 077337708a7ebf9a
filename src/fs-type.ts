/**
 * File systems by their statfs(2) `f_type` magic number: the names users know them by,
 * and what a stream's `cache: 'auto'` expects of each before any write.
 */
import fs from 'node:fs';
import { statfs } from 'node:fs/promises';

/** statfs(2) `f_type` magic numbers (linux/magic.h) and the names users know them by. */
export const FS_MAGIC: Readonly<Record<number, string>> = Object.freeze({
  0xef53: 'ext4', // also ext2 and ext3: one magic for the family
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x858458f6: 'ramfs',
  0x6969: 'nfs',
  0x794c7630: 'overlay',
  0x65735546: 'fuse',
  0xf2f52010: 'f2fs',
  0x2fc12fc1: 'zfs',
  0xca451a4e: 'bcachefs',
  0xe0f5e1e2: 'erofs',
  0x73717368: 'squashfs',
  0x4d44: 'vfat',
  0x2011bab0: 'exfat',
  0x7366746e: 'ntfs3',
  0x5346544e: 'ntfs',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x00c36400: 'ceph',
  0x01021997: '9p',
  0x47504653: 'gpfs',
  0x3434: 'nilfs2',
  0x3153464a: 'jfs',
  0x52654973: 'reiserfs',
  0x9660: 'iso9660',
  0x15013346: 'udf',
  0x958458f6: 'hugetlbfs',
  0x01161970: 'gfs2',
  0x7461636f: 'ocfs2',
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x63677270: 'cgroup2',
  0x27e0eb: 'cgroup',
});

// f_type is a signed long on some ABIs: normalise to the unsigned 32-bit magic.
const magicOf = (type: number | bigint): number => Number(BigInt.asUintN(32, BigInt(type)));

/** The name of a statfs magic number, or `unknown (0x…)`. */
export function fsTypeName(magic: number | bigint): string {
  const key = magicOf(magic);
  return FS_MAGIC[key] ?? `unknown (0x${key.toString(16)})`;
}

/** The file system type of the file system holding `path`. */
export async function fileSystemType(path: string): Promise<string> {
  return fsTypeName((await statfs(path)).type);
}

/** What the file system of a path suggests for `cache: 'auto'`, before any write. */
export type FileSystemHint = 'memory' | 'refuses-dontcache' | 'try-dontcache';

const MEMORY = new Set(['tmpfs', 'ramfs']);
const REFUSES_DONTCACHE = new Set(['btrfs', 'overlay', 'fuse']);

/**
 * Classifies a file system by its statfs type: 'memory' (tmpfs, ramfs: the page cache
 * *is* the storage, nothing to drop), 'refuses-dontcache' (btrfs, overlayfs, FUSE: known
 * to answer EOPNOTSUPP up to Linux 7.2), or 'try-dontcache' (ext4, XFS, NFS and anything
 * unknown: the first write tells).
 */
export function fileSystemHint(type: number | bigint): FileSystemHint {
  const name = FS_MAGIC[magicOf(type)];
  if (MEMORY.has(name)) return 'memory';
  if (REFUSES_DONTCACHE.has(name)) return 'refuses-dontcache';
  return 'try-dontcache';
}

/**
 * Looks up the file-system hint of an open file (asynchronously, statfs of
 * /proc/self/fd/N, since Node has no fstatfs); 'try-dontcache' when statfs fails.
 */
export function lookUpFileSystemHint(fd: number, cb: (hint: FileSystemHint) => void): void {
  fs.statfs(`/proc/self/fd/${fd}`, (error, stats) => cb(error ? 'try-dontcache' : fileSystemHint(stats.type)));
}
