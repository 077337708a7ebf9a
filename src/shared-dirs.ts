/**
 * Working in directories other users can write to (a sticky /tmp, a shared scratch
 * space), often as root, without ever following a path they can change.
 *
 * Removal works on open directories, never on path strings: `/proc/self/fd/N/name`
 * resolves `name` inside the directory open as N, wherever that directory is now,
 * like the *at() system calls Node lacks. A directory is entered only through an
 * O_NOFOLLOW open, and only when it is owned by this user and on the same file system;
 * a symbolic link is removed as a link, never followed. A sweep takes only entries
 * this user owns and moves each into a private directory (one rename, atomic) before
 * removing it there, where nobody else can reach it.
 */
import fs from 'node:fs';
import path from 'node:path';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
const S_ISVTX = 0o1000;

/** The path of `name` inside the directory open as `dirFd` (the directory itself without a name). */
export function pathAt(dirFd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dirFd}` : `/proc/self/fd/${dirFd}/${name}`;
}

/** A directory held open, and the path it was opened by (for messages). */
export interface OpenDir {
  fd: number;
  path: string;
}

/** Opens a directory for the functions here (following symbolic links in `dir`, once). */
export function openDir(dir: string): OpenDir {
  return { fd: fs.openSync(dir, O_RDONLY | O_DIRECTORY), path: dir };
}

function effectiveUid(): number {
  return process.geteuid?.() ?? -1;
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/**
 * Why other users could change what `dir`'s path leads to, or undefined when they
 * cannot: some directory on its real path belongs to another user (not root), or is
 * writable by every user without the sticky bit (they could rename our entries and put
 * a symbolic link in their place). Members of a directory's group are trusted.
 */
export function untrustedDirReason(dir: string): string | undefined {
  const uid = effectiveUid();
  let current = fs.realpathSync(dir);
  for (;;) {
    const st = fs.statSync(current);
    if (st.uid !== 0 && st.uid !== uid) return `${current} belongs to another user (uid ${st.uid})`;
    if ((st.mode & 0o002) !== 0 && (st.mode & S_ISVTX) === 0) {
      return `${current} is writable by every user and not sticky (chmod +t would fix that)`;
    }
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/** What a removal had to leave, and why. */
export class LeftBehindError extends Error {
  override name = 'LeftBehindError';
  readonly code = 'ERR_DONTCACHE_LEFT_BEHIND';
  constructor(readonly left: string[]) {
    super(`left behind (not ours to remove): ${left.join('; ')}`);
  }
}

/** Tries per name when it keeps changing between lstat and removal (only others' doing). */
const TRIES = 3;

function removeAt(dirFd: number, name: string, dev: number, uid: number, shown: string, left: string[], tries = TRIES): void {
  if (tries === 0) {
    left.push(`${shown} (kept changing)`);
    return;
  }
  const again = () => removeAt(dirFd, name, dev, uid, shown, left, tries - 1);
  const entry = pathAt(dirFd, name);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(entry);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  if (!st.isDirectory()) {
    // unlink(2) never follows a link: it removes the name, whatever the name is now.
    try {
      fs.unlinkSync(entry);
    } catch (error) {
      if (errnoCode(error) === 'EISDIR') return again();
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
    return;
  }
  let fd: number;
  try {
    fd = fs.openSync(entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return;
    // Swapped for a link or a file since lstat: remove that instead, without following it.
    if (code === 'ELOOP' || code === 'ENOTDIR') return again();
    throw error;
  }
  try {
    const own = fs.fstatSync(fd);
    if (own.dev !== dev) {
      left.push(`${shown} (another file system is mounted there)`);
      return;
    }
    if (own.uid !== uid) {
      left.push(`${shown} (owned by uid ${own.uid})`);
      return;
    }
    for (const child of fs.readdirSync(pathAt(fd))) removeAt(fd, child, dev, uid, `${shown}/${child}`, left);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.rmdirSync(entry);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOTEMPTY' || code === 'EEXIST') left.push(`${shown} (not empty)`);
    else if (code !== 'ENOENT') throw error;
  }
}

/**
 * Removes `name` from the open directory `dir`: a file or link is unlinked, a
 * directory emptied depth-first and removed. Directories of other users and mount
 * points are left (and named in the LeftBehindError thrown at the end).
 */
export function removeOwnAt(dir: OpenDir, name: string, shown = path.join(dir.path, name)): void {
  const left: string[] = [];
  removeAt(dir.fd, name, fs.fstatSync(dir.fd).dev, effectiveUid(), shown, left);
  if (left.length > 0) throw new LeftBehindError(left);
}

let moves = 0;

/**
 * Removes the stale leftovers of earlier runs from the open directory `dir`: entries
 * named `prefix...` for which `isStale(name)` holds, that are directories or files (not
 * links) of this user on this file system. Each is renamed into the private directory
 * `into` (on the same file system, 0700) and removed there. Returns the names removed;
 * entries that cannot be moved, or hold something not ours, are left alone.
 */
export function sweepOwnLeftovers(dir: OpenDir, prefix: string, isStale: (name: string) => boolean, into: OpenDir): string[] {
  const uid = effectiveUid();
  const dirFd = dir.fd;
  const intoFd = into.fd;
  const dev = fs.fstatSync(dirFd).dev;
  const removed: string[] = [];
  for (const name of fs.readdirSync(pathAt(dirFd))) {
    if (!name.startsWith(prefix) || !isStale(name)) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(pathAt(dirFd, name));
    } catch {
      continue;
    }
    // Another user's entry (or a link planted under our name) is not ours to touch.
    if (st.uid !== uid || st.dev !== dev || st.isSymbolicLink()) continue;
    const moved = `leftover.${process.pid}.${moves++}`;
    try {
      fs.renameSync(pathAt(dirFd, name), pathAt(intoFd, moved));
    } catch {
      continue;
    }
    // rename(2) moved whatever had the name at that instant: remove it only if it is
    // still what was checked. (Only possible where others may rename our entries.)
    const now = fs.lstatSync(pathAt(intoFd, moved));
    if (now.ino !== st.ino || now.dev !== st.dev) continue;
    try {
      removeOwnAt(into, moved, path.join(dir.path, name));
      removed.push(name);
    } catch (error) {
      if (!(error instanceof LeftBehindError)) throw error;
      // Something in it is not ours (a mount, another user's directory): give the rest
      // of it its name back rather than keep it in the private directory.
      try {
        fs.renameSync(pathAt(intoFd, moved), pathAt(dirFd, name));
      } catch {
        /* the private directory's own removal will name it */
      }
    }
  }
  return removed;
}
