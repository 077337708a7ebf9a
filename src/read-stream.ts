/**
 * DontcacheReadStream: a drop-in for `fs.createReadStream` that reads with
 * preadv2(RWF_DONTCACHE), so reading a file that was not cached leaves it not cached.
 * Where the flag is refused it reads plainly and drops what its reads brought in
 * (POSIX_FADV_DONTNEED behind the reader).
 */
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable, finished } from 'node:stream';
import { preadv2Callback, type CacheStat, type IoCallback } from './io';
import { constants } from './constants';
import { descriptorState } from './fd-position';
import { FOLIO_MAX, alignDown, dropPages } from './page-ranges';
import { PriorResidency } from './prior-residency';
import { copyOptions, type CacheOption, type CacheStrategy, type FallbackEvent, type FallbackOption } from './stream-options';
import { fallbackStrategy, ioFlags, mayRetryWithoutDontcache } from './cache-policy';
import { readThrough, type HandleLease, type ReadStreamFsImplementation, type StreamFile } from './stream-file';
import {
  closeDescriptor, constructFileStream, destroyAfterIo, fileCacheState, fileOptions, fileStreamClass, initStreamFields, kIoDone, leaseHandle,
  type FileStreamConstructor, type StreamCallback, type StreamPath, type WithTypedEvents,
} from './stream-lifecycle';
import { outOfRange, validateInteger } from './validate';
import { readBuffersOf } from './buffer-pool';

/** Default `highWaterMark` of the read stream: 64 KiB, as fs.ReadStream. */
export const DEFAULT_READ_HIGH_WATER_MARK = 64 * 1024;

// Ranges read plainly are dropped in batches of this size: POSIX_FADV_DONTNEED drains
// per-CPU LRU caches system-wide, too costly to do per 64 KiB read.
const DROP_BATCH = 8 * 1024 * 1024;
// Readahead runs ahead of the reader (read_ahead_kb: 128 KiB to a few MiB, 8 MiB seen on
// virtio): a stream that stops before the end of the file also drops that much after its
// last byte, of what was not cached when it started.
const READAHEAD_TAIL = 16 * 1024 * 1024;
// cachestat calls the snapshot of what was cached at the start may spend (bisection).
const SNAPSHOT_BUDGET = 1024;

export interface DontcacheReadStreamOptions {
  /** open(2) flags (default 'r'); ignored when `fd` is given. */
  flags?: string | number | null;
  mode?: number | string | null;
  /** First byte to read (default: 0, or the current position of a given `fd`). */
  start?: number;
  /** Last byte to read, inclusive (default: the end of the file). */
  end?: number;
  highWaterMark?: number | null;
  /** An open file (descriptor or FileHandle); a FileHandle stays open while the stream uses it. */
  fd?: number | FileHandle | null;
  /** Destroy the stream (and close the file) after 'end' or an error (default true). */
  autoClose?: boolean | null;
  emitClose?: boolean | null;
  signal?: AbortSignal;
  encoding?: BufferEncoding | null;
  /**
   * Functions used instead of node:fs's (open, read, close), as in fs.createReadStream.
   * Reads through a custom read cannot carry RWF flags: such a stream is 'buffered'.
   */
  fs?: ReadStreamFsImplementation | null;
  /**
   * 'dontcache' (preadv2 with RWF_DONTCACHE), 'writeback' (the userspace way: plain
   * reads, then POSIX_FADV_DONTNEED on what they brought in; see CacheStrategy),
   * 'buffered', or 'auto' (default).
   */
  cache?: CacheOption | null;
  /** What to do when RWF_DONTCACHE is refused (default 'writeback'). */
  fallback?: FallbackOption | null;
}

export interface ReadStreamStats {
  bytes: number;
  syscalls: number;
  strategy: CacheStrategy | 'pending';
  fallbacks: number;
}

/** The first `bytes` of `buffer` in a buffer of their own (not a pool slice). */
function copyOf(buffer: Buffer, bytes: number): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes);
  buffer.copy(copy, 0, 0, bytes);
  return copy;
}

/**
 * A Readable over a file read with preadv2. Options, events ('open', 'ready', 'close',
 * 'end', 'error', plus 'fallback') and properties (`bytesRead`, `path`, `pending`) as
 * fs.ReadStream. Instances come from {@link DontcacheReadStream} (with or without
 * `new`) or {@link createDontcacheReadStream}; this class only holds the methods.
 */
export class DontcacheReadStreamBase extends Readable {
  fd!: number | null;
  /** The path as given (a file: URL as its path; a Buffer stays a Buffer); undefined with `fd`. */
  path!: string | Buffer | undefined;
  flags!: unknown;
  mode!: unknown;
  start!: number | undefined;
  end!: number;
  readonly cache!: CacheOption;
  readonly fallback!: FallbackOption;
  /** Bytes read so far. */
  bytesRead!: number;

