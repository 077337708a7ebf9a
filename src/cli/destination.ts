// The file a transfer writes: opened without losing anything by mistake (no clobber
// race, never the source itself), finished (mode, times, fsync) or, after a failure,
// left as the prefix written so far or removed.
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { settleRange } from '../page-ranges';

const { O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = fs.constants;
const open = promisify(fs.open);
const fstat = promisify(fs.fstat);
const ftruncate = promisify(fs.ftruncate);
const close = promisify(fs.close);

export interface Destination {
  path: string;
  fd: number;
  /** This transfer created the file (it did not exist). */
  created: boolean;
  append: boolean;
  /** Size before the transfer wrote anything (after truncation: 0, unless appending). */
  startSize: number;
  regular: boolean;
  /** The file system's preferred I/O block (st_blksize). */
  blksize: number;
}

export interface OpenDestinationOptions {
  /** Fail with EEXIST when the file exists (O_EXCL: no window between check and create). */
  noClobber: boolean;
  /** Write at the end (O_APPEND) instead of truncating. */
  append: boolean;
  /** Mode of a new file (the umask applies), like cp: the source's permission bits. */
  mode: number;
  /** The source: refuse to write into it (truncating it would destroy it). */
  source?: { stats: fs.Stats; name: string };
}

/** An error for a transfer that would read and write the same file. */
function sameFileError(source: string, dest: string): Error {
  return Object.assign(new Error(`'${source}' and '${dest}' are the same file`), { code: 'ERR_SAME_FILE' });
}

/**
 * Opens (or creates) `file` for writing. An existing file is truncated only after it is
 * open and known not to be the source, so `cp a a` or `write f < f` destroys nothing.
 */
export async function openDestination(file: string, options: OpenDestinationOptions): Promise<Destination> {
  const append = options.append ? O_APPEND : 0;
  let fd = -1;
  let created = false;
  // Create exclusively, else open the existing file; if it vanishes in between, again.
  for (let attempt = 0; fd < 0; attempt++) {
    try {
      fd = await open(file, O_WRONLY | O_CREAT | O_EXCL | append, options.mode);
      created = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || options.noClobber) throw error;
      try {
        fd = await open(file, O_WRONLY | append);
      } catch (again) {
        if ((again as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw again;
      }
    }
  }
  try {
    const stats = await fstat(fd);
    const src = options.source?.stats;
    if (src && stats.dev === src.dev && stats.ino === src.ino) throw sameFileError(options.source!.name, file);
    const regular = stats.isFile();
    if (regular && !options.append && stats.size > 0) await ftruncate(fd, 0);
    return { path: file, fd, created, append: options.append, startSize: options.append ? stats.size : 0, regular, blksize: stats.blksize };
  } catch (error) {
    await close(fd);
    throw error;
  }
}

/** Mode and timestamps to copy onto the destination (`--preserve`). */
export interface Preserved {
  mode: number;
  atimeNs: bigint;
  mtimeNs: bigint;
}

export function preservedOf(stats: fs.BigIntStats): Preserved {
  return { mode: Number(stats.mode) & 0o7777, atimeNs: stats.atimeNs, mtimeNs: stats.mtimeNs };
}

// fs.futimes takes seconds as a double: about 0.24 us resolution for today's dates.
const seconds = (ns: bigint) => Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;

async function fsyncDirectory(dir: string): Promise<void> {
  const fd = await open(dir, fs.constants.O_RDONLY);
  try {
    await promisify(fs.fsync)(fd);
  } finally {
    await close(fd);
  }
}

/**
 * After the last byte: mode and times (after the writes, which move mtime), then with
 * `fsync` the file's data and metadata, and the directory entry of a new file.
 */
export async function finishDestination(dest: Destination, options: { preserve?: Preserved; fsync: boolean }): Promise<void> {
  if (options.preserve) {
    await promisify(fs.fchmod)(dest.fd, options.preserve.mode);
    await promisify(fs.futimes)(dest.fd, seconds(options.preserve.atimeNs), seconds(options.preserve.mtimeNs));
  }
  if (options.fsync) {
    await promisify(fs.fsync)(dest.fd);
    if (dest.created) await fsyncDirectory(path.dirname(path.resolve(dest.path)));
  }
}

/** What a failed transfer did to the destination. */
export type Leftover = { kind: 'prefix'; bytes: number; appended: boolean } | { kind: 'removed' } | { kind: 'restored'; size: number };

/**
 * After a failure or an interrupt, with `written` bytes of the transfer in the file:
 * `remove` deletes a file this command wrote from the start (or cuts an appended file
 * back to its old size); otherwise the prefix stays, pushed out of the page cache like
 * the rest of the transfer would have been.
 */
export async function abandonDestination(dest: Destination, written: number, remove: boolean): Promise<Leftover> {
  if (remove && dest.append && dest.regular) {
    await ftruncate(dest.fd, dest.startSize);
    return { kind: 'restored', size: dest.startSize };
  }
  if (remove && !dest.append) {
    // Only if the name still points at the file written (not one put there meanwhile).
    const [now, ours] = await Promise.all([fs.promises.stat(dest.path).catch(() => null), fstat(dest.fd)]);
    if (now && now.dev === ours.dev && now.ino === ours.ino) {
      await fs.promises.unlink(dest.path);
      return { kind: 'removed' };
    }
  }
  if (dest.regular && written > 0) await settleRange(dest.fd, dest.startSize, dest.startSize + written).catch(() => undefined);
  return { kind: 'prefix', bytes: written, appended: dest.append };
}

export function closeDestination(dest: Destination): Promise<void> {
  return close(dest.fd);
}
