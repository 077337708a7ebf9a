// How much of a file sits in the page cache (pageCacheState), and pushing all of it out
// again (dropCache): the public helpers. Page rounding and the drop rules: page-ranges.ts.
import { open, type FileHandle } from 'node:fs/promises';
import { accessSync, constants as fsConstants, fstatSync } from 'node:fs';
import { cachestat, fadvise, fdatasync, mincoreResidency, syncFileRange } from './io';
import { constants } from './constants';
import { systemError, type SystemError } from './errors';
import { WAIT_AND_WRITE, isAdvisoryOnly } from './page-ranges';
import { choiceOption, validateByteCount, validateInteger, validatePath } from './validate';

/**
 * A size, offset or length in bytes: a number up to `Number.MAX_SAFE_INTEGER`, a
 * bigint above it (files reach 2^63 - 1 bytes; XFS and tmpfs hold such sparse files).
 */
export type ByteCount = number | bigint;

/** The fields both kinds of counts have. */
type CountFields<T> = {
  /** Pages (bytes) in the range, within the file. */
  total: T;
  /** Resident in the page cache. */
  cached: T;
  /** Resident and dirty (not yet written back). */
  dirty: T | null;
  /** Resident and under writeback right now. */
  writeback: T | null;
  /** Not resident, evicted earlier (the kernel still remembers them). */
  evicted: T | null;
  /** Evicted recently enough that a new access would count as a refault. */
  recentlyEvicted: T | null;
};

/**
 * Page counts of a range; `null` where the method cannot tell. Always numbers: a file
 * of 2^63 bytes has 2^51 pages of 4 KiB.
 */
export type PageCounts = CountFields<number>;

/** The same counts in bytes (page counts times the page size, at most the range length). */
export type ByteCounts = CountFields<ByteCount>;

/** Counts when the residency cannot be known: only the total. */
export interface UnknownCounts<T> {
  total: T;
  cached: null;
  dirty: null;
  writeback: null;
  evicted: null;
  recentlyEvicted: null;
}

interface PageCacheStateBase {
  /** cachestat(2) (Linux 6.5+, all fields) or mmap + mincore(2) (only `cached`): what was used or refused. */
  method: 'cachestat' | 'mincore';
  pageSize: number;
  /** File size in bytes. */
  size: ByteCount;
  /** Start and length in bytes of the range looked at (clipped to the file size). */
  offset: ByteCount;
  length: ByteCount;
}

/** The residency of the range, as the kernel told it. */
export interface KnownPageCacheState extends PageCacheStateBase {
  status: 'known';
  pages: PageCounts;
  bytes: ByteCounts;
  /** cached / total pages, 0 for an empty range. */
  residentFraction: number;
}

/**
 * The kernel would not tell: cachestat(2) refuses (EPERM), and mincore(2) claims every
 * page resident, for callers that could not write the file (neither its owner, nor
 * root, nor allowed to write it; a read-only mount counts too). The sizes are right.
 */
export interface UnknownPageCacheState extends PageCacheStateBase {
  status: 'unknown';
  /** Why, in a sentence. */
  reason: string;
  /**
   * 'EPERM': the caller may only read the file. 'ERANGE': mincore(2) was the only way
   * and the range is larger than {@link MINCORE_MAX_BYTES} (ask for a smaller range),
   * or ends within a page of 2^63 bytes, where mmap(2) cannot reach.
   */
  code: 'EPERM' | 'ERANGE';
  pages: UnknownCounts<number>;
  bytes: UnknownCounts<ByteCount>;
  residentFraction: null;
}

/** What {@link pageCacheState} found: check `status` before using the counts. */
export type PageCacheState = KnownPageCacheState | UnknownPageCacheState;

export interface PageCacheStateOptions {
  /** Start of the range in bytes (a safe integer or a bigint). Default 0. */
  offset?: ByteCount;
  /** Length of the range in bytes; 0 or absent: to the end of the file. */
  length?: ByteCount;
  /** 'auto' (default) uses cachestat and falls back to mincore where cachestat is missing (ENOSYS). */
  method?: 'auto' | 'cachestat' | 'mincore';
}

export type PathOrFd = string | Buffer | URL | number;

