/**
 * DontcacheReadStream: a drop-in for `fs.createReadStream` that reads with
 * preadv2(RWF_DONTCACHE), so reading a file that was not cached leaves it not cached.
 * Where the flag is refused it reads plainly and drops what its reads brought in
 * (POSIX_FADV_DONTNEED behind the reader).
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable, finished } from 'node:stream';
import { cachestatSync, fadvise, preadv2Callback } from './io';
import { constants } from './constants';
import { systemError } from './errors';
import {
  CACHE_OPTIONS, FALLBACK_OPTIONS, RWF_DONTCACHE, autoStrategy, choiceOption, copyOptions,
  fallbackStrategy, lookUpFileSystemHint, mayRetryWithoutDontcache,
  outOfRange, validateInteger, type CacheOption, type CacheStrategy, type FallbackEvent, type FallbackOption,
} from './stream-options';
import {
  HandleLease, addLegacyOpen, checkThis, closeFile, nodeStyleConstructor, openFile, readThrough, resolveFile,
  type ReadStreamFsImplementation, type StreamFile,
} from './stream-file';

/** Default `highWaterMark` of the read stream: 64 KiB, as fs.ReadStream. */
export const DEFAULT_READ_HIGH_WATER_MARK = 64 * 1024;

// Ranges read plainly are dropped in batches of this size: POSIX_FADV_DONTNEED drains
// per-CPU LRU caches system-wide, too costly to do per 64 KiB read.
const DROP_BATCH = 8 * 1024 * 1024;
const PAGE = constants.PAGE_SIZE;

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
   * 'dontcache' (preadv2 with RWF_DONTCACHE), 'writeback' (the userspace way for
   * reads: plain reads, then POSIX_FADV_DONTNEED on what they brought in), 'buffered',
   * or 'auto' (default).
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

const kIoDone = Symbol('kIoDone');

/** The first `bytes` of `buffer` in a buffer of their own (not a pool slice). */
function copyOf(buffer: Buffer, bytes: number): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes);
  buffer.copy(copy, 0, 0, bytes);
  return copy;
}

