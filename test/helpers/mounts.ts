// Real file systems for tests: loop-mounted ext4, XFS, btrfs images and tmpfs, made
// and always removed here. Needs root; otherwise every caller gets a reason to skip.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processAlive } from '../../src/lab/memcg';
import { openDir, removeOwnAt, sweepOwnLeftovers } from '../../src/shared-dirs';

export type FsKind = 'ext4' | 'xfs' | 'btrfs' | 'tmpfs';
export const FS_KINDS: readonly FsKind[] = ['ext4', 'xfs', 'btrfs', 'tmpfs'];

export interface Mount {
  kind: FsKind;
  dir: string;
  image?: string;
}

// Mount points and images carry the creating pid, so a later run can remove what a
// killed run left behind.
const PREFIX = 'dontcache-mnt.';

const MKFS: Record<Exclude<FsKind, 'tmpfs'>, string[]> = {
  ext4: ['mkfs.ext4', '-q', '-F'],
  xfs: ['mkfs.xfs', '-q', '-f'],
  btrfs: ['mkfs.btrfs', '-q', '-f'],
};

function hasCommand(name: string): boolean {
  return (process.env.PATH ?? '').split(':').concat('/sbin', '/usr/sbin').some((d) => fs.existsSync(path.join(d, name)));
}

/** Why `kind` cannot be mounted here, or undefined when it can. */
export function mountUnavailableReason(kind: FsKind): string | undefined {
  if (process.platform !== 'linux') return `${kind}: loop mounts need Linux`;
  if (process.getuid?.() !== 0) return `${kind}: loop mounts need root`;
  if (kind !== 'tmpfs' && !hasCommand(MKFS[kind][0])) return `${kind}: ${MKFS[kind][0]} is not installed`;
  return undefined;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes and mounts a fresh file system of `sizeMiB`. Throws when it cannot. */
export function createMount(kind: FsKind, sizeMiB: number): Mount {
  const reason = mountUnavailableReason(kind);
  if (reason) throw new Error(reason);
  const base = path.join(os.tmpdir(), `${PREFIX}${process.pid}.${kind}.${Math.random().toString(36).slice(2, 8)}`);
  const dir = `${base}.dir`;
  fs.mkdirSync(dir);
  try {
    if (kind === 'tmpfs') {
      run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
      return { kind, dir };
    }
    const image = `${base}.img`;
    fs.closeSync(fs.openSync(image, 'w'));
    fs.truncateSync(image, sizeMiB * 1024 * 1024);
    run(MKFS[kind][0], [...MKFS[kind].slice(1), image]);
    run('mount', ['-o', 'loop', image, dir]);
    return { kind, dir, image };
  } catch (error) {
    removePaths(base);
    throw error;
  }
}

function removePaths(base: string): void {
  fs.rmSync(`${base}.dir`, { recursive: true, force: true });
  fs.rmSync(`${base}.img`, { force: true });
}

function unmount(dir: string): void {
  try {
    run('umount', [dir]);
  } catch {
    // Busy (a leaked fd): detach lazily so the mount still goes away.
    try {
      run('umount', ['-l', dir]);
    } catch {
      /* not mounted */
    }
  }
}

/** Unmounts and deletes a mount made by createMount. Safe to call twice. */
export function removeMount(mount: Mount): void {
  unmount(mount.dir);
  removePaths(mount.dir.replace(/\.dir$/, ''));
}

/** Runs fn on a fresh mount and always removes it afterwards. */
export async function withMount<T>(kind: FsKind, sizeMiB: number, fn: (mount: Mount) => Promise<T> | T): Promise<T> {
  const mount = createMount(kind, sizeMiB);
  try {
    return await fn(mount);
  } finally {
    removeMount(mount);
  }
}

/**
 * Removes mounts and images left by runs whose process is gone. Returns what it removed.
 * The temp directory is shared and this runs as root: only entries root owns are
 * touched, moved into a private directory first, never following links (src/shared-dirs.ts).
 */
export function sweepStaleMounts(): string[] {
  const tmp = os.tmpdir();
  const uid = process.geteuid?.();
  const isStale = (name: string) => !processAlive(Number(name.slice(PREFIX.length).split('.')[0]));
  const mounted = new Set(
    fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1]).filter(Boolean),
  );
  // A mount point cannot be moved: unmount our stale ones first (the mount table names them by path).
  for (const name of fs.readdirSync(tmp)) {
    const full = path.join(tmp, name);
    if (!name.startsWith(PREFIX) || !isStale(name) || !mounted.has(full)) continue;
    const st = fs.lstatSync(full);
    if (st.isDirectory() && st.uid === uid) unmount(full);
  }
  const dir = openDir(tmp);
  const into = fs.mkdtempSync(path.join(tmp, `${PREFIX}${process.pid}.sweep.`));
  try {
    const privateDir = openDir(into);
    try {
      return sweepOwnLeftovers(dir, PREFIX, isStale, privateDir).map((name) => path.join(tmp, name));
    } finally {
      fs.closeSync(privateDir.fd);
    }
  } finally {
    removeOwnAt(dir, path.basename(into));
    fs.closeSync(dir.fd);
  }
}