  private file!: StreamFile;
  private lease: HandleLease | undefined;
  private strategy!: CacheStrategy | 'pending';
  private pos!: number;
  private offset!: number;
  private performingIO!: boolean;
  private counts!: { syscalls: number; fallbacks: number };
  // Plain reads: the pages cached before the stream started (kept), the file size at
  // open, and the range read since the last drop.
  private prior!: PriorResidency | null;
  private sizeAtOpen!: number;
  private dropStart!: number;
  private dropEnd!: number;
  private dropping!: Promise<void> | null;

  private constructor() {
    super();
    throw new TypeError('use DontcacheReadStream() or createDontcacheReadStream()');
  }

  /** True until the file is open. */
  declare readonly pending: boolean;
  /** Whether the stream destroys itself (closing the file) after 'end' or an error. */
  declare autoClose: boolean;

  get stats(): ReadStreamStats {
    return { bytes: this.bytesRead, ...this.counts, strategy: this.strategy };
  }

  override _construct(callback: StreamCallback): void {
    constructFileStream(this, (fd, given, stat) => this.place(fd, given, stat), (strategy) => this.useStrategy(strategy), callback);
  }

  /** Where reads start: `start`, else the start of a file this stream opened, else the descriptor's position. */
  private place(fd: number, given: boolean, stat: Stats): void {
    this.pos = this.start ?? (given || !stat.isFile() ? -1 : 0);
    this.offset = this.pos !== -1 ? this.pos : given ? descriptorState(fd).pos : 0;
    this.sizeAtOpen = stat.size;
  }

  private useStrategy(strategy: CacheStrategy): void {
    this.strategy = strategy;
    if (strategy === 'writeback' && this.fd !== null && !this.prior) {
      // Pages cached before this stream's first plain read belong to someone else: note
      // which (also those just past its range, where its readahead may reach), keep them.
      const last = Math.min(this.end + 1, this.sizeAtOpen);
      this.prior = new PriorResidency(this.fd, this.sizeAtOpen, 0);
      this.prior.measure(this.offset, last + READAHEAD_TAIL, SNAPSHOT_BUDGET);
    }
  }

  override _read(size: number): void {
    const remaining = this.end - (this.pos === -1 ? this.offset : this.pos) + 1;
    const want = Math.min(size, remaining);
    if (want <= 0) {
      this.endOfRange();
      return;
    }
    this.performingIO = true;
    const pool = readBuffersOf.get(this);
    this.readInto(pool ? pool.take(want) : Buffer.allocUnsafeSlow(want), ioFlags(this.strategy));
  }

  private readInto(buffer: Buffer, flags: number): void {
    const offset = this.offset;
    this.reader(this.fd as number, buffer, this.pos, flags, (error, bytes) => {
      this.counts.syscalls++;
      if (this.destroyed) {
        this.performingIO = false;
        this.emit(kIoDone, error);
        return;
      }
      if (error && mayRetryWithoutDontcache(error, flags, this.fallback)) {
        this.switchStrategy(error, offset);
        this.readInto(buffer, flags & ~constants.RWF_DONTCACHE);
        return;
      }
      this.performingIO = false;
      if (error) {
        this.destroy(error);
        return;
      }
      if (bytes === 0) {
        this.endOfRange();
        return;
      }
      this.bytesRead += bytes;
      this.offset += bytes;
      if (this.pos !== -1) this.pos += bytes;
      if (this.strategy === 'writeback') this.dropBehind(offset, bytes);
      // A short read is copied (as fs.ReadStream does) so that it does not keep the
      // whole read buffer alive; a pool's buffer goes back whole anyway.
      if (bytes === buffer.length) this.push(buffer);
      else this.push(readBuffersOf.has(this) ? buffer.subarray(0, bytes) : copyOf(buffer, bytes));
    });
  }

  // preadv2, or options.fs's read (which takes no flags).
  private reader(fd: number, buffer: Buffer, position: number, flags: number, cb: IoCallback): void {
    if (this.file.customIo) readThrough(this.file, fd, buffer, position, cb);
    else preadv2Callback(fd, buffer, position, flags, cb);
  }

  // A read refused RWF_DONTCACHE: reads move no byte before the flag check, so the same
  // read is simply repeated without it. A failure of that repeat is reported as usual.
  private switchStrategy(reason: Error, position: number): void {
    const to = fallbackStrategy(this.fallback);
    this.counts.fallbacks++;
    this.useStrategy(to);
    const event: FallbackEvent = { from: 'dontcache', to, reason, position };
    this.emit('fallback', event);
  }

  /** The range is read: drop the rest, with what readahead fetched past it, and end. */
  private endOfRange(): void {
    if (this.strategy === 'writeback' && this.prior) {
      const tailEnd = Math.min(this.sizeAtOpen, this.offset + READAHEAD_TAIL);
      if (tailEnd > this.offset) this.dropBehind(this.offset, tailEnd - this.offset);
    }
    void this.flushDrops();
    this.push(null);
  }

