/**
 * The pages of a file that were in the page cache before a stream wrote (or read) them:
 * someone else's, which the stream leaves cached, as the kernel does with RWF_DONTCACHE.
 */
import { cachestatSync, mincoreResidencySync } from './io';
import type { SystemError } from './errors';
import { FOLIO_MAX, PAGE_SIZE, alignDown, alignUp, pageCeil, type ByteRange } from './page-ranges';

let cachestatMissing = false;

/** Cached pages of a range: cachestat(2), or mmap + mincore(2) before Linux 6.5 (readable fds only). */
function cachedPagesSync(fd: number, offset: number, length: number): number {
  if (!cachestatMissing) {
    try {
      return cachestatSync(fd, offset, length).cached;
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
