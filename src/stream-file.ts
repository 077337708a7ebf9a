/**
 * The file behind a dontcache stream, handled as Node's own fs streams handle theirs
 * (lib/internal/fs/streams.js): the `fs` option, a given `fd` (a number or a
 * FileHandle), opening in `_construct` (also through a patched `open()`), and closing
 * in `_destroy`.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { deprecate } from 'node:util';
import type { SystemError } from './errors';
import type { IoCallback } from './io';
import { invalidArgType, validateBoolean, validateFunction, validateInteger, validatePath } from './validate';

/** The `fs` option: functions with the signatures of `node:fs`'s (as @types/node types it). */
export interface StreamFsImplementation {
  open?: (...args: any[]) => any;
  close?: (...args: any[]) => any;
}
export interface WriteStreamFsImplementation extends StreamFsImplementation {
  write?: (...args: any[]) => any;
  writev?: (...args: any[]) => any;
  fsync?: (...args: any[]) => any;
}
export interface ReadStreamFsImplementation extends StreamFsImplementation {
  read?: (...args: any[]) => any;
}
type AnyFs = WriteStreamFsImplementation & ReadStreamFsImplementation;

// Node's own classes, taken before anyone can swap fs.ReadStream/WriteStream (as test
// suites and fs-patching libraries do): the FileHandle lease must be Node's.
const NodeReadStream = fs.ReadStream;
const NodeWriteStream = fs.WriteStream;
type Done = (error?: Error | null) => void;

/** Options every stream reads to find its file. */
export interface FileOptions {
  fd?: unknown;
  fs?: unknown;
  flags?: unknown;
  mode?: unknown;
  autoClose?: unknown;
  flush?: unknown;
}

/** How a stream reaches its file. */
export interface StreamFile {
  /** The descriptor given as `fd` (a FileHandle's number), or null to open `path`. */
  fd: number | null;
  handle?: FileHandle;
  path?: string | Buffer;
  flags?: unknown;
  mode?: unknown;
  /** The functions called for open/close/fsync (and I/O when `customIo`): `options.fs` or node:fs. */
  fs: AnyFs;
  /** True when `options.fs` brings its own write/writev (read): the stream must use them. */
  customIo: boolean;
  /** Whether `flush` calls `options.fs.fsync` instead of fdatasync. */
  customFsync: boolean;
  /** `autoClose` as Writable/Readable's `autoDestroy` gets it (they treat all but false as true). */
  autoDestroy: unknown;
  flush: boolean;
}

function methodNotImplemented(what: string): Error {
  return Object.assign(new Error(`The ${what} method is not implemented`), { code: 'ERR_METHOD_NOT_IMPLEMENTED' });
}

function isFileHandle(value: unknown): value is FileHandle {
  const v = value as FileHandle | null;
  return typeof v === 'object' && v !== null && v.constructor?.name === 'FileHandle' && typeof v.fd === 'number' &&
    typeof v.close === 'function' && typeof (v as unknown as NodeJS.EventEmitter).on === 'function';
}

/**
 * The `fs` option for a stream over a descriptor its caller keeps: node:fs's own
 * functions (so pwritev2/preadv2 and the cache strategies stay), and a close that
 * leaves the descriptor open. As with fs streams, destroy() closes the descriptor
 * even with `autoClose: false`; this is how a caller keeps using it afterwards.
 */
export const KEEP_DESCRIPTOR_OPEN: WriteStreamFsImplementation & ReadStreamFsImplementation = Object.freeze({
  open: fs.open,
  read: fs.read,
  write: fs.write,
  writev: fs.writev,
  fsync: fs.fsync,
  close: (_fd: number, cb: (error: Error | null) => void) => process.nextTick(cb, null),
});

/**
 * Checks `path`, `fd`, `fs`, `autoClose` and `flush` in the order and with the error
 * codes of Node's fs stream constructors of this Node version's generation.
 */