  /** Queues `[offset, offset + bytes)` for DONTNEED; drops a batch once it is large. */
  private dropBehind(offset: number, bytes: number): void {
    if (offset !== this.dropEnd) {
      this.flushDrops();
      this.dropStart = offset;
    }
    this.dropEnd = offset + bytes;
    if (this.dropEnd - this.dropStart >= DROP_BATCH && !this.dropping) this.flushDrops(false);
  }

  /**
   * Drops the queued range, all of it (`all`, at the end) or up to the last FOLIO_MAX
   * boundary: readahead makes large folios, DONTNEED drops only folios wholly inside
   * its range, and the folio the reader is in also holds pages it has not read yet.
   * At most one fadvise in flight (one threadpool thread besides the read).
   */
  private flushDrops(all = true): Promise<void> {
    const start = this.dropStart;
    const end = all ? this.dropEnd : alignDown(this.dropEnd, FOLIO_MAX);
    if (end < this.dropEnd) this.dropStart = end;
    else this.dropStart = this.dropEnd = -1;
    // Pages cached before the stream started stay: all of them when that is unknown (no
    // cachestat and no mincore), or seems so (a user who may only read the file gets
    // EPERM from cachestat and "every page resident" from mincore).
    const unknown = this.prior?.known === false;
    if (start < 0 || end <= start || this.fd === null || unknown) return this.dropping ?? Promise.resolve();
    const fd = this.fd;
    const keep = this.prior?.keptWithin(start, end) ?? [];
    const previous = this.dropping ?? Promise.resolve();
    const current = previous
      .then(() => dropPages(fd, start, end, keep, FOLIO_MAX))
      .catch(() => undefined)
      .finally(() => {
        if (this.dropping === current) this.dropping = null;
      });
    this.dropping = current;
    return current;
  }

  override _destroy(error: Error | null, callback: StreamCallback): void {
    destroyAfterIo(this, this.performingIO, () => {
      void this.flushDrops().then(() => closeDescriptor(this, this.file, this.lease, error, callback));
    });
  }

  /** Page-cache state of the whole file (cachestat(2), in pages). Throws EBADF when not open. */
  cacheState(): CacheStat {
    return fileCacheState(this);
  }

  /** Destroys the stream and calls `cb` on 'close' (fs.ReadStream#close). */
  close(cb?: StreamCallback): void {
    if (typeof cb === 'function') finished(this, cb);
    this.destroy();
  }
}

/**
 * Sets up a stream on `self` as fs.ReadStream does: Node's checks and error codes in
 * Node's order, then ours; then Readable with every option as given.
 */
function initReadStream(self: any, path: StreamPath, options: DontcacheReadStreamOptions | BufferEncoding | null | undefined): void {
  const opts = copyOptions<DontcacheReadStreamOptions>(options);
  if (opts.highWaterMark === undefined) opts.highWaterMark = DEFAULT_READ_HIGH_WATER_MARK;
  const { file, start } = fileOptions('read', path, opts);
  let end = Infinity;
  if (opts.end !== undefined && opts.end !== Infinity) {
    end = validateInteger(opts.end, 'end', 0);
    if (start !== undefined && start > end) throw outOfRange('start', `<= "end" (here: ${end})`, start);
  }
  initStreamFields(self, file, start, opts);
  self.end = end;
  self.bytesRead = 0;
  self.counts = { syscalls: 0, fallbacks: 0 };
  self.prior = null;
  self.dropStart = -1;
  self.dropEnd = -1;
  self.dropping = null;
  opts.autoDestroy = file.autoDestroy;
  Reflect.apply(Readable, self, [opts]);
  leaseHandle(self);
}

/** The events of a read stream and their listeners' arguments: fs.ReadStream's, plus 'fallback'. */
export interface ReadStreamEvents {
  close: []; end: []; pause: []; readable: []; ready: []; resume: [];
  data: [chunk: Buffer | string]; error: [error: Error]; open: [fd: number]; fallback: [event: FallbackEvent];
}

/** A read stream (see {@link DontcacheReadStreamBase}), with its events typed ({@link ReadStreamEvents}). */
export interface DontcacheReadStream extends WithTypedEvents<DontcacheReadStreamBase, ReadStreamEvents, DontcacheReadStream> {}

export type DontcacheReadStreamConstructor = FileStreamConstructor<DontcacheReadStream, DontcacheReadStreamOptions>;

/**
 * The read stream class: `new DontcacheReadStream(path, options)`, also callable
 * without `new` and subclassable old-style, as fs.ReadStream.
 */
export const DontcacheReadStream = fileStreamClass(
  'DontcacheReadStream', 'ReadStream', Readable, DontcacheReadStreamBase, initReadStream,
) as DontcacheReadStreamConstructor;

/** Like `fs.createReadStream(path, options)`, reading with preadv2(RWF_DONTCACHE). */
export function createDontcacheReadStream(path: StreamPath, options?: DontcacheReadStreamOptions | BufferEncoding | null): DontcacheReadStream {
  return new DontcacheReadStream(path, options);
}
