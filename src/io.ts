import { binding, type Buffers, type NativeCallback, type Position, type SyncOutcome } from './native';
import { systemError, EOPNOTSUPP, ENOSYS, type SystemError } from './errors';
import { constants } from './constants';

export type { Buffers, Position } from './native';

/** Offsets and lengths: a safe integer or a bigint. */
export type Offset = number | bigint;

/** What one `pwritev2Timed`/`preadv2Timed` call did, measured on the worker thread. */
export interface IoTiming {
  /** Bytes written or read. */
  bytes: number;
  /** Nanoseconds spent inside the syscalls (monotonic clock), the writer-side latency. */
  syscallNs: number;
  /** Syscalls made: more than one when the write was split or retried. */
  syscalls: number;
}

/**
 * Page counts of a file range in the page cache, from cachestat(2) (the kernel's
 * `struct cachestat`: nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted).
 */
export interface CacheStat {
  /** Pages resident in the page cache (`cached`, as in {@link PageCounts}). */
  cached: number;
  /** @deprecated The same as {@link CacheStat.cached}, its name before 0.2. */
  cache: number;
  dirty: number;
  writeback: number;
  evicted: number;
  recentlyEvicted: number;
}

/** `RWF_DONTCACHE|RWF_NOWAIT (0x88)`: the flags by name (unknown bits in hex), then the number. */
function flagNames(flags: number): string {
  const names = Object.entries(constants)
    .filter(([name, bit]) => name.startsWith('RWF_') && (flags & bit) !== 0)
    .map(([name]) => name);
  const known = names.reduce((bits, name) => bits | constants[name as keyof typeof constants], 0);
  const unknown = (flags & ~known) >>> 0;
  if (unknown !== 0) names.push(`0x${unknown.toString(16)}`);
  return `${names.join('|')} (0x${flags.toString(16)})`;
}

function hintFor(syscall: string, errno: number, flags: number): string | undefined {
  if (errno === EOPNOTSUPP && flags !== 0) {
    const dontcache = flags & constants.RWF_DONTCACHE ? '; RWF_DONTCACHE needs Linux 6.14+ and a file system that supports it' : '';
    return `the kernel or file system refused flags ${flagNames(flags)}${dontcache}`;
  }
  if (errno === ENOSYS && syscall === 'cachestat') return 'cachestat needs Linux 6.5 or later';
  return undefined;
}

function failure(errno: number, syscall: string, bytes: number, flags = 0): SystemError {
  const write = syscall === 'pwritev2';
  return systemError(errno, syscall, { bytesWritten: write ? bytes : undefined, hint: hintFor(syscall, errno, flags) });
}

/** The bytes of a raw `*Sync` outcome, or its failure thrown as a system error. */
function syncBytes(outcome: SyncOutcome, syscall: string, flags = 0): number {
  if (typeof outcome === 'number') return outcome;
  if (outcome[0] !== 0) throw failure(outcome[0], syscall, outcome[1], flags);
  return outcome[1];
}

/** The extra numbers of a raw `*Sync` outcome (cachestat fields, ...), or its failure thrown. */
function syncExtra(outcome: SyncOutcome, syscall: string): ArrayLike<number> {
  syncBytes(outcome, syscall);
  return (outcome as Float64Array).subarray(4);
}

/** Calls a callback-style native function and settles a promise with `map` of its outcome. */
function call<T>(
  syscall: string,
  flags: number,
  start: (cb: NativeCallback) => void,
  map: (bytes: number, ns: number, calls: number, extra: ArrayLike<number>) => T,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((errno, bytes, ns, calls, ...extra) => {
      if (errno === 0) resolve(map(bytes, ns, calls, extra));
      else reject(failure(errno, syscall, bytes, flags));
    });
  });
}

