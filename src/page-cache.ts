// How much of a file sits in the page cache, and pushing it out again.
import { open, type FileHandle } from 'node:fs/promises';
import { constants as fsConstants, fstatSync } from 'node:fs';
import { cachestat, cachestatSync, fadvise, fdatasync, mincoreResidency, mincoreResidencySync, syncFileRange } from './io';
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

/** The page size: the page cache holds, and POSIX_FADV_DONTNEED drops, whole pages only. */
export const PAGE_SIZE: number = constants.PAGE_SIZE ?? 4096;
/** `n` rounded down to a page boundary. */
export const pageFloor = (n: number): number => Math.floor(n / PAGE_SIZE) * PAGE_SIZE;
/** `n` rounded up to a page boundary. */
export const pageCeil = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/**
 * The largest page-cache folio (MAX_PAGECACHE_ORDER: the PMD order, at most 11): 2 MiB
 * with 4 KiB pages. Folios are aligned to their size, and POSIX_FADV_DONTNEED drops
 * only folios wholly inside its range, so a range that ends inside a large folio (made
 * by readahead or a big write) leaves that folio, and the next range starting there
 * leaves it too. Ranges widened to this alignment cut no folio.
 */
export const FOLIO_MAX: number = PAGE_SIZE * 2 ** Math.min(11, Math.log2(PAGE_SIZE) - 3);
/** `n` rounded down to a multiple of `align`. */
export const alignDown = (n: number, align: number): number => Math.floor(n / align) * align;
/** `n` rounded up to a multiple of `align`. */
export const alignUp = (n: number, align: number): number => Math.ceil(n / align) * align;

/** A byte range `[start, end)` of a file. */
export type ByteRange = [number, number];

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

/** Pages in page-aligned `ranges`. */
export function pagesIn(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, [start, end]) => sum + (end - start) / PAGE_SIZE, 0);
}

/**
 * `[start, end)` widened to multiples of `align` (whole pages at least), minus `keep`
 * (page-aligned, sorted, disjoint). Widening means an edge page shared with a neighbour's
 * bytes is dropped too: that only costs a later read, whereas a partial page (or a folio
 * cut by the range's end) is never dropped by DONTNEED at all.
 */
export function pagesOutside(start: number, end: number, keep: readonly ByteRange[] = [], align = PAGE_SIZE): ByteRange[] {
  const out: ByteRange[] = [];
  let at = alignDown(start, align);
  const to = alignUp(end, align);
  for (const [from, until] of keep) {
    if (until <= at || from >= to) continue;
    if (from > at) out.push([at, from]);
    at = Math.max(at, until);
  }
  if (at < to) out.push([at, to]);
  return out;
}

/** POSIX_FADV_DONTNEED on `[start, end)` widened to `align` (see {@link pagesOutside}), outside `keep`. */
export async function dropPages(
  fd: number, start: number, end: number, keep: readonly ByteRange[] = [], align = PAGE_SIZE,
): Promise<void> {
  for (const [from, to] of pagesOutside(start, end, keep, align)) await fadvise(fd, from, to - from, constants.POSIX_FADV_DONTNEED);
}

let cachestatMissing = false;

/** Cached pages of a range: cachestat(2), or mmap + mincore(2) before Linux 6.5 (readable fds only). */
function cachedPagesSync(fd: number, offset: number, length: number): number {
  if (!cachestatMissing) {
    try {
      return cachestatSync(fd, offset, length).cache;
    } catch (error) {
      if ((error as SystemError).code !== 'ENOSYS') throw error;
      cachestatMissing = true;
    }
  }
  return mincoreResidencySync(fd, offset, length).resident;
}

/**
 * Which pages of `[start, end)` (page-aligned) are in the page cache right now, as sorted,
 * merged, page-aligned ranges. Bisects with cachestat(2): a wholly cached or wholly
 * uncached range costs one call, a single cached page among n about 2 log2(n). After
 * `budget` calls the ranges still undecided count as cached (keeping a page too many is
 * the safe side). Without cachestat (before Linux 6.5) it asks mincore(2), which needs a
 * readable fd; throws when neither can tell.
 */
export function cachedRangesSync(fd: number, start: number, end: number, budget: number): ByteRange[] {
  const found: ByteRange[] = [];
  let calls = 0;
  const add = (from: number, to: number) => {
    const last = found[found.length - 1];
    if (last && last[1] === from) last[1] = to;
    else found.push([from, to]);
  };
  const visit = (from: number, to: number): void => {
    if (calls++ >= budget) {
      add(from, to);
      return;
    }
    const pages = (to - from) / PAGE_SIZE;
    const cache = cachedPagesSync(fd, from, to - from);
    if (cache === 0) return;
    if (cache >= pages || pages === 1) {
      add(from, to);
      return;
    }
    const middle = from + Math.floor(pages / 2) * PAGE_SIZE;
    visit(from, middle);
    visit(middle, to);
  };
  if (end > start) visit(start, end);
  return found;
}

/** cachestat calls a {@link PriorResidency} may spend per measurement. */
const MEASURE_BUDGET = 64;

/**
 * The pages of one file that were in the page cache before this stream wrote (or read)
 * them: someone else's, so the stream leaves them cached, as the kernel does with
 * RWF_DONTCACHE ("pages already cached stay cached"). Measured with
 * {@link cachedRangesSync} just before the stream's first I/O into each region (`region`
 * bytes ahead at a time, widened to {@link FOLIO_MAX} like the drops), only below `limit`
 * (the file size at open: nobody else's pages lie beyond it).
 */
export class PriorResidency {
  /** false when the measurement failed (no cachestat, and mincore cannot map the fd). */
  known = true;
  private measuredTo = 0;
  private kept: ByteRange[] = [];

  constructor(
    private readonly fd: number,
    private readonly limit: number,
    private readonly region: number,
  ) {}

  /** Measures the part of `[start, end)` not measured yet, up to `region` bytes ahead. */
  measure(start: number, end: number, budget = MEASURE_BUDGET): void {
    const limit = pageCeil(this.limit);
    const from = Math.max(alignDown(start, FOLIO_MAX), this.measuredTo);
    if (!this.known || from >= Math.min(alignUp(end, FOLIO_MAX), limit)) return;
    const to = Math.min(limit, Math.max(alignUp(end, FOLIO_MAX), from + this.region));
    try {
      for (const range of cachedRangesSync(this.fd, from, to, budget)) this.keep(range);
    } catch {
      this.known = false;
      this.kept = [];
    }
    this.measuredTo = to;
  }

  /** The kept ranges within `[start, end)` widened to `align`. */
  keptWithin(start: number, end: number, align = FOLIO_MAX): ByteRange[] {
    const from = alignDown(start, align);
    const to = alignUp(end, align);
    return this.kept.filter(([a, b]) => b > from && a < to).map(([a, b]): ByteRange => [Math.max(a, from), Math.min(b, to)]);
  }

  /** Forgets kept ranges wholly below `offset` widened down (settled, never touched again by a sequential stream). */
  forgetBelow(offset: number): void {
    const below = alignDown(offset, FOLIO_MAX);
    this.kept = this.kept.filter(([, end]) => end > below);
  }

  private keep([from, to]: ByteRange): void {
    const last = this.kept[this.kept.length - 1];
    if (last && last[1] >= from) last[1] = Math.max(last[1], to);
    else this.kept.push([from, to]);
  }
}
