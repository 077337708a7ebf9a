/**
 * The userspace "behind the writer" writeback window (see shared notes, "The userspace
 * way"): plain buffered writes, and after each finished window
 * `sync_file_range(SYNC_FILE_RANGE_WRITE)` on it; for the window before it
 * `sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER)` and then `POSIX_FADV_DONTNEED` on
 * exactly that range, whose writeback is then complete. Works on any file system with
 * a page cache, also those that refuse RWF_DONTCACHE (btrfs).
 */
import { constants } from './constants';
import { fadvise, syncFileRange } from './io';

/** Default window: 8 MiB, the size the classic recipe uses. */
export const DEFAULT_WINDOW_SIZE = 8 * 1024 * 1024;

const PAGE = constants.PAGE_SIZE;
const { SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER, POSIX_FADV_DONTNEED } = constants;
const WAIT_AND_WRITE = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;

// Errors that only say "this file cannot do sync_file_range/fadvise" (a pipe, an odd
// file system): the window is advice, so it just stops. Anything else (EIO, ENOSPC)
// is a real writeback failure and is reported to the writer.
const ADVISORY_ONLY = new Set(['ESPIPE', 'EINVAL', 'ENOSYS', 'ENOTSUP']);

/**
 * Waits until `[start, end)` is written back, then drops it from the page cache.
 * DONTNEED skips partial pages, so the range is widened to whole pages: a shared edge
 * page may be dropped too, which only costs a later read.
 */
export async function settleRange(fd: number, start: number, end: number): Promise<void> {
  if (end <= start) return;
  await syncFileRange(fd, start, end - start, WAIT_AND_WRITE);
  const from = Math.floor(start / PAGE) * PAGE;
  const to = Math.ceil(end / PAGE) * PAGE;
  await fadvise(fd, from, to - from, POSIX_FADV_DONTNEED);
}

/** How a window treats finished ranges. */
export interface WindowMode {
  /**
   * true (the 'writeback' strategy): start writeback of each finished window and drop
   * the one before once written back. false (RWF_DONTCACHE writes, which start their
   * own writeback and drop their own pages): only wait for the window before, which
   * bounds the pages under writeback when the disk is slower than the writer.
   */
  drop: boolean;
}

/**
 * Follows a sequential writer and keeps at most about `(maxLag + 2) * windowSize`
 * bytes of its file dirty or under writeback. Runs one syscall at a time (at most one
 * libuv threadpool thread). The writer calls {@link written} after each write and
 * {@link ready} before the next one, which holds it back while the window lags.
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
  private readyWaiters: Array<(error: Error | null) => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly fd: number,
    readonly windowSize: number = DEFAULT_WINDOW_SIZE,
    readonly mode: WindowMode = { drop: true },
    private readonly maxLag = 1,
  ) {}

  /** Notes that `[offset, offset + length)` was written (and is dirty in the page cache). */
  written(offset: number, length: number): void {
    if (length <= 0 || this.stopped) return;
    if (offset !== this.fillEnd) {
      // Not where the last write ended (a seek): close the window being filled.
      if (this.fillEnd > this.fillStart && this.fillStart >= 0) this.complete(this.fillStart, this.fillEnd);
      this.fillStart = offset;
    }
    this.fillEnd = offset + length;
    for (;;) {
      const boundary = (Math.floor(this.fillStart / this.windowSize) + 1) * this.windowSize;
      if (this.fillEnd < boundary) break;
      this.complete(this.fillStart, boundary);
      this.fillStart = boundary;
    }
  }

  /** Calls `cb` (maybe synchronously) once the writer may write on: the window keeps up. */
  ready(cb: (error: Error | null) => void): void {
    if (this.error || this.stopped || this.backlog() <= this.maxLag) cb(this.error);
    else this.readyWaiters.push(cb);
  }

  /** Stops queueing work; `cb` runs once no sync_file_range/fadvise is in flight. */
  stop(cb: () => void): void {
    this.stopped = true;
    this.queue.length = 0;
    this.releaseReady();
    if (this.running) this.idleWaiters.push(cb);
    else process.nextTick(cb);
  }

  private backlog(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  private complete(start: number, end: number): void {
    this.queue.push([start, end]);
    this.pump();
  }

  private pump(): void {
    if (this.running) return;
    const next = this.stopped || this.error ? undefined : this.queue.shift();
    if (!next) {
      this.idleWaiters.splice(0).forEach((cb) => cb());
      return;
    }
    this.running = true;
    this.process(next).then(
      () => this.afterStep(null),
      (error: Error & { code?: string }) => this.afterStep(ADVISORY_ONLY.has(error.code ?? '') ? 'advisory' : error),
    );
  }

  private async process([start, end]: [number, number]): Promise<void> {
    if (this.mode.drop) await syncFileRange(this.fd, start, end - start, SYNC_FILE_RANGE_WRITE);
    const previous = this.previous;
    this.previous = [start, end];
    if (!previous) return;
    if (this.mode.drop) await settleRange(this.fd, previous[0], previous[1]);
    else await syncFileRange(this.fd, previous[0], previous[1] - previous[0], WAIT_AND_WRITE);
  }

  private afterStep(outcome: Error | 'advisory' | null): void {
    this.running = false;
    if (outcome === 'advisory') {
      this.stopped = true;
      this.queue.length = 0;
    } else if (outcome) {
      this.error = outcome;
    }
    if (this.error || this.stopped || this.backlog() <= this.maxLag) this.releaseReady();
    this.pump();
  }

  private releaseReady(): void {
    this.readyWaiters.splice(0).forEach((cb) => cb(this.error));
  }
}