type PathArgument = string | Buffer | URL | undefined | null;

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
  // Plain reads: whether pages found cached must be kept (the file was partly cached
  // at open), and the range read since the last drop.
  private keepCached!: boolean;
  private dropStart!: number;
  private dropEnd!: number;
  private dropping!: Promise<void> | null;

  declare readonly _readableState: { autoDestroy: boolean };

  private constructor() {
    super();
    throw new TypeError('use DontcacheReadStream() or createDontcacheReadStream()');
  }

  get pending(): boolean {
    return this.fd === null;
  }

  /** Whether the stream destroys itself (closing the file) after 'end' or an error. */
  get autoClose(): boolean {
    checkThis(this, 'ReadStream');
    return this._readableState.autoDestroy;
  }

  set autoClose(value: boolean) {
    checkThis(this, 'ReadStream');
    this._readableState.autoDestroy = value;
  }

  get stats(): ReadStreamStats {
    return { bytes: this.bytesRead, ...this.counts, strategy: this.strategy };
  }

  override _construct(callback: (error?: Error | null) => void): void {
    openFile(this, this.file, (fd, given, cb) => this.prepare(fd, given, cb), callback);
  }

  private prepare(fd: number, given: boolean, callback: (error?: Error | null) => void): void {
    if (this.file.customIo) {
      // Reads go through options.fs (its descriptor may not be a kernel one).
      this.pos = this.start ?? -1;
      this.strategy = 'buffered';
      callback();
      return;
    }
    fs.fstat(fd, (error, stat) => {
      if (error) {
        callback(error);
        return;
      }
      this.pos = this.start ?? (given || !stat.isFile() ? -1 : 0);
      this.offset = this.pos === -1 ? 0 : this.pos;
      if (!stat.isFile()) {
        this.strategy = 'buffered';
        callback();
        return;
      }
      const decide = (strategy: CacheStrategy) => {
        this.useStrategy(strategy);
        callback();
      };
      if (this.cache !== 'auto') decide(this.cache);
      else lookUpFileSystemHint(fd, (hint) => decide(autoStrategy(hint, this.fallback)));
    });
  }

  private useStrategy(strategy: CacheStrategy): void {
    this.strategy = strategy;
    if (strategy === 'writeback' && this.fd !== null) {
      // Pages cached before this stream belong to someone else: keep them, if any.
      try {
        this.keepCached = cachestatSync(this.fd, this.offset, 0).cache > 0;
      } catch {
        this.keepCached = true;
      }
    }
  }

  override _read(size: number): void {
    const remaining = this.end - (this.pos === -1 ? this.offset : this.pos) + 1;
    const want = Math.min(size, remaining);
    if (want <= 0) {
      void this.flushDrops();
      this.push(null);
      return;
    }
    this.performingIO = true;
    this.readInto(Buffer.allocUnsafeSlow(want), this.strategy === 'dontcache' ? RWF_DONTCACHE : 0);
  }

  private readInto(buffer: Buffer, flags: number): void {
    const offset = this.offset;
    const wasCached = this.strategy === 'writeback' && this.keepCached && this.rangeCached(offset, buffer.length);
    this.reader(this.fd as number, buffer, this.pos, flags, (error, bytes) => {
      this.counts.syscalls++;
      if (this.destroyed) {
        this.performingIO = false;
        this.emit(kIoDone, error);
        return;
      }
      if (error && mayRetryWithoutDontcache(error, flags, this.fallback)) {
        this.switchStrategy(error, offset);
        this.readInto(buffer, flags & ~RWF_DONTCACHE);
        return;
      }
      this.performingIO = false;
      if (error) {
        this.destroy(error);
        return;
      }
      if (bytes === 0) {
        void this.flushDrops();
        this.push(null);
        return;
      }
      this.bytesRead += bytes;
      this.offset += bytes;
      if (this.pos !== -1) this.pos += bytes;
      if (this.strategy === 'writeback' && !wasCached) this.dropBehind(offset, bytes);
      // A short read is copied (as fs.ReadStream does) so that it does not keep the
      // whole read buffer alive.
      this.push(bytes === buffer.length ? buffer : copyOf(buffer, bytes));
    });
  }

  // preadv2, or options.fs's read (which takes no flags).
  private reader(fd: number, buffer: Buffer, position: number, flags: number, cb: Parameters<typeof preadv2Callback>[4]): void {
    if (this.file.customIo) readThrough(this.file, fd, buffer, position, cb as Parameters<typeof readThrough>[4]);
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

  private rangeCached(offset: number, length: number): boolean {
    try {
      return cachestatSync(this.fd as number, offset, length).cache > 0;
    } catch {
      return true;
    }
  }

  /** Queues `[offset, offset + bytes)` for DONTNEED; drops a batch once it is large. */
  private dropBehind(offset: number, bytes: number): void {
    if (offset !== this.dropEnd) {
      this.flushDrops();
      this.dropStart = offset;
    }
    this.dropEnd = offset + bytes;
    if (this.dropEnd - this.dropStart >= DROP_BATCH && !this.dropping) this.flushDrops();
  }

  // At most one fadvise in flight (one threadpool thread besides the read).
  private flushDrops(): Promise<void> {
    const [start, end] = [this.dropStart, this.dropEnd];
    this.dropStart = this.dropEnd = -1;
    if (start < 0 || end <= start || this.fd === null) return this.dropping ?? Promise.resolve();
    // Whole pages only: DONTNEED ignores partial ones; the last one may be shared.
    const from = Math.floor(start / PAGE) * PAGE;
    const to = Math.ceil(end / PAGE) * PAGE;
    const fd = this.fd;
    const previous = this.dropping ?? Promise.resolve();
    const current = previous
      .then(() => fadvise(fd, from, to - from, constants.POSIX_FADV_DONTNEED))
      .catch(() => undefined)
      .finally(() => {
        if (this.dropping === current) this.dropping = null;
      });
    this.dropping = current;
    return current;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const close = () => {
      this.flushDrops().then(() => this.closeDescriptor(error, callback));
    };
    // A read in flight still uses the fd: close only after it completes.
    if (this.performingIO) this.once(kIoDone, close);
    else close();
  }

  // As fs.ReadStream: a destroyed stream closes its file, also with autoClose false.
  private closeDescriptor(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.fd === null) {
      callback(error);
      return;
    }
    closeFile(this.fd, this.file, this.lease, (closeError) => {
      this.fd = null;
      callback(error || closeError);
    });
  }

  /** Page-cache state of the whole file (cachestat(2), in pages). */
  cacheState() {
    if (this.fd === null) throw systemError(9, 'cachestat', { path: this.path?.toString() });
    return cachestatSync(this.fd, 0, 0);
  }

  /** Destroys the stream and calls `cb` on 'close' (fs.ReadStream#close). */
  close(cb?: (error?: Error | null) => void): void {
    if (typeof cb === 'function') finished(this, cb);
    this.destroy();
  }
}

/**
 * Sets up a stream on `self` as fs.ReadStream does: Node's checks and error codes in
 * Node's order, then ours; then Readable with every option as given.
 */
