// How much of a file sits in the page cache, and pushing it out again.
import { open, type FileHandle } from 'node:fs/promises';
import { constants as fsConstants, fstatSync } from 'node:fs';
import { cachestat, fadvise, fdatasync, mincoreResidency, syncFileRange } from './io';
import { constants } from './constants';
import { systemError, type SystemError } from './errors';

/** Page counts (or byte counts) of a range; `null` where the method cannot tell. */
export interface PageCounts {
  /** Pages (bytes) in the range, within the file. */
  total: number;
  /** Resident in the page cache. */
  cached: number;
  /** Resident and dirty (not yet written back). */
  dirty: number | null;
  /** Resident and under writeback right now. */
  writeback: number | null;
  /** Not resident, evicted earlier (the kernel still remembers them). */
  evicted: number | null;
  /** Evicted recently enough that a new access would count as a refault. */
  recentlyEvicted: number | null;
}

/** What {@link pageCacheState} found. */
export interface PageCacheState {
  /** cachestat(2) (Linux 6.5+, all fields) or mmap + mincore(2) (only `cached`). */
  method: 'cachestat' | 'mincore';
  pageSize: number;
  /** File size in bytes. */
  size: number;
  /** Start and length in bytes of the range looked at (clipped to the file size). */
  offset: number;
  length: number;
  pages: PageCounts;
  /** The page counts times the page size, at most the range length. */
  bytes: PageCounts;
  /** cached / total pages, 0 for an empty range. */
  residentFraction: number;
}

export interface PageCacheStateOptions {
  /** Start of the range in bytes. Default 0. */
  offset?: number;
  /** Length of the range in bytes; 0 or absent: to the end of the file. */
  length?: number;
  /** 'auto' (default) uses cachestat and falls back to mincore where cachestat is missing (ENOSYS). */
  method?: 'auto' | 'cachestat' | 'mincore';
}

export type PathOrFd = string | Buffer | URL | number;

const EISDIR = 21;
const METHODS = ['auto', 'cachestat', 'mincore'];

function argError(Kind: typeof TypeError | typeof RangeError, code: string, message: string): Error {
  const error = new Kind(message);
  (error as NodeJS.ErrnoException).code = code;
  return error;
}

function checkOffset(name: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number') {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" option must be of type number. Received ${typeof value}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be a non-negative integer. Received ${value}`);
  }
  return value;
}

