/**
 * The options both dontcache streams read beyond fs.createWriteStream's and
 * fs.createReadStream's: the `cache`/`fallback` vocabulary, and Node's own option
 * copying (getOptions) they start from.
 */
import { invalidArgType, invalidArgValue } from './validate';

/**
 * How a stream treats the page cache:
 * - 'dontcache': every read or write carries RWF_DONTCACHE; the kernel drops the pages.
 * - 'writeback': the userspace way, plain I/O and the stream pushes its own pages out.
 *   Writes: a window behind the writer, sync_file_range to write it back, then
 *   POSIX_FADV_DONTNEED. Reads have nothing to write back: POSIX_FADV_DONTNEED behind the
 *   reader. The one name serves both, as the `--cache` option of `cp` sets both streams.
 * - 'buffered': plain I/O, nothing dropped (as node:fs).
 */
export type CacheStrategy = 'dontcache' | 'writeback' | 'buffered';
/** The `cache` option: a strategy, or `'auto'` to pick one per file. */
export type CacheOption = CacheStrategy | 'auto';
/** What to do when the kernel or file system refuses RWF_DONTCACHE. */
export type FallbackOption = 'writeback' | 'buffered' | 'error';

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