export function resolveFile(kind: 'read' | 'write', path: unknown, opts: FileOptions): StreamFile {
  const custom = opts.fs ? (opts.fs as AnyFs) : undefined;
  let fsx: AnyFs = custom ?? fs;
  const file: Partial<StreamFile> = { fd: null };
  if (opts.fd == null) {
    validateFunction(fsx.open, 'options.fs.open');
    file.path = validatePath(path);
    file.flags = opts.flags === undefined ? (kind === 'write' ? 'w' : 'r') : opts.flags;
    file.mode = opts.mode === undefined ? 0o666 : opts.mode;
  } else if (typeof opts.fd === 'number') {
    file.fd = validateInteger(opts.fd, 'fd', 0, 2 ** 31 - 1);
  } else if (isFileHandle(opts.fd)) {
    if (custom) throw methodNotImplemented('FileHandle with fs');
    file.handle = opts.fd;
    fsx = fs;
    file.fd = validateInteger(opts.fd.fd, 'fd', 0, 2 ** 31 - 1);
  } else {
    throw invalidArgType('options.fd', 'of type number or an instance of FileHandle', opts.fd);
  }
  const autoDestroy = opts.autoClose === undefined ? true : opts.autoClose;
  let flush = false;
  let customIo: boolean;
  if (kind === 'write') {
    if (!fsx.write && !fsx.writev) throw invalidArgType('options.fs.write', 'of type function', fsx.write);
    if (fsx.write) validateFunction(fsx.write, 'options.fs.write');
    if (fsx.writev) validateFunction(fsx.writev, 'options.fs.writev');
    if (autoDestroy && !file.handle) validateFunction(fsx.close, 'options.fs.close');
    if (opts.flush != null) {
      flush = validateBoolean(opts.flush, 'options.flush');
      validateFunction(fsx.fsync, 'options.fs.fsync');
    }
    customIo = Boolean(custom) && ((fsx.write !== undefined && fsx.write !== fs.write) || (fsx.writev !== undefined && fsx.writev !== fs.writev));
  } else {
    validateFunction(fsx.read, 'options.fs.read');
    if (autoDestroy && !file.handle) validateFunction(fsx.close, 'options.fs.close');
    customIo = Boolean(custom) && fsx.read !== fs.read;
  }
  return {
    ...(file as StreamFile),
    fs: fsx,
    customIo,
    customFsync: Boolean(custom) && fsx.fsync !== fs.fsync,
    autoDestroy,
    flush,
  };
}

/**
 * Keeps a FileHandle open while a stream uses it, the way Node's own fs streams do:
 * through an idle fs.ReadStream on the handle (never read from), which takes Node's
 * reference on it. So `handle.close()` by its owner only closes the descriptor once
 * every stream on it let go (its number cannot be reused under a write), and the
 * handle cannot be transferred to a worker meanwhile (DataCloneError). `onClose` runs
 * when the owner closes the handle; Node's streams then call their `close()`.
 */
export class HandleLease {
  private readonly holder: fs.ReadStream;
  private released = false;

  constructor(readonly handle: FileHandle, private readonly onClose: () => void) {
    const emitter = handle as unknown as NodeJS.EventEmitter;
    const before = new Set(emitter.listeners('close'));
    this.holder = Reflect.construct(NodeReadStream, [undefined, { fd: handle, autoClose: false, emitClose: true }]) as fs.ReadStream;
    // The holder would react to the handle's 'close' by closing itself (and the
    // handle) at once; the stream decides when instead.
    for (const listener of emitter.listeners('close')) {
      if (!before.has(listener)) emitter.removeListener('close', listener as (...args: unknown[]) => void);
    }
    emitter.on('close', onClose);
  }

  /** Lets go of the handle and closes it (as Node's streams do on destroy); `cb` once it is closed. */
  release(cb: (error: Error | null) => void): void {
    if (this.released) {
      process.nextTick(cb, null);
      return;
    }
    this.released = true;
    (this.handle as unknown as NodeJS.EventEmitter).removeListener('close', this.onClose);
    let failure: Error | null = null;
    this.holder.once('error', (error: Error) => (failure = error));
    this.holder.once('close', () => cb(failure));
    this.holder.destroy();
  }
}

/** ERR_INVALID_THIS unless `self` is a set-up stream (the prototype's accessors, as Node's). */
export function checkThis(self: unknown, type: string): void {
  if (typeof self !== 'object' || self === null || !(self as { file?: unknown }).file) {
    throw Object.assign(new TypeError(`Value of "this" must be of type ${type}`), { code: 'ERR_INVALID_THIS' });
  }
}

// The deprecated no-op open() that Node 20-24 still have on their fs stream
// prototypes (DEP0135; gone in 26): ours have it where the running Node's have it.
const legacyOpens = new Set<unknown>();

/** Gives `prototype` the deprecated `open()` of Node's `kind` where this Node has one. */
export function addLegacyOpen(prototype: object, kind: 'ReadStream' | 'WriteStream'): void {
  const nodeClass = kind === 'ReadStream' ? NodeReadStream : NodeWriteStream;
  if (typeof (nodeClass.prototype as { open?: unknown }).open !== 'function') return;
  const open = deprecate(function open() {}, `${kind}.prototype.open() is deprecated`, 'DEP0135');
  legacyOpens.add(open);
  Object.defineProperty(prototype, 'open', { value: open, writable: true, configurable: true });
}

