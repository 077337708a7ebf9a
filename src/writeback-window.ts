/**
 * The userspace "behind the writer" writeback window (see shared notes, "The userspace
 * way"): plain buffered writes, and after each finished window
 * `sync_file_range(SYNC_FILE_RANGE_WRITE)` on it; for the window before it
 * `sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER)` and then `POSIX_FADV_DONTNEED` on
 * exactly that range, whose writeback is then complete. Works on any file system with
 * a page cache, also those that refuse RWF_DONTCACHE (btrfs).
 *
 * Behind RWF_DONTCACHE writes the same window only waits, and then drops what the kernel
 * left cached: up to at least Linux 7.2 the kernel skips its drop when writeback
 * completes in interrupt context (ext4 overwriting allocated blocks), so such pages stay
 * cached, clean, although the flag was accepted. A cachestat(2) of the finished window
 * tells; where the kernel did drop (new files, appends, XFS) nothing more is done.
 *
 * Pages that were cached before the writer wrote them (someone else's, see
 * {@link PriorResidency}) are never dropped, as the kernel keeps them with RWF_DONTCACHE.
 */
import { constants } from './constants';
import { cachestat, syncFileRange } from './io';
import { PAGE_SIZE, WAIT_AND_WRITE, dropPages, isAdvisoryOnly, pageCeil, pageFloor, pagesIn, type ByteRange } from './page-ranges';
import type { PriorResidency } from './prior-residency';

/** Default window: 8 MiB, the size the classic recipe uses. */
export const DEFAULT_WINDOW_SIZE = 8 * 1024 * 1024;

// A failed step that only says "this file takes no such advice" (see isAdvisoryOnly)
// stops the window: it is advice. Anything else (EIO, ENOSPC) is a real writeback
// failure and is reported to the writer.

/** How a window treats finished ranges. */
export interface WindowMode {
  /**
   * true (the 'writeback' strategy): start writeback of each finished window and drop
   * the one before once written back. false (RWF_DONTCACHE writes, which start their
   * own writeback and should drop their own pages): only wait for the window before,
   * which bounds the pages under writeback when the disk is slower than the writer,
   * then drop what the kernel left cached of it.
   */
  drop: boolean;
}

/** Further settings of a {@link WritebackWindow}. */
export interface WindowOptions {
  /** Windows the settling may lag behind the writer (default 1): the bound is `(maxLag + 2) * windowSize`. */
  maxLag?: number;
  /** What was cached before the writer got there, never dropped; default: nothing is kept. */
  prior?: PriorResidency | null;
  /**
   * Drops are widened to this alignment (default: whole pages). A positioned writer
   * passes FOLIO_MAX so that no large folio is cut between two windows; an appender
   * keeps the page default, since its neighbours' bytes are someone else's and the
   * folios of its own writes lie within the pages it wrote.
   */
  align?: number;
}

type Step = () => Promise<void>;

/**
 * Follows a sequential writer and keeps at most `(maxLag + 2) * windowSize` bytes of what
 * it wrote unsettled (dirty, under writeback or still cached), as long as its writes are
 * smaller than a window. Runs one syscall at a time (at most one libuv threadpool
 * thread). The writer calls {@link beforeWrite} before each positioned write,
 * {@link written} after each write with where its bytes landed, and {@link ready} before
 * the next one, which holds it back while that would pass the bound.
 */
export class WritebackWindow {
  /** A writeback failure (EIO, ENOSPC...) seen by sync_file_range; writes fail with it. */
  error: Error | null = null;
  private fillStart = -1;
  private fillEnd = -1;
  private previous: [number, number] | null = null;
  private readonly queue: Array<[number, number]> = [];
  private running = false;
  private stopped = false;
  private finishing = false;
  // Bytes written and not yet settled (written back and dropped, or found dropped).
  private unsettled = 0;
  private readyWaiters: Array<[(error: Error | null) => void, number]> = [];
  private idleWaiters: Array<() => void> = [];
  private finishWaiters: Array<(error: Error | null) => void> = [];

  private readonly maxLag: number;
  private readonly prior: PriorResidency | null;
  private readonly align: number;

  constructor(
    private readonly fd: number,
    readonly windowSize: number = DEFAULT_WINDOW_SIZE,
    readonly mode: WindowMode = { drop: true },
    options: WindowOptions = {},
  ) {
    this.maxLag = options.maxLag ?? 1;
    this.prior = options.prior ?? null;
    this.align = options.align ?? PAGE_SIZE;
  }

  /** Call before writing `[offset, offset + length)`: notes which of its pages someone else has cached. */
  beforeWrite(offset: number, length: number): void {
    if (length > 0 && !this.stopped) this.prior?.measure(offset, offset + length);
  }