const bytesOf = (bytes: number) => bytes;
const timingOf = (bytes: number, syscallNs: number, syscalls: number): IoTiming => ({ bytes, syscallNs, syscalls });
const nothing = () => undefined;
const cacheStatOf = (_b: number, _ns: number, _c: number, e: ArrayLike<number>): CacheStat => ({
  cached: e[0], cache: e[0], dirty: e[1], writeback: e[2], evicted: e[3], recentlyEvicted: e[4],
});

/**
 * Writes every byte of `buffers` at `position` with pwritev2(2) and `flags` (`RWF_*`),
 * on the libuv threadpool. Short writes and EINTR are retried; more than IOV_MAX
 * buffers or more than 0x7ffff000 bytes are split into several calls.
 * `position` -1 or null writes at (and advances) the file position.
 * Resolves with the bytes written (all of them). On failure the error's
 * `bytesWritten` tells how many bytes landed before it.
 */
export function pwritev2(fd: number, buffers: Buffers, position: Position = -1, flags = 0): Promise<number> {
  return call('pwritev2', flags, (cb) => binding.pwritev2(fd, buffers, position, flags, cb), bytesOf);
}

/**
 * Like {@link pwritev2}, and also tells the nanoseconds spent inside the syscalls (the
 * writer-side latency, measured on the worker thread) and how many syscalls it took.
 */
export function pwritev2Timed(fd: number, buffers: Buffers, position: Position = -1, flags = 0): Promise<IoTiming> {
  return call('pwritev2', flags, (cb) => binding.pwritev2(fd, buffers, position, flags, cb), timingOf);
}

/** Synchronous {@link pwritev2}: blocks the event loop until every byte is written. */
export function pwritev2Sync(fd: number, buffers: Buffers, position: Position = -1, flags = 0): number {
  return syncBytes(binding.pwritev2Sync(fd, buffers, position, flags), 'pwritev2', flags);
}

/**
 * One preadv2(2) into `buffers` (at most IOV_MAX of them and 0x7ffff000 bytes) at
 * `position` with `flags`. Resolves with the bytes read: fewer than asked near the
 * end of the file, 0 at the end.
 */
export function preadv2(fd: number, buffers: Buffers, position: Position = -1, flags = 0): Promise<number> {
  return call('preadv2', flags, (cb) => binding.preadv2(fd, buffers, position, flags, cb), bytesOf);
}

/** Like {@link preadv2}, and also tells the nanoseconds spent inside the one syscall. */
export function preadv2Timed(fd: number, buffers: Buffers, position: Position = -1, flags = 0): Promise<IoTiming> {
  return call('preadv2', flags, (cb) => binding.preadv2(fd, buffers, position, flags, cb), timingOf);
}

/** Synchronous {@link preadv2}. */
export function preadv2Sync(fd: number, buffers: Buffers, position: Position = -1, flags = 0): number {
  return syncBytes(binding.preadv2Sync(fd, buffers, position, flags), 'preadv2', flags);
}

/** fdatasync(2): file data (and the metadata needed to read it) reaches the device. */
export function fdatasync(fd: number): Promise<void> {
  return call('fdatasync', 0, (cb) => binding.fsync(fd, true, cb), nothing);
}

export function fdatasyncSync(fd: number): void {
  syncBytes(binding.fsyncSync(fd, true), 'fdatasync');
}

/** fsync(2): file data and all metadata reach the device. */
export function fsync(fd: number): Promise<void> {
  return call('fsync', 0, (cb) => binding.fsync(fd, false, cb), nothing);
}

export function fsyncSync(fd: number): void {
  syncBytes(binding.fsyncSync(fd, false), 'fsync');
}

/**
 * sync_file_range(2) with `SYNC_FILE_RANGE_*` flags: starts and/or waits for
 * writeback of a range. `nbytes` 0 means to the end of the file. Not a durability
 * promise (no metadata, no disk cache flush): use fdatasync for that.
 */
export function syncFileRange(fd: number, offset: Offset, nbytes: Offset, flags: number): Promise<void> {
  return call('sync_file_range', 0, (cb) => binding.syncFileRange(fd, offset, nbytes, flags, cb), nothing);
}

