/**
 * DontcacheWriteStream: a drop-in for `fs.createWriteStream` that writes with
 * pwritev2(2) and keeps the page cache clean (RWF_DONTCACHE, or a userspace writeback
 * window where the file system refuses the flag). Modelled on Node's
 * lib/internal/fs/streams.js WriteStream: same options, events and close rules.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable, type Readable } from 'node:stream';
import { fdatasync, pwritev2Callback, type CacheStat, type IoCallback } from './io';
import { LatencyHistogram, type LatencySummary } from './latency';
import { copyOptions, type CacheOption, type CacheStrategy, type FallbackEvent, type FallbackOption } from './stream-options';
import { fallbackStrategy, ioFlags, mayRetryWithoutDontcache } from './cache-policy';
import { skipBytes, writeThrough, type HandleLease, type StreamFile, type WriteStreamFsImplementation } from './stream-file';
import { ChunkClock } from './chunk-clock';
import {
  closeDescriptor, constructFileStream, destroyAfterIo, fileCacheState, fileOptions, fileStreamClass, initStreamFields, kIoDone, leaseHandle,
  type FileStreamConstructor, type StreamCallback, type StreamPath, type WithTypedEvents,
} from './stream-lifecycle';
import { DEFAULT_WINDOW_SIZE, WritebackWindow } from './writeback-window';
import { FOLIO_MAX, PAGE_SIZE } from './page-ranges';
import { PriorResidency } from './prior-residency';
import { PositionReader, descriptorState } from './fd-position';
import { constants } from './constants';
import type { SystemError } from './errors';
import { integerOption, invalidArgValue } from './validate';

/**
 * Default `highWaterMark`: 1 MiB (Node's fs.WriteStream uses 16 KiB). Chunks written
 * while one pwritev2 is in flight queue up, and go out together in the next call, so
 * 16 KiB chunks cost one syscall per ~1 MiB instead of one each. `write()` returns
 * false once `highWaterMark` bytes wait behind the batch being written (that batch is
 * not counted, so the producer refills while the disk works); 'drain' follows when
 * they leave for the next batch. At most about 2 x highWaterMark is held.
 */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * `write()` also returns false once this many chunks wait behind the batch being
 * written (IOV_MAX: one pwritev2 call's worth). Tiny chunks cost far more memory as
 * queue entries than as bytes: the count bounds memory to about 2 x highWaterMark + a
 * fixed amount whatever the chunk size. Only chunks under highWaterMark / 1024 bytes
 * (1 KiB by default) meet this bound before the byte bound.
 */
export const MAX_QUEUED_CHUNKS = 1024;

export interface DontcacheWriteStreamOptions {
  /** open(2) flags as in fs.open (default 'w'); ignored when `fd` is given. */
  flags?: string | number | null;
  /** File mode when creating (default 0o666). */
  mode?: number | string | null;
  /** Offset to start writing at; default: 0 for a new stream, the current position for `fd`. */
  start?: number;
  /**
   * An open file (descriptor or FileHandle) to write to instead of opening `path`. A
   * FileHandle stays open while the stream uses it, even when its owner closes it.
   */
  fd?: number | FileHandle | null;
  /** Destroy the stream (and close the file) after 'finish' or an error (default true). */
  autoClose?: boolean | null;
  /** Emit 'close' after destroy (default true). */
  emitClose?: boolean | null;
  /** Bytes buffered before `write()` returns false; also the largest coalesced batch. */
  highWaterMark?: number | null;
  /** fdatasync(2) the file before 'finish' (default false); failure is an 'error'. */
  flush?: boolean | null;
  signal?: AbortSignal;
  /** Encoding of string chunks (default 'utf8'). */
  encoding?: BufferEncoding | null;
  /**
   * Functions used instead of node:fs's (open, close, write and/or writev, fsync), as in
   * fs.createWriteStream. Writes through a custom write/writev cannot carry RWF flags:
   * such a stream is 'buffered'.
   */
  fs?: WriteStreamFsImplementation | null;
  /** Page-cache strategy (default 'auto'). */
  cache?: CacheOption | null;
  /** What to do when RWF_DONTCACHE is refused (default 'writeback'). */
  fallback?: FallbackOption | null;
  /**
   * Window behind the writer, in bytes (default 8 MiB, a multiple of `constants.PAGE_SIZE`): 'writeback'
   * writes back and drops each finished window; 'dontcache' waits on the window before
   * the last, so at most about three windows are under writeback.
   */
  windowSize?: number | null;
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
  /** Time from `write()` until the chunk's bytes were written, per chunk, microseconds. */
  writeLatency: LatencySummary;
}

const O_APPEND = fs.constants.O_APPEND;

/** Whether open(2) flags given as in fs.open write at the end of the file. */
function isAppend(flags: unknown): boolean {
  if (typeof flags === 'number') return (flags & O_APPEND) !== 0;
  return typeof flags === 'string' && flags.includes('a');
}

function byteLength(buffers: readonly Buffer[]): number {
  let n = 0;
  for (const buffer of buffers) n += buffer.length;
  return n;
}

/**
 * The buffers one pwritev2 syscall takes (at most IOV_MAX of them and MAX_BYTES_PER_CALL
 * bytes), and the rest. An append is placed per syscall: split here, each call's bytes
 * land in one piece, whose place the file position then tells.
 */
function oneSyscall(buffers: readonly Buffer[]): [Buffer[], Buffer[]] {
  const { IOV_MAX, MAX_BYTES_PER_CALL } = constants;
  let bytes = 0;
  for (let i = 0; i < buffers.length; i++) {
    if (i === IOV_MAX) return [buffers.slice(0, i), buffers.slice(i)];
    const room = MAX_BYTES_PER_CALL - bytes;
    if (buffers[i].length > room) {
      if (room === 0) return [buffers.slice(0, i), buffers.slice(i)];
      return [[...buffers.slice(0, i), buffers[i].subarray(0, room)], [buffers[i].subarray(room), ...buffers.slice(i + 1)]];
    }
    bytes += buffers[i].length;
  }
  return [buffers.slice(), []];
}

/**
 * A Writable that writes a file with pwritev2. Every fs.WriteStream option, event and
 * property applies; see {@link DontcacheWriteStreamOptions} for the additions.
 * Instances come from {@link DontcacheWriteStream} (with or without `new`) or
 * {@link createDontcacheWriteStream}; this class only holds the methods.
 */
export class DontcacheWriteStreamBase extends Writable {
  /** The file descriptor, or null until open and after close. */
  fd!: number | null;
  /** The path as given (a file: URL as its path; a Buffer stays a Buffer); undefined with `fd`. */
  path!: string | Buffer | undefined;
  flags!: unknown;
  mode!: unknown;
  start!: number | undefined;
  flush!: boolean;
  readonly cache!: CacheOption;
  readonly fallback!: FallbackOption;
  readonly windowSize!: number;
  /** Bytes written to the file so far. */
  bytesWritten!: number;

  private file!: StreamFile;
  private lease: HandleLease | undefined;
  private strategy!: CacheStrategy | 'pending';
  // -1 (write at the file position) in append mode, and for a given fd without `start`,
  // as fs.WriteStream does. See initStreamFields for the fields both streams have.
  private pos!: number;
  private offset!: number;
  private sizeAtOpen!: number;
  private window!: WritebackWindow | null;
  // With O_APPEND: where each write's bytes landed (other processes may append too).
  private landing!: PositionReader | null;
  private performingIO!: boolean;
  // Bytes of the batch being written, and whether write() returned false and so owes
  // exactly one 'drain'.
  private inFlightBytes!: number;
  private owesDrain!: boolean;
  private counts!: { syscalls: number; batches: number; chunks: number; fallbacks: number };
  private syscallLatency!: LatencyHistogram;
  private writeLatency!: LatencyHistogram;
  private chunkClock!: ChunkClock;

  declare readonly _writableState: { length: number; bufferedRequestCount: number };

  private constructor() {
    super();
    throw new TypeError('use DontcacheWriteStream() or createDontcacheWriteStream()');
  }

  /** True until the file is open. */
  declare readonly pending: boolean;
  /** Whether the stream destroys itself (closing the file) after 'finish' or an error. */
  declare autoClose: boolean;

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
    return fileCacheState(this);
  }

  override _construct(callback: StreamCallback): void {
    constructFileStream(this, (fd, given, stat) => this.place(fd, given, stat), (strategy) => this.useStrategy(strategy), callback);
  }

  /** Where writes go: the end for O_APPEND, else `start`, the start of a file this stream opened, or the descriptor's position. */
  private place(fd: number, given: boolean, stat: fs.Stats): void {
    const state = given ? descriptorState(fd) : { pos: 0, append: isAppend(this.flags) };
    // O_APPEND makes Linux append whatever offset pwritev2 gets, so -1 ("the file
    // position", which O_APPEND moves to the end) says what really happens.
    const append = state.append;
    if (append) this.pos = -1;
    else if (this.start !== undefined) this.pos = this.start;
    else this.pos = given || !stat.isFile() ? -1 : 0;
    this.offset = append ? stat.size : this.pos === -1 ? state.pos : this.pos;
    this.sizeAtOpen = stat.size;
    if (append && stat.isFile()) this.landing = new PositionReader(fd);
  }

  private useStrategy(strategy: CacheStrategy): void {
    this.strategy = strategy;
    // Both clean strategies follow the writer with a window: 'writeback' to write back
    // and drop, 'dontcache' only to wait, so pages under writeback stay bounded. On a
    // switch the same window goes on (an operation of it may be in flight).
    if (strategy === 'buffered') this.window?.stop(() => undefined);
    else if (this.window) this.window.mode.drop = strategy === 'writeback';
    else if (this.fd !== null) {
      // Appends land beyond the old end of the file, where nobody else has cached
      // anything; their neighbours' bytes are someone else's: drop whole pages only.
      const prior = this.landing ? null : new PriorResidency(this.fd, this.sizeAtOpen, this.windowSize);
      const align = this.landing ? PAGE_SIZE : FOLIO_MAX;
      this.window = new WritebackWindow(this.fd, this.windowSize, { drop: strategy === 'writeback' }, { prior, align });
    }
  }

  override write(chunk: unknown, encoding?: BufferEncoding | StreamCallback | null, cb?: StreamCallback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    // Writable queues every chunk but those written after end() or destroy(), which it
    // fails at once; a chunk it rejects by throwing (a wrong type) is taken back.
    const queued = !this.destroyed && !this.writableEnded;
    if (queued) this.chunkClock.queued();
    let accepted: boolean;
    try {
      accepted = super.write(chunk, encoding as BufferEncoding, cb as StreamCallback);
    } catch (error) {
      if (queued) this.chunkClock.unqueue();
      throw error;
    }
    if (this.destroyed || this.writableEnded) return accepted;
    // highWaterMark bounds the bytes queued behind the batch being written (Writable
    // counts both, which would leave the disk idle while the producer refills), and
    // MAX_QUEUED_CHUNKS their number.
    if (this.queuedLength() < this.writableHighWaterMark && this.queuedChunks() < MAX_QUEUED_CHUNKS) return true;
    this.owesDrain = true;
    return false;
  }

  /** Bytes buffered and not yet handed to pwritev2. */
  private queuedLength(): number {
    return this._writableState.length - this.inFlightBytes;
  }

  /** Chunks buffered and not yet handed to pwritev2. */
  private queuedChunks(): number {
    return this._writableState.bufferedRequestCount;
  }

  // One 'drain' per false write(), whichever comes first: the early one of
  // writeChunks() or Writable's own once everything is written.
  override emit(event: string | symbol, ...args: any[]): boolean {
    if (event === 'drain') {
      if (!this.owesDrain) return false;
      this.owesDrain = false;
    }
    return super.emit(event, ...args);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: StreamCallback): void {
    this.writeChunks([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: StreamCallback): void {
    this.writeChunks(chunks.map((c) => c.chunk), callback);
  }

  private writeChunks(buffers: Buffer[], batchDone: StreamCallback): void {
    this.performingIO = true;
    const callback: StreamCallback = (error) => {
      this.chunkClock.landed(buffers.length, !error);
      batchDone(error);
    };
    const issue = (error: Error | null) => {
      if (error) this.ioDone(callback, error);
      else if (this.destroyed) this.ioDone(callback, destroyedError());
      else this.issue(buffers, ioFlags(this.strategy), callback);
    };
    this.counts.batches++;
    this.counts.chunks += buffers.length;
    for (const buffer of buffers) this.inFlightBytes += buffer.length;
    // The queue just became this batch: the producer may fill the next one meanwhile.
    // (Writable updates its queue after this call returns: look on the next tick.)
    if (this.owesDrain) process.nextTick(() => this.drainEarly());
    if (this.window) this.window.ready(issue, this.inFlightBytes);
    else issue(null);
  }

  private drainEarly(): void {
    if (this.destroyed || this.writableEnded) return;
    if (this.queuedLength() < this.writableHighWaterMark && this.queuedChunks() < MAX_QUEUED_CHUNKS) this.emit('drain');
  }

  private issue(buffers: Buffer[], flags: number, callback: StreamCallback): void {
    const [now, later] = this.landing ? oneSyscall(buffers) : [buffers, []];
    const position = this.pos;
    if (!this.landing) this.window?.beforeWrite(this.offset, byteLength(now));
    this.writer(this.fd as number, now, position, flags, (error, bytes, ns, calls) => {
      const landed = this.account(error, bytes, ns, calls);
      this.advance(landed);
      if (!error) this.writeOn(later, flags, callback);
      // Destroyed meanwhile: the refused bytes are not written again (nor 'fallback').
      else if (!this.destroyed && mayRetryWithoutDontcache(error, flags, this.fallback)) {
        this.retryWithoutDontcache(skipBytes(now, landed), later, flags & ~constants.RWF_DONTCACHE, error, position, callback);
      } else this.ioDone(callback, error);
    });
  }

  /** After a successful write: the rest of the batch (not after destroy()), or the batch's callback. */
  private writeOn(later: Buffer[], flags: number, callback: StreamCallback): void {
    const windowError = this.window?.error ?? null;
    if (later.length === 0 || windowError) this.ioDone(callback, windowError);
    else if (this.destroyed) this.ioDone(callback, destroyedError());
    else this.issue(later, flags, callback);
  }

  /** Writes the refused bytes again without RWF_DONTCACHE; switches only if that succeeds. */
  private retryWithoutDontcache(
    rest: Buffer[], later: Buffer[], flags: number, refusal: SystemError, position: number, callback: StreamCallback,
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
      if (!this.destroyed) this.emit('fallback', event);
      this.writeOn(later, flags, callback);
    });
  }

  /** Counts one native write in the stats; returns the bytes that landed (also on error). */
  // pwritev2, or options.fs's write/writev (which take no flags).
  private writer(fd: number, buffers: Buffer[], position: number, flags: number, cb: IoCallback): void {
    if (this.file.customIo) writeThrough(this.file, fd, buffers, position, cb);
    else pwritev2Callback(fd, buffers, position, flags, cb);
  }

  private account(error: SystemError | null, bytes: number, ns: number, calls: number): number {
    this.counts.syscalls += calls;
    this.syscallLatency.record(ns / 1000);
    return error ? (error.bytesWritten ?? 0) : bytes;
  }

  private advance(bytes: number): void {
    if (bytes <= 0) return;
    // An append's bytes end at the file position it left (one syscall, one piece).
    const end = this.window ? this.landing?.read() : undefined;
    const start = end === undefined ? this.offset : end - bytes;
    this.window?.written(start, bytes);
    this.bytesWritten += bytes;
    this.offset = start + bytes;
    if (this.pos !== -1) this.pos += bytes;
  }

  private ioDone(callback: StreamCallback, error: Error | null): void {
    this.performingIO = false;
    this.inFlightBytes = 0;
    callback(error);
    if (this.destroyed) this.emit(kIoDone, error);
  }

  /** Wait for the tail's writeback and drop it (a clean cache at 'finish'), then flush (fdatasync). */
  override _final(callback: StreamCallback): void {
    const fd = this.fd as number;
    const steps = async () => {
      const window = this.window;
      if (window) await new Promise<void>((resolve, reject) => window.finish((error) => (error ? reject(error) : resolve())));
      this.landing?.close();
      // fdatasync, not fsync: it persists the data and the metadata needed to read it
      // back (the size), which is what a finished stream promises; mtime can lag.
      if (this.flush) await this.sync(fd);
    };
    this.performingIO = true;
    steps().then(
      () => this.ioDone(callback, null),
      (error: Error) => this.ioDone(callback, error),
    );
  }

  // fdatasync, or options.fs's fsync where the stream writes through options.fs.
  private sync(fd: number): Promise<void> {
    const { fs: fsx, customIo, customFsync } = this.file;
    if (!customIo && !customFsync) return fdatasync(fd);
    return new Promise((resolve, reject) => (fsx.fsync as typeof fs.fsync)(fd, (error) => (error ? reject(error) : resolve())));
  }

  override _destroy(error: Error | null, callback: StreamCallback): void {
    destroyAfterIo(this, this.performingIO, (ioError) => {
      this.landing?.close();
      const close = () => closeDescriptor(this, this.file, this.lease, error || ioError || null, callback);
      if (this.window) this.window.stop(close);
      else close();
    });
  }

  /** Ends the stream and calls `cb` on 'close' (fs.WriteStream#close). */
  close(cb?: StreamCallback): void {
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

// Node's fs.WriteStream counts the chunk being written in writableLength and
// writableNeedDrain; these count what waits behind the batch in flight, as write() does.
Object.defineProperties(DontcacheWriteStreamBase.prototype, {
  writableLength: {
    get(this: DontcacheWriteStreamBase) {
      return (this as unknown as { queuedLength(): number }).queuedLength();
    },
    configurable: true,
  },
  writableNeedDrain: {
    get(this: DontcacheWriteStreamBase) {
      return !this.destroyed && !this.writableEnded && (this as unknown as { owesDrain: boolean }).owesDrain;
    },
    configurable: true,
  },
});

/**
 * Sets up a stream on `self` as fs.WriteStream does: Node's checks and error codes in
 * Node's order, then ours; then Writable with every option as given (only bytes).
 */
function initWriteStream(self: any, path: StreamPath, options: DontcacheWriteStreamOptions | BufferEncoding | null | undefined): void {
  const opts = copyOptions<DontcacheWriteStreamOptions>(options);
  const { file, start } = fileOptions('write', path, opts);
  const windowSize = integerOption('options.windowSize', opts.windowSize, PAGE_SIZE, DEFAULT_WINDOW_SIZE);
  if (windowSize % PAGE_SIZE !== 0) throw invalidArgValue('options.windowSize', windowSize, `must be a multiple of the page size (${PAGE_SIZE})`);
  initStreamFields(self, file, start, opts);
  self.windowSize = windowSize;
  self.flush = file.flush;
  self.bytesWritten = 0;
  self.window = null;
  self.landing = null;
  self.inFlightBytes = 0;
  self.owesDrain = false;
  self.counts = { syscalls: 0, batches: 0, chunks: 0, fallbacks: 0 };
  self.syscallLatency = new LatencyHistogram();
  self.writeLatency = new LatencyHistogram();
  self.chunkClock = new ChunkClock(self.writeLatency);
  opts.decodeStrings = true;
  opts.autoDestroy = file.autoDestroy;
  if (opts.highWaterMark == null) opts.highWaterMark = DEFAULT_WRITE_HIGH_WATER_MARK;
  Reflect.apply(Writable, self, [opts]);
  if (opts.encoding) self.setDefaultEncoding(opts.encoding);
  leaseHandle(self);
}

function destroyedError(): Error {
  return Object.assign(new Error('Cannot call write after a stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' });
}

/** The events of a write stream and their listeners' arguments: fs.WriteStream's, plus 'fallback'. */
export interface WriteStreamEvents {
  close: []; drain: []; finish: []; ready: [];
  error: [error: Error]; open: [fd: number]; pipe: [source: Readable]; unpipe: [source: Readable]; fallback: [event: FallbackEvent];
}

/** A write stream (see {@link DontcacheWriteStreamBase}), with its events typed ({@link WriteStreamEvents}). */
export interface DontcacheWriteStream extends WithTypedEvents<DontcacheWriteStreamBase, WriteStreamEvents, DontcacheWriteStream> {}

export type DontcacheWriteStreamConstructor = FileStreamConstructor<DontcacheWriteStream, DontcacheWriteStreamOptions>;

/**
 * The write stream class: `new DontcacheWriteStream(path, options)`, also callable
 * without `new` and subclassable old-style (`DontcacheWriteStream.call(this, ...)`), as
 * fs.WriteStream.
 */
export const DontcacheWriteStream = fileStreamClass(
  'DontcacheWriteStream', 'WriteStream', Writable, DontcacheWriteStreamBase, initWriteStream,
) as DontcacheWriteStreamConstructor;

/** Like `fs.createWriteStream(path, options)`, writing with pwritev2 and keeping the cache clean. */
export function createDontcacheWriteStream(path: StreamPath, options?: DontcacheWriteStreamOptions | BufferEncoding | null): DontcacheWriteStream {
  return new DontcacheWriteStream(path, options);
}