function checkPathOrFd(pathOrFd: unknown): void {
  const ok = typeof pathOrFd === 'string' || Buffer.isBuffer(pathOrFd) || pathOrFd instanceof URL
    || (typeof pathOrFd === 'number' && Number.isInteger(pathOrFd) && pathOrFd >= 0);
  if (!ok) {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "pathOrFd" argument must be of type string, Buffer, URL or a file descriptor. Received ${typeof pathOrFd}`);
  }
}

/** Runs fn on `pathOrFd`'s fd (opening a path read-only and closing it after); errors get the path. */
async function withFd<T>(pathOrFd: PathOrFd, fn: (fd: number, path?: string) => Promise<T>): Promise<T> {
  checkPathOrFd(pathOrFd);
  if (typeof pathOrFd === 'number') return fn(pathOrFd);
  const path = pathOrFd instanceof URL ? pathOrFd.pathname : pathOrFd.toString();
  // O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files).
  const handle: FileHandle = await open(pathOrFd, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    return await fn(handle.fd, path);
  } catch (error) {
    const e = error as SystemError;
    if (e.syscall && e.path === undefined) {
      // Name the file like Node's fs does: "EINVAL: invalid argument, fdatasync '/x'".
      e.path = path;
      e.message = e.message.replace(`, ${e.syscall}`, `, ${e.syscall} '${path}'`);
    }
    throw error;
  } finally {
    await handle.close();
  }
}

function counts(total: number, found: Omit<PageCounts, 'total'>): PageCounts {
  return { total, ...found };
}

function toBytes(pages: PageCounts, pageSize: number, length: number): PageCounts {
  const b = (n: number | null) => (n === null ? null : Math.min(n * pageSize, length));
  return {
    total: length, cached: b(pages.cached) as number, dirty: b(pages.dirty), writeback: b(pages.writeback),
    evicted: b(pages.evicted), recentlyEvicted: b(pages.recentlyEvicted),
  };
}

async function measure(fd: number, offset: number, length: number, total: number, method: string) {
  if (total === 0) {
    const none = method === 'mincore' ? null : 0;
    return { method: method === 'mincore' ? 'mincore' as const : 'cachestat' as const,
      found: { cached: 0, dirty: none, writeback: none, evicted: none, recentlyEvicted: none } };
  }
  if (method !== 'mincore') {
    try {
      const s = await cachestat(fd, offset, length);
      return { method: 'cachestat' as const,
        found: { cached: s.cache, dirty: s.dirty, writeback: s.writeback, evicted: s.evicted, recentlyEvicted: s.recentlyEvicted } };
    } catch (error) {
      if (method === 'cachestat' || (error as SystemError).code !== 'ENOSYS') throw error;
    }
  }
  const r = await mincoreResidency(fd, offset, length);
  return { method: 'mincore' as const, found: { cached: r.resident, dirty: null, writeback: null, evicted: null, recentlyEvicted: null } };
}

/**
 * How much of a file (or of `[offset, offset+length)`) is in the page cache: pages and
 * bytes cached, dirty, under writeback, evicted and recently evicted, and the resident
 * fraction. Uses cachestat(2); on kernels without it (ENOSYS, before 6.5) mmap +
 * mincore(2), which tells only what is cached (the other fields are null).
 */
export function pageCacheState(pathOrFd: PathOrFd, options: PageCacheStateOptions = {}): Promise<PageCacheState> {
  return withFd(pathOrFd, (fd, path) => stateOf(fd, path, options));
}

async function stateOf(fd: number, path: string | undefined, options: PageCacheStateOptions): Promise<PageCacheState> {
  const offset = checkOffset('offset', options.offset);
  const wanted = checkOffset('length', options.length);
  const method = options.method ?? 'auto';
  if (!METHODS.includes(method)) {
    throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "method" option must be one of ${METHODS.join(', ')}. Received '${String(method)}'`);
  }
  const stat = fstatSync(fd);
  if (stat.isDirectory()) throw systemError(EISDIR, 'cachestat', { path });
  const pageSize = constants.PAGE_SIZE;
  const size = stat.size;
  const start = Math.min(offset, size);
  const end = wanted === 0 ? size : Math.min(offset + wanted, size);
  const length = end - start;
  const total = length === 0 ? 0 : Math.ceil(end / pageSize) - Math.floor(start / pageSize);
  const { method: used, found } = await measure(fd, start, length, total, method);
  const pages = counts(total, found);
  return {
    method: used, pageSize, size, offset: start, length, pages,
    bytes: toBytes(pages, pageSize, length),
    residentFraction: total === 0 ? 0 : found.cached / total,
  };
}

/**
 * Pushes a file out of the page cache the userspace way: waits for writeback of every
 * dirty page (sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER, or fdatasync where that is
 * not available), then POSIX_FADV_DONTNEED. Pages other processes have mapped or lock
 * stay. Resolves with the state afterwards. Not a durability promise (no metadata
 * flush unless fdatasync was the fallback).
 */
export function dropCache(pathOrFd: PathOrFd): Promise<PageCacheState> {
  return withFd(pathOrFd, async (fd, path) => {
    const { SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER, POSIX_FADV_DONTNEED } = constants;
    try {
      await syncFileRange(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    } catch (error) {
      // ESPIPE for file types sync_file_range rejects; ENOSYS where it is missing.
      if (!['ESPIPE', 'EINVAL', 'ENOSYS'].includes((error as SystemError).code)) throw error;
      await fdatasync(fd);
    }
    await fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return stateOf(fd, path, {});
  });
}
