/**
 * Options shared by the dontcache streams: validation with Node's error codes, the
 * `cache`/`fallback` vocabulary, and the file-system check behind `cache: 'auto'`.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** How a stream treats the page cache. */
export type CacheStrategy = 'dontcache' | 'writeback' | 'buffered';
/** The `cache` option: a strategy, or `'auto'` to pick one per file. */
export type CacheOption = CacheStrategy | 'auto';
/** What to do when the kernel or file system refuses RWF_DONTCACHE. */
export type FallbackOption = 'writeback' | 'buffered' | 'error';

import { RWF_DONTCACHE } from './constants';

export { RWF_DONTCACHE };

export const CACHE_OPTIONS: readonly CacheOption[] = ['auto', 'dontcache', 'writeback', 'buffered'];
export const FALLBACK_OPTIONS: readonly FallbackOption[] = ['writeback', 'buffered', 'error'];

/** Told with every `'fallback'` event. */
export interface FallbackEvent {
  from: CacheStrategy;
  to: CacheStrategy;
  /** The refusal that caused the switch (code 'ENOTSUP'). */
  reason: Error;
  /** File offset of the write (or read) that was refused; -1 when writing at the end (append). */
  position: number;
}

type CodedError<E extends Error> = E & { code: string };

function coded<E extends Error>(error: E, code: string): CodedError<E> {
  return Object.assign(error, { code });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${value.name}`;
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return `type ${typeof value} (${String(value)})`;
}

/** TypeError ERR_INVALID_ARG_TYPE, as Node's validators throw it. */
export function invalidArgType(name: string, expected: string, actual: unknown): CodedError<TypeError> {
  return coded(
    new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`),
    'ERR_INVALID_ARG_TYPE',
  );
}

/** TypeError ERR_INVALID_ARG_VALUE. */
export function invalidArgValue(name: string, actual: unknown, reason: string): CodedError<TypeError> {
  return coded(
    new TypeError(`The argument '${name}' ${reason}. Received ${JSON.stringify(actual)}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

/** RangeError ERR_OUT_OF_RANGE. */
export function outOfRange(name: string, range: string, actual: unknown): CodedError<RangeError> {
  return coded(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${String(actual)}`),
    'ERR_OUT_OF_RANGE',
  );
}

/** Checks an optional integer option; returns it or `fallback`. */
export function integerOption(name: string, value: unknown, min: number, fallback: number): number;
export function integerOption(name: string, value: unknown, min: number, fallback?: number): number | undefined;
export function integerOption(name: string, value: unknown, min: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < min) {
    throw outOfRange(name, `an integer >= ${min} and <= ${Number.MAX_SAFE_INTEGER}`, value);
  }
  return value;
}

/** Checks an optional choice among `choices`. */
export function choiceOption<T extends string>(name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) {
    throw invalidArgValue(name, value, `must be one of: ${choices.map((c) => `'${c}'`).join(', ')}`);
  }
  return value as T;
}

/** Checks an optional boolean option. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

/** An open file given as `fd`: a descriptor, or a FileHandle whose descriptor is used. */
export interface GivenFile {
  fd: number;
  handle?: FileHandle;
}

function isFileHandle(value: unknown): value is FileHandle {
  return typeof value === 'object' && value !== null && typeof (value as FileHandle).close === 'function' &&
    typeof (value as FileHandle).fd === 'number';
}

/** Checks the `fd` option: undefined, a non-negative integer or a FileHandle. */
export function fileOption(value: unknown): GivenFile | undefined {
  if (value === undefined || value === null) return undefined;
  if (isFileHandle(value)) {
    if (value.fd < 0) throw invalidArgValue('options.fd', value.fd, 'is a closed FileHandle');
    return { fd: value.fd, handle: value };
  }
  return { fd: integerOption('options.fd', value, 0) as number };
}

/** Checks the `path` argument; it may be undefined only when `fd` is given. */
export function pathArgument(path: unknown, given: GivenFile | undefined): string | undefined {
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidArgValue('path', path.href, 'must be a file: URL');
    return decodeURIComponent(path.pathname);
  }
  if (Buffer.isBuffer(path)) return path.toString();
  if (typeof path === 'string') {
    if (path.includes('\u0000')) throw invalidArgValue('path', path, 'must be a string without null bytes');
    return path;
  }
  if ((path === undefined || path === null) && given) return undefined;
  throw invalidArgType('path', 'of type string or an instance of Buffer or URL', path);
}