/** What opening needs from a stream. */
export interface OpeningStream {
  fd: number | null;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  open?: unknown;
}

/**
 * The `_construct` of both streams: a given fd is prepared as it is; a path is opened
 * (with `options.fs.open`, or a patched `open()` as Node still honours), and 'open'
 * then 'ready' follow a successful preparation.
 */
export function openFile(
  stream: OpeningStream,
  file: StreamFile,
  prepare: (fd: number, given: boolean, done: Done) => void,
  callback: Done,
): void {
  if (file.fd !== null) {
    prepare(file.fd, true, callback);
    return;
  }
  if (typeof stream.open === 'function' && !legacyOpens.has(stream.open)) {
    openThroughPatchedOpen(stream, prepare, callback);
    return;
  }
  (file.fs.open as typeof fs.open)(file.path as string, file.flags as string, file.mode as number, (error, fd) => {
    if (error) {
      callback(error);
      return;
    }
    stream.fd = fd;
    prepare(fd, false, (prepareError) => {
      callback(prepareError);
      if (!prepareError) {
        stream.emit('open', fd);
        stream.emit('ready');
      }
    });
  });
}

// Backwards compatibility (as in Node): a subclass or monkey patch whose open() emits
// 'open' with the fd (or 'error') opens the file.
function openThroughPatchedOpen(stream: OpeningStream, prepare: (fd: number, given: boolean, done: Done) => void, callback: Done): void {
  const emit = stream.emit;
  stream.emit = function (this: OpeningStream, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'open') {
      this.emit = emit;
      prepare(this.fd as number, false, callback);
      return Reflect.apply(emit, this, [event, ...args]);
    }
    if (event === 'error') {
      this.emit = emit;
      callback(args[0] as Error);
      return true;
    }
    return Reflect.apply(emit, this, [event, ...args]);
  };
  (stream.open as () => void)();
}

/** Closes the stream's descriptor the way it came: the lease of a FileHandle, else `fs.close`. */
export function closeFile(fd: number, file: StreamFile, lease: HandleLease | undefined, cb: (error: Error | null) => void): void {
  if (lease) lease.release(cb);
  else (file.fs.close as typeof fs.close)(fd, (error) => cb(error ?? null));
}

/** The buffers left after skipping the first `n` bytes (views, no copies). */
export function skipBytes(buffers: readonly Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i].length) n -= buffers[i++].length;
  const rest = buffers.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0].subarray(n);
  return rest;
}

/**
 * Writes every byte of `buffers` with `options.fs.writev` (or `write`, chunk by chunk)
 * as Node's fs.WriteStream does: short writes continue, EAGAIN counts as 0 bytes, six
 * 0-byte answers in a row fail. Calls back like pwritev2Callback; an error carries
 * `bytesWritten`, the bytes written before it.
 */
export function writeThrough(file: StreamFile, fd: number, buffers: Buffer[], position: number, cb: IoCallback): void {
  const { write, writev } = file.fs;
  let written = 0;
  let retries = 0;
  let calls = 0;
  let rest = buffers;
  const step = (): void => {
    const at = position === -1 ? null : position + written;
    const done = (error: (Error & { code?: string; bytesWritten?: number }) | null, bytes: number) => {
      calls++;
      if (error?.code === 'EAGAIN') {
        error = null;
        bytes = 0;
      }
      if (error) {
        if (typeof error === 'object' && error.bytesWritten === undefined) error.bytesWritten = written;
        cb(error as SystemError, written, 0, calls);
        return;
      }
      written += bytes;
      retries = bytes ? 0 : retries + 1;
      rest = skipBytes(rest, bytes);
      if (retries > 5) cb(Object.assign(new Error('A system error occurred: write failed'), { code: 'ERR_SYSTEM_ERROR', bytesWritten: written }) as SystemError, written, 0, calls);
      else if (rest.length > 0) step();
      else cb(null, written, 0, calls);
    };
    if (writev) writev(fd, rest, at, done);
    else (write as typeof fs.write)(fd, rest[0], 0, rest[0].length, at, done);
  };
  if (rest.length === 0) process.nextTick(cb, null, 0, 0, 0);
  else step();
}

/** One read with `options.fs.read`, calling back like preadv2Callback. */
export function readThrough(file: StreamFile, fd: number, buffer: Buffer, position: number, cb: IoCallback): void {
  (file.fs.read as typeof fs.read)(fd, buffer, 0, buffer.length, position === -1 ? null : position, (error, bytes) => cb(error as SystemError | null, bytes, 0, 1));
}
