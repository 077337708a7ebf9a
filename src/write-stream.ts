/**
 * DontcacheWriteStream: a drop-in for `fs.createWriteStream` that writes with
 * pwritev2(2) and keeps the page cache clean (RWF_DONTCACHE, or a userspace writeback
 * window where the file system refuses the flag). Modelled on Node's
 * lib/internal/fs/streams.js WriteStream: same options, events and close rules.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { cachestatSync, fdatasync, pwritev2Callback, type CacheStat } from './io';
import { LatencyHistogram, type LatencySummary } from './latency';
import {
  CACHE_OPTIONS, FALLBACK_OPTIONS, RWF_DONTCACHE, autoStrategy, booleanOption, choiceOption, closeFile, fallbackStrategy, fileOption,
  integerOption, invalidArgValue, lookUpFileSystemHint, mayRetryWithoutDontcache, openStreamFile, optionsArgument, pathArgument,
  type CacheOption,
  type CacheStrategy, type FallbackEvent, type FallbackOption,
} from './stream-options';
import { DEFAULT_WINDOW_SIZE, WritebackWindow, settleRange } from './writeback-window';
import { constants } from './constants';
import { systemError, type SystemError } from './errors';

/**
 * Default `highWaterMark`: 1 MiB (Node's fs.WriteStream uses 16 KiB). Chunks written
 * while one pwritev2 is in flight queue up, and go out together in the next call, so
 * 16 KiB chunks cost one syscall per ~1 MiB instead of one each. `write()` returns
 * false once `highWaterMark` bytes wait behind the batch being written (that batch is
 * not counted, so the producer refills while the disk works); 'drain' follows when
 * they leave for the next batch. At most about 2 x highWaterMark is held.
 */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;

export interface DontcacheWriteStreamOptions {
  /** open(2) flags as in fs.open (default 'w'); ignored when `fd` is given. */
  flags?: string | number;
  /** File mode when creating (default 0o666). */
  mode?: number;
  /** Offset to start writing at; default: 0 for a new stream, the current position for `fd`. */
  start?: number;
  /** An open file (descriptor or FileHandle) to write to instead of opening `path`. */
  fd?: number | FileHandle;
  /** Close the file after 'finish' or an error (default true). */
  autoClose?: boolean;
  /** Emit 'close' after destroy (default true). */
  emitClose?: boolean;
  /** Bytes buffered before `write()` returns false; also the largest coalesced batch. */
  highWaterMark?: number;
  /** fdatasync(2) the file before 'finish' (default false); failure is an 'error'. */
  flush?: boolean;
  signal?: AbortSignal;
  /** Encoding of string chunks (default 'utf8'). */
  encoding?: BufferEncoding;
  /** Page-cache strategy (default 'auto'). */
  cache?: CacheOption;
  /** What to do when RWF_DONTCACHE is refused (default 'writeback'). */
  fallback?: FallbackOption;
  /**
   * Window behind the writer, in bytes (default 8 MiB; a multiple of `constants.PAGE_SIZE`): 'writeback'
   * writes back and drops each finished window; 'dontcache' waits on the window before
   * the last, so at most about three windows are under writeback.
   */
  windowSize?: number;
}

/** What a write stream did so far. */
export interface WriteStreamStats {
  /** Bytes written to the file. */
  bytes: number;
  /** pwritev2 syscalls made (retries and splits included). */
  syscalls: number;
  /** Native write calls, each carrying one or more coalesced chunks. */
  batches: number;
  /** Chunks handed to `write()` that were written. */
  chunks: number;
  /** The strategy in effect ('pending' until the file is open). */
  strategy: CacheStrategy | 'pending';
  /** Times the stream switched away from RWF_DONTCACHE. */
  fallbacks: number;
  /** Time spent inside pwritev2 per native call (writer-side latency), microseconds. */
  syscallLatency: LatencySummary;
  /** Time from `write()` to its callback, per chunk, microseconds. */
  writeLatency: LatencySummary;
}

type WriteCallback = (error?: Error | null) => void;

const O_APPEND = fs.constants.O_APPEND;
const kIoDone = Symbol('kIoDone');

/** Whether open(2) flags given as in fs.open write at the end of the file. */
function isAppend(flags: string | number): boolean {
  return typeof flags === 'number' ? (flags & O_APPEND) !== 0 : flags.includes('a');
}

/** The buffers left after skipping the first `n` bytes (views, no copies). */
function skipBytes(buffers: readonly Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i].length) n -= buffers[i++].length;
  const rest = buffers.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0].subarray(n);
  return rest;
}