const EISDIR = 21;
const METHODS = ['auto', 'cachestat', 'mincore'] as const;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A number when it is exact as one, else the bigint. */
export function byteCount(value: bigint): ByteCount {
  return value <= MAX_SAFE ? Number(value) : value;
}

/** Runs fn on `pathOrFd`'s fd (opening a path read-only and closing it after); errors get the path. */
async function withFd<T>(pathOrFd: PathOrFd, fn: (fd: number, path?: string) => Promise<T>): Promise<T> {
  if (typeof pathOrFd === 'number') return fn(validateInteger(pathOrFd, 'pathOrFd', 0, 2 ** 31 - 1));
  const file = validatePath(pathOrFd, 'pathOrFd', 'of type string or number or an instance of Buffer or URL');
  const path = file.toString();
  // O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files).
  const handle: FileHandle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
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

/**
 * Whether the kernel counts the caller as someone who could write the file, the rule
 * of mincore(2) (since Linux 5.2) and cachestat(2): its owner, a holder of CAP_FOWNER
 * (root), or allowed to write it (not on a read-only mount). Others get EPERM from
 * cachestat and "every page resident" from mincore. access(2) through /proc/self/fd
 * checks the open file itself, whatever its path now is.
 */
function couldWrite(fd: number, owner: bigint): boolean {
  const euid = process.geteuid?.();
  if (euid === 0 || (euid !== undefined && BigInt(euid) === owner)) return true;
  try {
    accessSync(`/proc/self/fd/${fd}`, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The largest range mincore(2) is asked about (4 TiB): it maps and walks every page,
 * about 2 s per TiB even when the file is sparse, where cachestat(2) takes microseconds.
 */
export const MINCORE_MAX_BYTES = 2 ** 42;

type Found = Omit<PageCounts, 'total'>;
type Measured = { method: 'cachestat' | 'mincore'; found: Found } | { method: 'cachestat' | 'mincore'; unknown: string; code: 'EPERM' | 'ERANGE' };

const NOT_A_WRITER = 'the kernel tells page cache residency only to callers that could write the file (its owner, root, or with write permission)';

async function measure(fd: number, offset: bigint, length: bigint, total: number, method: string, owner: bigint): Promise<Measured> {
  if (total === 0) {
    const none = method === 'mincore' ? null : 0;
    return { method: method === 'mincore' ? 'mincore' : 'cachestat',
      found: { cached: 0, dirty: none, writeback: none, evicted: none, recentlyEvicted: none } };
  }
  if (method !== 'mincore') {
    try {
      const s = await cachestat(fd, offset, length);
      return { method: 'cachestat',
        found: { cached: s.cached, dirty: s.dirty, writeback: s.writeback, evicted: s.evicted, recentlyEvicted: s.recentlyEvicted } };
    } catch (error) {
      const code = (error as SystemError).code;
      if (code === 'EPERM') return { method: 'cachestat', unknown: `${NOT_A_WRITER}; cachestat(2) refused (EPERM)`, code };
      if (method === 'cachestat' || code !== 'ENOSYS') throw error;
    }
  }
  // mincore does not refuse: it answers "resident" for every page. Ask first.
  if (!couldWrite(fd, owner)) return { method: 'mincore', unknown: `${NOT_A_WRITER}; mincore(2) would claim every page resident`, code: 'EPERM' };
  if (length > BigInt(MINCORE_MAX_BYTES)) {
    return { method: 'mincore', code: 'ERANGE',
      unknown: `mincore(2) walks every page: ranges above ${MINCORE_MAX_BYTES / 2 ** 40} TiB take too long; ask for a smaller offset/length (cachestat, Linux 6.5+, has no such limit)` };
  }
  try {
    const r = await mincoreResidency(fd, offset, length);
    return { method: 'mincore', found: { cached: r.resident, dirty: null, writeback: null, evicted: null, recentlyEvicted: null } };
  } catch (error) {
    if ((error as SystemError).code !== 'EOVERFLOW') throw error;
    // mmap(2) maps whole pages below 2^63: the last page of a file that large is out of reach.
    return { method: 'mincore', code: 'ERANGE', unknown: 'mmap(2), which mincore(2) needs, cannot map a range ending this close to 2^63 bytes (EOVERFLOW)' };
  }
}

function toBytes(pages: PageCounts, pageSize: number, length: bigint): ByteCounts {
  const b = (n: number | null) => (n === null ? null : byteCount(BigInt(n) * BigInt(pageSize) < length ? BigInt(n) * BigInt(pageSize) : length));
  return {
    total: byteCount(length), cached: b(pages.cached) as ByteCount, dirty: b(pages.dirty), writeback: b(pages.writeback),
    evicted: b(pages.evicted), recentlyEvicted: b(pages.recentlyEvicted),
  };
}

/**
 * How much of a file (or of `[offset, offset+length)`) is in the page cache: pages and
 * bytes cached, dirty, under writeback, evicted and recently evicted, and the resident
 * fraction. Uses cachestat(2); on kernels without it (ENOSYS, before 6.5) mmap +
 * mincore(2), which tells only what is cached (the other fields are null).
 *
 * For a caller that may only read the file the kernel tells nothing true (see
 * {@link UnknownPageCacheState}): the state then has `status: 'unknown'` and a
 * `reason`. Sizes above `Number.MAX_SAFE_INTEGER` are bigints ({@link ByteCount}).
 */
export function pageCacheState(pathOrFd: PathOrFd, options: PageCacheStateOptions = {}): Promise<PageCacheState> {
  return withFd(pathOrFd, (fd, path) => stateOf(fd, path, options));
}

async function stateOf(fd: number, path: string | undefined, options: PageCacheStateOptions): Promise<PageCacheState> {
  const offset = options.offset === undefined ? 0n : validateByteCount(options.offset, 'options.offset');
  const wanted = options.length === undefined ? 0n : validateByteCount(options.length, 'options.length');
  const method = choiceOption('options.method', options.method, METHODS, 'auto');
  // bigint: a size above 2^53 is not exact as a number.
  const stat = fstatSync(fd, { bigint: true });
  if (stat.isDirectory()) throw systemError(EISDIR, 'cachestat', { path });
  const pageSize = constants.PAGE_SIZE;
  const page = BigInt(pageSize);
  const size = stat.size;
  const start = offset < size ? offset : size;
  const end = wanted === 0n || offset + wanted > size ? size : offset + wanted;
  const length = end - start;
  const total = length === 0n ? 0 : Number((end + page - 1n) / page - start / page);
  const measured = await measure(fd, start, length, total, method, stat.uid);
  const base = { method: measured.method, pageSize, size: byteCount(size), offset: byteCount(start), length: byteCount(length) };
  if ('unknown' in measured) {
    const none = { cached: null, dirty: null, writeback: null, evicted: null, recentlyEvicted: null };
    return { status: 'unknown', reason: measured.unknown, code: measured.code, ...base,
      pages: { total, ...none }, bytes: { total: byteCount(length), ...none }, residentFraction: null };
  }
  const pages: PageCounts = { total, ...measured.found };
  return {
    status: 'known', ...base, pages,
    bytes: toBytes(pages, pageSize, length),
    residentFraction: total === 0 ? 0 : measured.found.cached / total,
  };
}
/**
 * Pushes a file out of the page cache the userspace way: waits for writeback of every
 * dirty page (sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER, or fdatasync where that is
 * not available), then POSIX_FADV_DONTNEED. Pages other processes have mapped or lock
 * stay. Resolves with the state afterwards. Not a durability promise (no metadata
 * flush unless fdatasync was the fallback).
 *
 * A caller that may only read the file can drop it too (the kernel allows DONTNEED to
 * readers); the state it resolves with is then `status: 'unknown'`.
 */
export function dropCache(pathOrFd: PathOrFd): Promise<PageCacheState> {
  return withFd(pathOrFd, async (fd, path) => {
    try {
      await syncFileRange(fd, 0, 0, WAIT_AND_WRITE);
    } catch (error) {
      if (!isAdvisoryOnly(error)) throw error;
      await fdatasync(fd);
    }
    await fadvise(fd, 0, 0, constants.POSIX_FADV_DONTNEED);
    return stateOf(fd, path, {});
  });
}
