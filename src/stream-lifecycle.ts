/**
 * What both dontcache streams do alike over their lifetime, as Node's two fs streams
 * share `_construct`, `close` and `importFd` (lib/internal/fs/streams.js): the class and
 * its constructor, the fields set up from the options, what they find out about the file
 * once it is open, destroying only after the I/O in flight, and closing the descriptor.
 * Each stream module keeps only what is its own (the write path, the read path).
 */
import { fstat, type Stats } from 'node:fs';
import { cachestatSync, type CacheStat } from './io';
import { systemError } from './errors';
import { chooseStrategy } from './cache-policy';
import { CACHE_OPTIONS, FALLBACK_OPTIONS, type CacheStrategy } from './stream-options';
import { HandleLease, addLegacyOpen, checkThis, closeFile, openFile, resolveFile, type FileOptions, type StreamFile } from './stream-file';
import { choiceOption, validateInteger } from './validate';

/** The `path` argument of both streams (ignored when `options.fd` is given). */
export type StreamPath = string | Buffer | URL | undefined | null;

/** What Writable/Readable call back with from `_construct`, `_write`, `_destroy`... */
export type StreamCallback = (error?: Error | null) => void;

/** Emitted (internally) by a destroyed stream when its last I/O completes; see {@link destroyAfterIo}. */
export const kIoDone = Symbol('kIoDone');

/** The options both streams read to find their file and where to start. */
export interface FileStreamOptions extends FileOptions {
  start?: unknown;
  cache?: unknown;
  fallback?: unknown;
}

/**
 * Node's checks of the file options (`path`, `fd`, `fs`, `flags`, `mode`, `autoClose`,
 * `flush`) and of `start`, in the order and with the error codes of Node's constructors.
 */
export function fileOptions(kind: 'read' | 'write', path: unknown, opts: FileStreamOptions): { file: StreamFile; start: number | undefined } {
  const file = resolveFile(kind, path, opts);
  const start = opts.start === undefined ? undefined : validateInteger(opts.start, 'start', 0);
  return { file, start };
}

/**
 * Checks our own options both streams have (`cache`, `fallback`; after Node's, so Node's
 * errors come first) and sets up the fields both streams start with.
 */
export function initStreamFields(self: any, file: StreamFile, start: number | undefined, opts: FileStreamOptions): void {
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
  self.strategy = 'pending';
  // pwritev2/preadv2 position: the stream's own offset, or -1 for the file position.
  self.pos = -1;
  // Absolute offset of the next byte (known or, at -1, inferred), for the cache work.
  self.offset = 0;
  // File size at open: only pages below it can hold someone else's cached data.
  self.sizeAtOpen = 0;
  self.performingIO = false;
}

/**
 * Last in a constructor, once nothing can throw: a FileHandle given as `fd` stays
 * referenced until the stream closes, and its owner's `close()` closes the stream.
 */
export function leaseHandle(self: any): void {
  const handle = (self.file as StreamFile).handle;
  if (handle) self.lease = new HandleLease(handle, () => self.close());
}

/**
 * The `_construct` of both streams: opens the file or takes the given descriptor (see
 * openFile), then `place` sets where the I/O starts from its fstat, and `use` takes the
 * strategy chooseStrategy picked. Through `options.fs` (whose fd may not be a kernel one)
 * nothing is looked at: the strategy is 'buffered' and the I/O starts where Node's
 * stream would start it (`start`, else the file position).
 */
export function constructFileStream(
  self: any,
  place: (fd: number, given: boolean, stat: Stats) => void,
  use: (strategy: CacheStrategy) => void,
  callback: StreamCallback,
): void {
  const file = self.file as StreamFile;
  openFile(self, file, (fd, given, done) => {
    if (file.customIo) {
      self.pos = self.start ?? -1;
      use('buffered');
      done();
      return;
    }
    fstat(fd, (error, stat) => {
      if (error) {
        done(error);
        return;
      }
      chooseStrategy(fd, stat, self.cache, self.fallback, (strategy) => {
        place(fd, given, stat);
        use(strategy);
        done();
      });
    });
  }, callback);
}

/** Page-cache state of a stream's whole file (cachestat(2), in pages). Throws EBADF when not open. */
export function fileCacheState(stream: { fd: number | null; path?: string | Buffer }): CacheStat {
  if (stream.fd === null) throw systemError(9, 'cachestat', { path: stream.path?.toString() });
  return cachestatSync(stream.fd, 0, 0);
}