/** Normalises the second argument of the create functions: a string means `{ encoding }`. */
export function optionsArgument<T extends object>(options: T | BufferEncoding | undefined | null): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options === 'string') return { encoding: options } as unknown as Partial<T>;
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object or string', options);
  return options;
}

/** Closes a file the stream opened or was given, the way it was given. */
export function closeFile(fd: number, handle: FileHandle | undefined, cb: (error: Error | null) => void): void {
  if (handle) handle.close().then(() => cb(null), cb);
  else fs.close(fd, (error) => cb(error));
}

// statfs(2) f_type magic numbers (linux/magic.h).
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const BTRFS_MAGIC = 0x9123683e;
const OVERLAYFS_MAGIC = 0x794c7630;
const FUSE_MAGIC = 0x65735546;

/** What the file system of a path suggests for `cache: 'auto'`, before any write. */
export type FileSystemHint = 'memory' | 'refuses-dontcache' | 'try-dontcache';

/**
 * Classifies the file system holding `path` by its statfs type:
 * 'memory' (tmpfs, ramfs: the page cache *is* the storage, nothing to drop),
 * 'refuses-dontcache' (btrfs, overlayfs, FUSE: known to answer EOPNOTSUPP up to Linux 7.2),
 * or 'try-dontcache' (ext4, XFS, NFS and anything unknown: the first write tells).
 */
export function fileSystemHint(type: number): FileSystemHint {
  // statfs reports f_type as a signed long on some ABIs; compare unsigned.
  const magic = type >>> 0;
  if (magic === TMPFS_MAGIC || magic === RAMFS_MAGIC) return 'memory';
  if (magic === BTRFS_MAGIC || magic === OVERLAYFS_MAGIC || magic === FUSE_MAGIC) return 'refuses-dontcache';
  return 'try-dontcache';
}

/**
 * Looks up the file-system hint of an open file (asynchronously, statfs of
 * /proc/self/fd/N, since Node has no fstatfs); 'try-dontcache' when statfs fails.
 */
export function lookUpFileSystemHint(fd: number, cb: (hint: FileSystemHint) => void): void {
  fs.statfs(`/proc/self/fd/${fd}`, (error, stats) => cb(error ? 'try-dontcache' : fileSystemHint(Number(stats.type))));
}

/**
 * The strategy 'auto' picks for a file: RWF_DONTCACHE where the file system may take
 * it (the first I/O tells; a refusal switches per `fallback`), the userspace way where
 * it is known to be refused, and plain I/O on tmpfs/ramfs where the page cache is the
 * storage and there is nothing to drop.
 */
export function autoStrategy(hint: FileSystemHint, fallback: FallbackOption): CacheStrategy {
  if (hint === 'memory') return 'buffered';
  if (hint === 'refuses-dontcache') return fallback === 'buffered' ? 'buffered' : 'writeback';
  return 'dontcache';
}

/** Where a stream goes when RWF_DONTCACHE is refused (fallback 'error' never gets here). */
export function fallbackStrategy(fallback: FallbackOption): CacheStrategy {
  return fallback === 'buffered' ? 'buffered' : 'writeback';
}

/**
 * Whether a failed I/O is worth repeating without RWF_DONTCACHE: EOPNOTSUPP (libuv
 * 'ENOTSUP') on a call that carried the flag, and a fallback other than 'error'.
 * The kernel checks flags before moving any byte, so the repeat writes nothing twice;
 * it also answers EOPNOTSUPP for other refused flags, hence the repeat decides.
 */
export function mayRetryWithoutDontcache(error: { code?: string }, flags: number, fallback: FallbackOption): boolean {
  return (flags & RWF_DONTCACHE) !== 0 && error.code === 'ENOTSUP' && fallback !== 'error';
}

/** What opening needs from a stream (both dontcache streams have these fields). */
export interface StreamFile {
  fd: number | null;
  readonly path: string | undefined;
  readonly flags: string | number;
  readonly mode: number;
  emit(event: string, ...args: unknown[]): boolean;
}

type Done = (error?: Error | null) => void;

/**
 * The `_construct` of both streams: a given fd is prepared as it is; a path is opened
 * first, and 'open' then 'ready' follow a successful preparation, as in node:fs streams.
 */
export function openStreamFile(stream: StreamFile, prepare: (fd: number, given: boolean, done: Done) => void, callback: Done): void {
  if (stream.fd !== null) {
    prepare(stream.fd, true, callback);
    return;
  }
  fs.open(stream.path as string, stream.flags, stream.mode, (error, fd) => {
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
