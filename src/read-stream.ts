/**
 * DontcacheReadStream: a drop-in for `fs.createReadStream` that reads with
 * preadv2(RWF_DONTCACHE), so reading a file that was not cached leaves it not cached.
 * Where the flag is refused it reads plainly and drops what its reads brought in
 * (POSIX_FADV_DONTNEED behind the reader).
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { cachestatSync, fadvise, preadv2Callback } from './io';
import { constants } from './constants';
import { systemError } from './errors';
import {
  CACHE_OPTIONS, FALLBACK_OPTIONS, RWF_DONTCACHE, autoStrategy, booleanOption, choiceOption, closeFile,
  fallbackStrategy, fileOption, integerOption, lookUpFileSystemHint, mayRetryWithoutDontcache, openStreamFile, optionsArgument,
  outOfRange, pathArgument, type CacheOption, type CacheStrategy, type FallbackEvent, type FallbackOption,
} from './stream-options';

/** Default `highWaterMark` of the read stream: 64 KiB, as fs.ReadStream. */
export const DEFAULT_READ_HIGH_WATER_MARK = 64 * 1024;

// Ranges read plainly are dropped in batches of this size: POSIX_FADV_DONTNEED drains
// per-CPU LRU caches system-wide, too costly to do per 64 KiB read.
const DROP_BATCH = 8 * 1024 * 1024;
const PAGE = constants.PAGE_SIZE;

export interface DontcacheReadStreamOptions {
  /** open(2) flags (default 'r'); ignored when `fd` is given. */
  flags?: string | number;
  mode?: number;
  /** First byte to read (default: 0, or the current position of a given `fd`). */
  start?: number;
  /** Last byte to read, inclusive (default: the end of the file). */
  end?: number;
  highWaterMark?: number;
  fd?: number | FileHandle;
  autoClose?: boolean;
  emitClose?: boolean;
  signal?: AbortSignal;
  encoding?: BufferEncoding;
  /**
   * 'dontcache' (preadv2 with RWF_DONTCACHE), 'writeback' (the userspace way for
   * reads: plain reads, then POSIX_FADV_DONTNEED on what they brought in), 'buffered',
   * or 'auto' (default).
   */
  cache?: CacheOption;
  /** What to do when RWF_DONTCACHE is refused (default 'writeback'). */
  fallback?: FallbackOption;
}

export interface ReadStreamStats {
  bytes: number;
  syscalls: number;
  strategy: CacheStrategy | 'pending';
  fallbacks: number;
}

const kIoDone = Symbol('kIoDone');

/**
 * A Readable over a file read with preadv2. Options, events ('open', 'ready', 'close',
 * 'end', 'error', plus 'fallback') and properties (`bytesRead`, `path`, `pending`) as
 * fs.ReadStream.
 */
export class DontcacheReadStream extends Readable {
  fd: number | null = null;
  readonly path: string | undefined;
  readonly flags: string | number;
  readonly mode: number;
  readonly start: number | undefined;
  readonly end: number;
  readonly autoClose: boolean;
  readonly cache: CacheOption;
  readonly fallback: FallbackOption;
  /** Bytes read so far. */
  bytesRead = 0;

  private readonly handle: FileHandle | undefined;
  private strategy: CacheStrategy | 'pending' = 'pending';
  private pos = -1;
  private offset = 0;
  private performingIO = false;
  private readonly counts = { syscalls: 0, fallbacks: 0 };
  // Plain reads: whether pages found cached must be kept (the file was partly cached
  // at open), and the range read since the last drop.
  private keepCached = false;
  private dropStart = -1;
  private dropEnd = -1;
  private dropping: Promise<void> | null = null;

  constructor(path: string | Buffer | URL | undefined, options?: DontcacheReadStreamOptions | BufferEncoding) {
    // Validate everything before super(), which schedules _construct.
    const o = readSettings(path, options);
    super({
      highWaterMark: o.highWaterMark,
      encoding: o.encoding,
      emitClose: o.emitClose,
      autoDestroy: o.autoClose,
      signal: o.signal,
    });
    this.path = o.path;
    this.handle = o.given?.handle;
    if (o.given) this.fd = o.given.fd;
    this.flags = o.flags;
    this.mode = o.mode;
    this.start = o.start;
    this.end = o.end;
    this.autoClose = o.autoClose;
    this.cache = o.cache;
    this.fallback = o.fallback;
  }

  get pending(): boolean {
    return this.fd === null;
  }

  get stats(): ReadStreamStats {
    return { bytes: this.bytesRead, ...this.counts, strategy: this.strategy };
  }

  override _construct(callback: (error?: Error | null) => void): void {
    openStreamFile(this, (fd, given, cb) => this.prepare(fd, given, cb), callback);
  }

  private prepare(fd: number, given: boolean, callback: (error?: Error | null) => void): void {
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
    preadv2Callback(this.fd as number, buffer, this.pos, flags, (error, bytes) => {
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
      this.push(bytes === buffer.length ? buffer : buffer.subarray(0, bytes));
    });
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

  private closeDescriptor(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.autoClose || this.fd === null) {
      callback(error);
      return;
    }
    closeFile(this.fd, this.handle, (closeError) => {
      this.fd = null;
      callback(error || closeError);
    });
  }

  /** Page-cache state of the whole file (cachestat(2), in pages). */
  cacheState() {
    if (this.fd === null) throw systemError(9, 'cachestat', { path: this.path });
    return cachestatSync(this.fd, 0, 0);
  }

  /** Destroys the stream and calls `cb` on 'close' (fs.ReadStream#close). */
  close(cb?: (error?: Error | null) => void): void {
    if (typeof cb === 'function') this.once('close', cb);
    this.destroy();
  }
}

/** Checks every option (Node's error codes) and fills in the defaults. */
function readSettings(path: string | Buffer | URL | undefined, options: DontcacheReadStreamOptions | BufferEncoding | undefined) {
  const opts = optionsArgument<DontcacheReadStreamOptions>(options);
  const given = fileOption(opts.fd);
  const start = integerOption('options.start', opts.start, 0);
  const end = opts.end === undefined || opts.end === Infinity ? Infinity : (integerOption('options.end', opts.end, 0) as number);
  if (start !== undefined && start > end) throw outOfRange('start', `<= "end" (here: ${end})`, start);
  return {
    given,
    path: pathArgument(path, given),
    highWaterMark: integerOption('options.highWaterMark', opts.highWaterMark, 1, DEFAULT_READ_HIGH_WATER_MARK),
    encoding: opts.encoding,
    emitClose: booleanOption('options.emitClose', opts.emitClose, true),
    autoClose: booleanOption('options.autoClose', opts.autoClose, true),
    signal: opts.signal,
    flags: opts.flags ?? 'r',
    mode: integerOption('options.mode', opts.mode, 0, 0o666),
    start,
    end,
    cache: choiceOption('options.cache', opts.cache, CACHE_OPTIONS, 'auto'),
    fallback: choiceOption('options.fallback', opts.fallback, FALLBACK_OPTIONS, 'writeback'),
  };
}

/** Like `fs.createReadStream(path, options)`, reading with preadv2(RWF_DONTCACHE). */
export function createDontcacheReadStream(
  path: string | Buffer | URL | undefined,
  options?: DontcacheReadStreamOptions | BufferEncoding,
): DontcacheReadStream {
  return new DontcacheReadStream(path, options);
}