/** Runs `close` once no I/O of the stream is in flight (it still uses the fd), as Node's streams do. */
export function destroyAfterIo(stream: NodeJS.EventEmitter, performingIO: boolean, close: (ioError?: Error | null) => void): void {
  if (performingIO) stream.once(kIoDone, close);
  else close();
}

/**
 * Closes a destroyed stream's descriptor the way it came, as Node's fs streams do (also
 * with autoClose false, which only keeps 'finish'/'end' and errors from destroying it);
 * `callback` gets the first error.
 */
export function closeDescriptor(
  stream: { fd: number | null }, file: StreamFile, lease: HandleLease | undefined, error: Error | null, callback: StreamCallback,
): void {
  if (stream.fd === null) {
    callback(error);
    return;
  }
  closeFile(stream.fd, file, lease, (closeError) => {
    stream.fd = null;
    callback(error || closeError);
  });
}

/** A stream class as Node's: `new C(path, options)` or `C(path, options)`. */
export interface FileStreamConstructor<S, O> {
  new (path: StreamPath, options?: O | BufferEncoding | null): S;
  (path: StreamPath, options?: O | BufferEncoding | null): S;
  readonly prototype: S;
}

/**
 * One of EventEmitter's listener methods (`on`, `once`, ...) typed by `Events`, a map
 * from event name to the listener's arguments, as @types/node types fs streams' events;
 * other events stay open to any listener.
 */
export interface TypedListener<Events extends Record<keyof Events, unknown[]>, This> {
  <E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): This;
  (event: string | symbol, listener: (...args: any[]) => void): This;
}

/** EventEmitter's methods that add a listener. */
type ListenerMethod = 'addListener' | 'on' | 'once' | 'prependListener' | 'prependOnceListener';

/** `Base` with its listener methods typed by `Events` (see {@link TypedListener}), returning `Self`. */
export type WithTypedEvents<Base, Events extends Record<keyof Events, unknown[]>, Self> = Omit<Base, ListenerMethod> & {
  [M in ListenerMethod]: TypedListener<Events, Self>;
};

/**
 * The class of a stream: `methods` (a class holding the prototype) behind a constructor
 * that sets up each instance with `init`, callable with and without `new`, subclassable
 * old-style, with Node's `pending` and `autoClose` accessors and the deprecated `open()`
 * where the running Node's fs streams have it.
 */
export function fileStreamClass<A extends unknown[]>(
  name: string, kind: 'ReadStream' | 'WriteStream', base: object, methods: { prototype: object }, init: (self: any, ...args: A) => void,
): unknown {
  addAccessors(methods.prototype, kind);
  addLegacyOpen(methods.prototype, kind);
  return nodeStyleConstructor(name, base, methods, init);
}

/** `pending` (not open yet) and `autoClose` (the stream state's autoDestroy), as Node's fs streams have them. */
function addAccessors(prototype: object, kind: 'ReadStream' | 'WriteStream'): void {
  const state = kind === 'ReadStream' ? '_readableState' : '_writableState';
  Object.defineProperties(prototype, {
    pending: {
      get(this: { fd: number | null }) {
        return this.fd === null;
      },
      configurable: true,
    },
    autoClose: {
      get(this: any) {
        checkThis(this, kind);
        return this[state].autoDestroy;
      },
      set(this: any, value: boolean) {
        checkThis(this, kind);
        this[state].autoDestroy = value;
      },
      configurable: true,
    },
  });
}

/**
 * A constructor that works with and without `new` and for old-style subclasses
 * (`Base.call(this, ...)` after util.inherits), as Node's fs stream classes do: the
 * instance is set up by `init` on whatever `this` is, and `base` (Writable or Readable)
 * is called as a function on it.
 */
function nodeStyleConstructor<A extends unknown[]>(
  name: string,
  base: object,
  methods: { prototype: object },
  init: (self: any, ...args: A) => void,
): unknown {
  const holder = {
    [name]: function (this: unknown, ...args: A): unknown {
      if (!(this instanceof (constructor as any))) return new (constructor as any)(...args);
      init(this, ...args);
      return undefined;
    },
  };
  const constructor = holder[name];
  constructor.prototype = methods.prototype;
  Object.defineProperty(methods.prototype, 'constructor', { value: constructor, writable: true, configurable: true });
  Object.setPrototypeOf(constructor, base);
  return constructor;
}
