/**
 * Byte ranges of a file in whole pages, and pushing them out of the page cache: the one
 * home of the page size, folio alignment and the POSIX_FADV_DONTNEED rules that the
 * streams, the writeback window, dropCache and the CLI follow.
 */
import { constants } from './constants';
import { fadvise, syncFileRange } from './io';

/** The page size: the page cache holds, and POSIX_FADV_DONTNEED drops, whole pages only. */
export const PAGE_SIZE: number = constants.PAGE_SIZE;
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

/** sync_file_range flags that start writeback of a range and wait until all of it is written back. */
export const WAIT_AND_WRITE: number =
  constants.SYNC_FILE_RANGE_WAIT_BEFORE | constants.SYNC_FILE_RANGE_WRITE | constants.SYNC_FILE_RANGE_WAIT_AFTER;

/**
 * Waits until `[start, end)` is written back, then drops its whole pages from the page
 * cache (widened to `align`), except `keep`. A shared edge page may be dropped too, which
 * only costs a later read.
 */
export async function settleRange(
  fd: number, start: number, end: number, keep: readonly ByteRange[] = [], align = PAGE_SIZE,
): Promise<void> {
  if (end <= start) return;
  await syncFileRange(fd, start, end - start, WAIT_AND_WRITE);
  await dropPages(fd, start, end, keep, align);
}

// Errors that only say "this file cannot do sync_file_range/fadvise": ESPIPE for a pipe
// or other file types sync_file_range rejects, EINVAL for odd file systems, ENOSYS where
// the call is missing, ENOTSUP where the file system refuses it.
const ADVISORY_ONLY = new Set(['ESPIPE', 'EINVAL', 'ENOSYS', 'ENOTSUP']);

/**
 * Whether a failed sync_file_range/fadvise only means that this file takes no such
 * advice (the caller then goes without it), rather than a real writeback failure
 * (EIO, ENOSPC), which must be reported.
 */
export function isAdvisoryOnly(error: unknown): boolean {
  return ADVISORY_ONLY.has((error as { code?: string } | null)?.code ?? '');
}