export function syncFileRangeSync(fd: number, offset: Offset, nbytes: Offset, flags: number): void {
  syncBytes(binding.syncFileRangeSync(fd, offset, nbytes, flags), 'sync_file_range');
}

/** posix_fadvise(2) with a `POSIX_FADV_*` advice. `length` 0 means to the end of the file. */
export function fadvise(fd: number, offset: Offset, length: Offset, advice: number): Promise<void> {
  return call('posix_fadvise', 0, (cb) => binding.fadvise(fd, offset, length, advice, cb), nothing);
}

export function fadviseSync(fd: number, offset: Offset, length: Offset, advice: number): void {
  syncBytes(binding.fadviseSync(fd, offset, length, advice), 'posix_fadvise');
}

/**
 * cachestat(2) (Linux 6.5+): page counts of `[offset, offset+length)` in the page
 * cache; `length` 0 (the default) means to the end of the file. Rejects with ENOSYS
 * on older kernels.
 */
export function cachestat(fd: number, offset: Offset = 0, length: Offset = 0): Promise<CacheStat> {
  return call('cachestat', 0, (cb) => binding.cachestat(fd, offset, length, cb), cacheStatOf);
}

export function cachestatSync(fd: number, offset: Offset = 0, length: Offset = 0): CacheStat {
  return cacheStatOf(0, 0, 0, syncExtra(binding.cachestatSync(fd, offset, length), 'cachestat'));
}

/** Resident pages of a range found with mmap + mincore(2), for kernels without cachestat. */
export interface Residency {
  resident: number;
  pages: number;
}

const residencyOf = (_b: number, _ns: number, _c: number, e: ArrayLike<number>): Residency => ({ resident: e[0], pages: e[1] });

/** mmap + mincore(2) over `[offset, offset+length)` (0: to the end); `fd` must be readable. */
export function mincoreResidency(fd: number, offset: Offset = 0, length: Offset = 0): Promise<Residency> {
  return call('mincore', 0, (cb) => binding.residency(fd, offset, length, cb), residencyOf);
}

export function mincoreResidencySync(fd: number, offset: Offset = 0, length: Offset = 0): Residency {
  return residencyOf(0, 0, 0, syncExtra(binding.residencySync(fd, offset, length), 'mincore'));
}

/**
 * Bytes to skip at the start of `view` so that the rest starts at an address that is
 * a multiple of `alignment` (a power of two), as O_DIRECT needs.
 */
export function alignmentOffset(view: NodeJS.ArrayBufferView, alignment: number): number {
  return binding.alignmentOffset(view, alignment);
}

/**
 * The callback of {@link pwritev2Callback} and {@link preadv2Callback}: the error (with
 * `bytesWritten` for writes), the bytes moved, the nanoseconds inside the syscalls and
 * how many syscalls it took. No promise per call.
 */
export type IoCallback = (error: SystemError | null, bytes: number, syscallNs: number, syscalls: number) => void;

/** @deprecated The name of {@link IoCallback} before 0.2 (it serves reads too). */
export type WriteCallback = IoCallback;

// The addon checks `cb` with the other arguments, in Node's order, and then calls the
// translating function after it instead (see native/binding.cc).
export function pwritev2Callback(fd: number, buffers: Buffers, position: Position, flags: number, cb: IoCallback): void {
  binding.pwritev2(fd, buffers, position, flags, cb, (errno, bytes, ns, calls) => {
    cb(errno === 0 ? null : failure(errno, 'pwritev2', bytes, flags), bytes, ns, calls);
  });
}

export function preadv2Callback(fd: number, buffers: Buffers, position: Position, flags: number, cb: IoCallback): void {
  binding.preadv2(fd, buffers, position, flags, cb, (errno, bytes, ns, calls) => {
    cb(errno === 0 ? null : failure(errno, 'preadv2', bytes, flags), bytes, ns, calls);
  });
}