/** File offset and O_APPEND of an open descriptor, from /proc/self/fdinfo (Node has no lseek). */
function descriptorState(fd: number): { pos: number; append: boolean } {
  try {
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const pos = Number(/^pos:\s*(\d+)/m.exec(info)?.[1] ?? 0);
    const flags = parseInt(/^flags:\s*([0-7]+)/m.exec(info)?.[1] ?? '0', 8);
    return { pos, append: (flags & O_APPEND) !== 0 };
  } catch {
    return { pos: 0, append: false };
  }
}

/**
 * A Writable that writes a file with pwritev2. Every fs.WriteStream option, event and
 * property applies; see {@link DontcacheWriteStreamOptions} for the additions.
 *
 * Events: 'open' (fd) and 'ready' when it opened the file itself, 'fallback'
 * ({@link FallbackEvent}) when RWF_DONTCACHE was refused and it switched, then the
 * usual 'finish', 'close', 'error'.
 */
export class DontcacheWriteStream extends Writable {
  /** The file descriptor, or null until open and after close. */
  fd: number | null = null;
  readonly path: string | undefined;
  readonly flags: string | number;
  readonly mode: number;
  readonly start: number | undefined;
  readonly autoClose: boolean;
  readonly flush: boolean;
  readonly cache: CacheOption;
  readonly fallback: FallbackOption;
  readonly windowSize: number;
  /** Bytes written to the file so far. */
  bytesWritten = 0;

  private readonly handle: FileHandle | undefined;
  private strategy: CacheStrategy | 'pending' = 'pending';
  // pwritev2 position: the stream's own offset, or -1 to write at the file position
  // (append mode, and a given fd without `start`, as fs.WriteStream does).
  private pos = -1;
  // Absolute offset of the next byte (known or, at -1, inferred), for the cache work.
  private offset = 0;
  private firstOffset = 0;
  private window: WritebackWindow | null = null;
  private performingIO = false;
  // Bytes of the batch being written, and whether write() returned false on its own
  // account (the queue behind that batch was full) and so owes a 'drain'.
  private inFlightBytes = 0;
  private owesDrain = false;
  private readonly counts = { syscalls: 0, batches: 0, chunks: 0, fallbacks: 0 };
  private readonly syscallLatency = new LatencyHistogram();
  private readonly writeLatency = new LatencyHistogram();