function initReadStream(self: any, path: PathArgument, options: DontcacheReadStreamOptions | BufferEncoding | null | undefined): void {
  const opts = copyOptions<DontcacheReadStreamOptions>(options);
  if (opts.highWaterMark === undefined) opts.highWaterMark = DEFAULT_READ_HIGH_WATER_MARK;
  const file = resolveFile('read', path, opts);
  const start = opts.start === undefined ? undefined : validateInteger(opts.start, 'start', 0);
  let end = Infinity;
  if (opts.end !== undefined && opts.end !== Infinity) {
    end = validateInteger(opts.end, 'end', 0);
    if (start !== undefined && start > end) throw outOfRange('start', `<= "end" (here: ${end})`, start);
  }
  self.cache = choiceOption('options.cache', opts.cache, CACHE_OPTIONS, 'auto');
  self.fallback = choiceOption('options.fallback', opts.fallback, FALLBACK_OPTIONS, 'writeback');
  self.file = file;
  self.fd = file.fd;
  if (file.path !== undefined) {
    self.path = file.path;
    self.flags = file.flags;
    self.mode = file.mode;
  }
  self.start = start;
  self.end = end;
  self.bytesRead = 0;
  self.strategy = 'pending';
  self.pos = -1;
  self.offset = 0;
  self.performingIO = false;
  self.counts = { syscalls: 0, fallbacks: 0 };
  self.keepCached = false;
  self.dropStart = -1;
  self.dropEnd = -1;
  self.dropping = null;
  opts.autoDestroy = file.autoDestroy;
  Reflect.apply(Readable, self, [opts]);
  if (file.handle) self.lease = new HandleLease(file.handle, () => self.close());
}

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * A read stream (see {@link DontcacheReadStreamBase}), with typed events as @types/node
 * types fs.ReadStream's, plus 'fallback'.
 */
export interface DontcacheReadStream extends DontcacheReadStreamBase {
  addListener(event: 'close' | 'end' | 'pause' | 'readable' | 'ready' | 'resume', listener: Listener<[]>): this;
  addListener(event: 'data', listener: Listener<[chunk: Buffer | string]>): this;
  addListener(event: 'error', listener: Listener<[error: Error]>): this;
  addListener(event: 'open', listener: Listener<[fd: number]>): this;
  addListener(event: 'fallback', listener: Listener<[event: FallbackEvent]>): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  on(event: 'close' | 'end' | 'pause' | 'readable' | 'ready' | 'resume', listener: Listener<[]>): this;
  on(event: 'data', listener: Listener<[chunk: Buffer | string]>): this;
  on(event: 'error', listener: Listener<[error: Error]>): this;
  on(event: 'open', listener: Listener<[fd: number]>): this;
  on(event: 'fallback', listener: Listener<[event: FallbackEvent]>): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'close' | 'end' | 'pause' | 'readable' | 'ready' | 'resume', listener: Listener<[]>): this;
  once(event: 'data', listener: Listener<[chunk: Buffer | string]>): this;
  once(event: 'error', listener: Listener<[error: Error]>): this;
  once(event: 'open', listener: Listener<[fd: number]>): this;
  once(event: 'fallback', listener: Listener<[event: FallbackEvent]>): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  prependListener(event: 'close' | 'end' | 'pause' | 'readable' | 'ready' | 'resume', listener: Listener<[]>): this;
  prependListener(event: 'data', listener: Listener<[chunk: Buffer | string]>): this;
  prependListener(event: 'error', listener: Listener<[error: Error]>): this;
  prependListener(event: 'open', listener: Listener<[fd: number]>): this;
  prependListener(event: 'fallback', listener: Listener<[event: FallbackEvent]>): this;
  prependListener(event: string | symbol, listener: (...args: any[]) => void): this;
  prependOnceListener(event: 'close' | 'end' | 'pause' | 'readable' | 'ready' | 'resume', listener: Listener<[]>): this;
  prependOnceListener(event: 'data', listener: Listener<[chunk: Buffer | string]>): this;
  prependOnceListener(event: 'error', listener: Listener<[error: Error]>): this;
  prependOnceListener(event: 'open', listener: Listener<[fd: number]>): this;
  prependOnceListener(event: 'fallback', listener: Listener<[event: FallbackEvent]>): this;
  prependOnceListener(event: string | symbol, listener: (...args: any[]) => void): this;
}

export interface DontcacheReadStreamConstructor {
  new (path: PathArgument, options?: DontcacheReadStreamOptions | BufferEncoding | null): DontcacheReadStream;
  (path: PathArgument, options?: DontcacheReadStreamOptions | BufferEncoding | null): DontcacheReadStream;
  readonly prototype: DontcacheReadStream;
}

/**
 * The read stream class: `new DontcacheReadStream(path, options)`, also callable
 * without `new` and subclassable old-style, as fs.ReadStream.
 */
addLegacyOpen(DontcacheReadStreamBase.prototype, 'ReadStream');

export const DontcacheReadStream = nodeStyleConstructor(
  'DontcacheReadStream', Readable, DontcacheReadStreamBase, initReadStream,
) as DontcacheReadStreamConstructor;

/** Like `fs.createReadStream(path, options)`, reading with preadv2(RWF_DONTCACHE). */
export function createDontcacheReadStream(
  path: PathArgument,
  options?: DontcacheReadStreamOptions | BufferEncoding | null,
): DontcacheReadStream {
  return new DontcacheReadStream(path, options);
}