  /** Notes that `[offset, offset + length)` was written (and is dirty in the page cache). */
  written(offset: number, length: number): void {
    if (length <= 0 || this.stopped) return;
    if (offset !== this.fillEnd) {
      // Not where the last write ended (a seek, or another appender's bytes in between):
      // close the window being filled.
      this.closeFill();
      this.fillStart = offset;
    }
    this.fillEnd = offset + length;
    this.unsettled += length;
    for (;;) {
      const boundary = (Math.floor(this.fillStart / this.windowSize) + 1) * this.windowSize;
      if (this.fillEnd < boundary) break;
      this.complete(this.fillStart, boundary);
      this.fillStart = boundary;
    }
  }

  /** Calls `cb` (maybe synchronously) once the writer may write `bytes` more: the window keeps up. */
  ready(cb: (error: Error | null) => void, bytes = 0): void {
    if (this.mayWrite(bytes)) cb(this.error);
    else this.readyWaiters.push([cb, bytes]);
  }

  private mayWrite(bytes: number): boolean {
    if (this.error || this.stopped) return true;
    // Idle: waiting would settle nothing more (the last window waits for the next one).
    if (!this.running && this.queue.length === 0) return true;
    return this.unsettled + bytes <= (this.maxLag + 2) * this.windowSize;
  }

  /**
   * The writer is done: settles everything written (the window being filled, the queue
   * and the last window), then calls `cb` with the window's error, if any.
   */
  finish(cb: (error: Error | null) => void): void {
    this.closeFill();
    this.finishing = true;
    this.finishWaiters.push(cb);
    this.pump();
  }

  /** Stops queueing work; `cb` runs once no sync_file_range/fadvise is in flight. */
  stop(cb: () => void): void {
    this.stopped = true;
    this.queue.length = 0;
    this.releaseReady();
    if (this.running) this.idleWaiters.push(cb);
    else process.nextTick(cb);
  }

  private closeFill(): void {
    if (this.fillStart >= 0 && this.fillEnd > this.fillStart) this.complete(this.fillStart, this.fillEnd);
    this.fillStart = this.fillEnd = -1;
  }

  private complete(start: number, end: number): void {
    this.queue.push([start, end]);
    this.pump();
  }

  private nextStep(): Step | undefined {
    if (this.stopped || this.error) return undefined;
    const next = this.queue.shift();
    if (next) return () => this.process(next);
    const last = this.previous;
    if (this.finishing && last) {
      this.previous = null;
      return () => this.settle(last);
    }
    return undefined;
  }

  private pump(): void {
    if (this.running) return;
    const step = this.nextStep();
    if (!step) {
      this.idleWaiters.splice(0).forEach((cb) => cb());
      if (this.finishing) this.finishWaiters.splice(0).forEach((cb) => cb(this.error));
      return;
    }
    this.running = true;
    step().then(
      () => this.afterStep(null),
      (error: Error) => this.afterStep(isAdvisoryOnly(error) ? 'advisory' : error),
    );
  }

  private async process([start, end]: [number, number]): Promise<void> {
    if (this.mode.drop) await syncFileRange(this.fd, start, end - start, constants.SYNC_FILE_RANGE_WRITE);
    const previous = this.previous;
    this.previous = [start, end];
    if (previous) await this.settle(previous);
  }

  /** Waits for the writeback of a finished window, then drops its pages that are the writer's. */
  private async settle([start, end]: [number, number]): Promise<void> {
    await syncFileRange(this.fd, start, end - start, WAIT_AND_WRITE);
    const keep = this.kept(start, end, this.align);
    if (this.mode.drop || (await this.leftCached(start, end))) await dropPages(this.fd, start, end, keep, this.align);
    this.prior?.forgetBelow(end);
    this.unsettled -= end - start;
  }

  /** Whether the kernel left pages of a written-back window cached, beyond the kept ones. */
  private async leftCached(start: number, end: number): Promise<boolean> {
    const from = pageFloor(start);
    try {
      return (await cachestat(this.fd, from, pageCeil(end) - from)).cached > pagesIn(this.kept(start, end, PAGE_SIZE));
    } catch {
      return true;
    }
  }

  private kept(start: number, end: number, align: number): ByteRange[] {
    return this.prior?.known ? this.prior.keptWithin(start, end, align) : [];
  }

  private afterStep(outcome: Error | 'advisory' | null): void {
    this.running = false;
    if (outcome === 'advisory') {
      this.stopped = true;
      this.queue.length = 0;
    } else if (outcome) {
      this.error = outcome;
    }
    this.pump();
    this.releaseReady();
  }

  private releaseReady(): void {
    while (this.readyWaiters.length > 0 && this.mayWrite(this.readyWaiters[0][1])) {
      const [cb] = this.readyWaiters.shift() as [(error: Error | null) => void, number];
      cb(this.error);
    }
  }
}
