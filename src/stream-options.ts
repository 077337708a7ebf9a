/**
 * Options shared by the dontcache streams: validation with Node's error codes, the
 * `cache`/`fallback` vocabulary, and the file-system check behind `cache: 'auto'`.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

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

// What Node's error messages say of a received value (lib/internal/errors.js).
function describe(value: unknown): string {
  if (value == null) return String(value);
  if (typeof value === 'function') return `function ${value.name}`;
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `an instance of ${name}` : inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

// "argument" for a parameter, "property" for an options field, as Node words it.
const noun = (name: string) => (name.includes('.') ? 'property' : 'argument');

/** TypeError ERR_INVALID_ARG_TYPE, worded as Node's. */
export function invalidArgType(name: string, expected: string, actual: unknown): CodedError<TypeError> {
  return coded(new TypeError(`The "${name}" ${noun(name)} must be ${expected}. Received ${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** TypeError ERR_INVALID_ARG_VALUE, worded as Node's. */
export function invalidArgValue(name: string, actual: unknown, reason: string): CodedError<TypeError> {
  let shown = inspect(actual);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return coded(new TypeError(`The ${noun(name)} '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE');
}

// Node writes large integers with underscores: 4_294_967_296.
function withSeparators(value: number): string {
  let digits = String(value);
  if (!Number.isInteger(value) || Math.abs(value) <= 2 ** 32) return digits;
  let out = '';
  const sign = value < 0 ? '-' : '';
  digits = digits.replace('-', '');
  for (let i = digits.length; i > 0; i -= 3) out = `_${digits.slice(Math.max(0, i - 3), i)}${out}`;
  return sign + out.slice(1);
}

/** RangeError ERR_OUT_OF_RANGE, worded as Node's. */
export function outOfRange(name: string, range: string, actual: unknown): CodedError<RangeError> {
  const shown = typeof actual === 'number' ? withSeparators(actual) : inspect(actual);
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

/** Node's validateInteger: a number (ERR_INVALID_ARG_TYPE), a safe integer in [min, max] (ERR_OUT_OF_RANGE). */
export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** Node's validateFunction. */
export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
}

/** Node's validateBoolean. */
export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

/** An integer option of ours (`windowSize`): undefined or null mean `fallback`. */
export function integerOption(name: string, value: unknown, min: number, fallback: number): number {
  return value == null ? fallback : validateInteger(value, name, min);
}

/** A choice option of ours (`cache`, `fallback`): undefined or null mean `fallback`. */
export function choiceOption<T extends string>(name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value == null) return fallback;
  if (!choices.includes(value as T)) {
    throw invalidArgValue(name, value, `must be one of: ${choices.map((c) => `'${c}'`).join(', ')}`);
  }
  return value as T;
}

/**
 * Node's getOptions for the fs streams: undefined/null mean {}, a string is the
 * encoding, anything but an object is ERR_INVALID_ARG_TYPE; an unknown encoding is
 * ERR_INVALID_ARG_VALUE. Returns a copy the stream may change.
 */
export function copyOptions<T extends object>(options: unknown): Partial<T> & Record<string, unknown> {
  let copy: Record<string, unknown>;
  if (options == null || typeof options === 'function') copy = {};
  else if (typeof options === 'string') copy = { encoding: options };
  else if (typeof options !== 'object') throw invalidArgType('options', 'one of type string or object', options);
  else {
    // for...in, as Node's copyObject: options inherited through a prototype count too.
    copy = {};
    for (const key in options as Record<string, unknown>) copy[key] = (options as Record<string, unknown>)[key];
  }
  const signal = copy.signal as { aborted?: unknown } | null | undefined;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  const encoding = copy.encoding;
  if (encoding && encoding !== 'buffer' && !Buffer.isEncoding(encoding as string)) {
    throw invalidArgValue('encoding', encoding, 'is invalid encoding');
  }
  return copy as Partial<T> & Record<string, unknown>;
}

/**
 * Node's toPathIfFileURL + validatePath: a file: URL becomes its path through
 * url.fileURLToPath (so %2F and other schemes throw as in fs); a Buffer stays a
 * Buffer (names need not be UTF-8); strings and Buffers may not hold NUL bytes.
 */
export function streamPath(path: unknown): string | Buffer {
  const value = isUrl(path) ? fileURLToPath(path as URL) : path;
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw invalidArgType('path', 'of type string or an instance of Buffer or URL', value);
  }
  const hasNul = typeof value === 'string' ? value.includes('\u0000') : value.includes(0);
  if (hasNul) throw invalidArgValue('path', value, 'must be a string, Uint8Array, or URL without null bytes');
  return typeof value === 'string' || Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

// A URL instance, or a URL-like object (what Node's isURL accepts).
function isUrl(value: unknown): boolean {
  if (value instanceof URL) return true;
  const v = value as { href?: unknown; protocol?: unknown; auth?: unknown; path?: unknown } | null;
  return typeof v === 'object' && v !== null && Boolean(v.href) && Boolean(v.protocol) && v.auth === undefined && v.path === undefined;
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