  constructor(path: string | Buffer | URL | undefined, options?: DontcacheWriteStreamOptions | BufferEncoding) {
    // Validate everything before super(): Writable schedules _construct right away,
    // and a throw after that would leave it running on a half-built stream.
    const o = writeSettings(path, options);
    super({
      highWaterMark: o.highWaterMark,
      decodeStrings: true,
      defaultEncoding: o.encoding,
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
    this.autoClose = o.autoClose;
    this.flush = o.flush;
    this.cache = o.cache;
    this.fallback = o.fallback;
    this.windowSize = o.windowSize;
  }

  /** True until the file is open. */
  get pending(): boolean {
    return this.fd === null;
  }

  /** Counters, the strategy in effect and latency summaries (a fresh snapshot). */
  get stats(): WriteStreamStats {
    return {
      bytes: this.bytesWritten,
      ...this.counts,
      strategy: this.strategy,
      syscallLatency: this.syscallLatency.summary(),
      writeLatency: this.writeLatency.summary(),
    };
  }

  /** Page-cache state of the whole file (cachestat(2), in pages). Throws EBADF when not open. */
  cacheState(): CacheStat {
    if (this.fd === null) throw systemError(9, 'cachestat', { path: this.path });
    return cachestatSync(this.fd, 0, 0);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    openStreamFile(this, (fd, given, cb) => this.prepare(fd, given, cb), callback);
  }

  /** Finds where writes go and which strategy fits this file. */
  private prepare(fd: number, given: boolean, callback: (error?: Error | null) => void): void {
    fs.fstat(fd, (error, stat) => {
      if (error) {
        callback(error);
        return;
      }
      const state = given ? descriptorState(fd) : { pos: 0, append: isAppend(this.flags) };
      // O_APPEND makes Linux append whatever offset pwritev2 gets, so -1 ("the file
      // position", which O_APPEND moves to the end) says what really happens.
      const append = state.append;
      if (append) this.pos = -1;
      else if (this.start !== undefined) this.pos = this.start;
      else this.pos = given || !stat.isFile() ? -1 : 0;
      this.offset = append ? stat.size : this.pos === -1 ? state.pos : this.pos;
      this.firstOffset = this.offset;
      if (!stat.isFile()) {
        // Pipes, terminals, devices: no page cache of ours to keep clean.
        this.strategy = 'buffered';
        callback();
      } else if (this.cache !== 'auto') {
        this.useStrategy(this.cache);
        callback();
      } else {
        lookUpFileSystemHint(fd, (hint) => {
          this.useStrategy(autoStrategy(hint, this.fallback));
          callback();
        });
      }
    });
  }

  private useStrategy(strategy: CacheStrategy): void {
    this.strategy = strategy;
    // Both clean strategies follow the writer with a window: 'writeback' to write back
    // and drop, 'dontcache' only to wait, so pages under writeback stay bounded. On a
    // switch the same window goes on (an operation of it may be in flight).
    if (strategy === 'buffered') this.window?.stop(() => undefined);
    else if (this.window) this.window.mode.drop = strategy === 'writeback';
    else if (this.fd !== null) {
      this.window = new WritebackWindow(this.fd, this.windowSize, { drop: strategy === 'writeback' });
    }
  }

  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    const started = performance.now();
    const accepted = super.write(chunk, encoding as BufferEncoding, (error?: Error | null) => {
      if (!error) this.writeLatency.record((performance.now() - started) * 1000);
      cb?.(error);
    });
    if (accepted || this.destroyed || this.writableEnded) return accepted;
    // highWaterMark bounds the bytes queued behind the batch being written; Writable
    // counts both, which would leave the disk idle while the producer refills.
    if (this.queuedLength() < this.writableHighWaterMark) return true;
    this.owesDrain = true;
    return false;
  }

  /** Bytes buffered and not yet handed to pwritev2. */
  private queuedLength(): number {
    return this.writableLength - this.inFlightBytes;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.writeChunks([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: WriteCallback): void {
    this.writeChunks(chunks.map((c) => c.chunk), callback);
  }

  private writeChunks(buffers: Buffer[], callback: WriteCallback): void {
    this.performingIO = true;
    const issue = (error: Error | null) => {
      if (error) this.ioDone(callback, error);
      else if (this.destroyed) this.ioDone(callback, destroyedError());
      else this.issue(buffers, this.strategy === 'dontcache' ? RWF_DONTCACHE : 0, callback);
    };
    this.counts.batches++;
    this.counts.chunks += buffers.length;
    for (const buffer of buffers) this.inFlightBytes += buffer.length;
    if (this.owesDrain && this.queuedLength() < this.writableHighWaterMark) {
      // The queue just became this batch: the producer may fill the next one meanwhile.
      this.owesDrain = false;
      process.nextTick(() => {
        if (!this.destroyed && !this.writableEnded) this.emit('drain');
      });
    }
    if (this.window) this.window.ready(issue);
    else issue(null);
  }

  private issue(buffers: Buffer[], flags: number, callback: WriteCallback): void {
    const position = this.pos;
    pwritev2Callback(this.fd as number, buffers, position, flags, (error, bytes, ns, calls) => {
      const landed = this.account(error, bytes, ns, calls);
      this.advance(landed);
      if (!error) this.ioDone(callback, this.window?.error ?? null);
      else if (mayRetryWithoutDontcache(error, flags, this.fallback)) {
        this.retryWithoutDontcache(skipBytes(buffers, landed), flags & ~RWF_DONTCACHE, error, position, callback);
      } else this.ioDone(callback, error);
    });
  }

  /** Writes the refused bytes again without RWF_DONTCACHE; switches only if that succeeds. */
  private retryWithoutDontcache(
    rest: Buffer[], flags: number, refusal: SystemError, position: number, callback: WriteCallback,
  ): void {
    pwritev2Callback(this.fd as number, rest, this.pos, flags, (error, bytes, ns, calls) => {
      const landed = this.account(error, bytes, ns, calls);
      if (error) {
        this.advance(landed);
        this.ioDone(callback, error);
        return;
      }
      const to = fallbackStrategy(this.fallback);
      this.counts.fallbacks++;
      this.useStrategy(to);
      // The window starts with the bytes just written, so it settles them too.
      this.advance(landed);
      const event: FallbackEvent = { from: 'dontcache', to, reason: refusal, position };
      this.emit('fallback', event);
      this.ioDone(callback, null);
    });
  }

  /** Counts one native write in the stats; returns the bytes that landed (also on error). */
  private account(error: SystemError | null, bytes: number, ns: number, calls: number): number {
    this.counts.syscalls += calls;
    this.syscallLatency.record(ns / 1000);
    return error ? (error.bytesWritten ?? 0) : bytes;
  }

  private advance(bytes: number): void {
    if (bytes <= 0) return;
    this.window?.written(this.offset, bytes);
    this.bytesWritten += bytes;
    this.offset += bytes;
    if (this.pos !== -1) this.pos += bytes;
  }

  private ioDone(callback: WriteCallback, error: Error | null): void {
    this.performingIO = false;
    this.inFlightBytes = 0;
    callback(error);
    if (this.destroyed) this.emit(kIoDone, error);
  }

  /** flush (fdatasync), then wait for the tail's writeback and drop it: a clean cache at 'finish'. */
  override _final(callback: WriteCallback): void {
    const fd = this.fd as number;
    const clean = this.strategy !== 'buffered';
    const steps = async () => {
      if (this.window) {
        const window = this.window;
        await new Promise<void>((resolve) => window.stop(resolve));
        if (window.error) throw window.error;
      }
      // fdatasync, not fsync: it persists the data and the metadata needed to read it
      // back (the size), which is what a finished stream promises; mtime can lag.
      if (this.flush) await fdatasync(fd);
      if (clean) await settleRange(fd, this.firstOffset, this.offset);
    };
    this.performingIO = true;
    steps().then(
      () => this.ioDone(callback, null),
      (error: Error) => this.ioDone(callback, error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const close = (ioError?: Error | null) => {
      const window = this.window;
      if (window) window.stop(() => this.closeDescriptor(error || ioError || null, callback));
      else this.closeDescriptor(error || ioError || null, callback);
    };
    // A write in flight still uses the fd: close only after it completes (as Node does).
    if (this.performingIO) this.once(kIoDone, close);
    else close();
  }

  private closeDescriptor(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.autoClose || this.fd === null) {
      callback(error);
      return;
    }
    const fd = this.fd;
    closeFile(fd, this.handle, (closeError) => {
      this.fd = null;
      callback(error || closeError);
    });
  }

  /** Ends the stream and calls `cb` on 'close' (fs.WriteStream#close). */
  close(cb?: (error?: Error | null) => void): void {
    if (cb) {
      if (this.closed) {
        process.nextTick(cb);
        return;
      }
      this.on('close', cb);
    }
    // Without autoClose, 'finish' alone would leave the fd open: destroy then.
    if (!this.autoClose) this.on('finish', () => this.destroy());
    this.end();
  }

  /** Alias of end(), as fs.WriteStream has it. */
  destroySoon(): this {
    return this.end();
  }
}

/** Checks every option (Node's error codes) and fills in the defaults. */
function writeSettings(path: string | Buffer | URL | undefined, options: DontcacheWriteStreamOptions | BufferEncoding | undefined) {
  const opts = optionsArgument<DontcacheWriteStreamOptions>(options);
  const given = fileOption(opts.fd);
  const page = constants.PAGE_SIZE;
  const windowSize = integerOption('options.windowSize', opts.windowSize, page, DEFAULT_WINDOW_SIZE);
  if (windowSize % page !== 0) throw invalidArgValue('options.windowSize', windowSize, `must be a multiple of the page size (${page})`);
  return {
    given,
    path: pathArgument(path, given),
    highWaterMark: integerOption('options.highWaterMark', opts.highWaterMark, 1, DEFAULT_WRITE_HIGH_WATER_MARK),
    encoding: opts.encoding ?? 'utf8',
    emitClose: booleanOption('options.emitClose', opts.emitClose, true),
    autoClose: booleanOption('options.autoClose', opts.autoClose, true),
    signal: opts.signal,
    flags: opts.flags ?? 'w',
    mode: integerOption('options.mode', opts.mode, 0, 0o666),
    start: integerOption('options.start', opts.start, 0),
    flush: booleanOption('options.flush', opts.flush, false),
    cache: choiceOption('options.cache', opts.cache, CACHE_OPTIONS, 'auto'),
    fallback: choiceOption('options.fallback', opts.fallback, FALLBACK_OPTIONS, 'writeback'),
    windowSize,
  };
}

function destroyedError(): Error {
  return Object.assign(new Error('Cannot call write after a stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' });
}

/** Like `fs.createWriteStream(path, options)`, writing with pwritev2 and keeping the cache clean. */
export function createDontcacheWriteStream(
  path: string | Buffer | URL | undefined,
  options?: DontcacheWriteStreamOptions | BufferEncoding,
): DontcacheWriteStream {
  return new DontcacheWriteStream(path, options);
}
