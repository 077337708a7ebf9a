/**
 * What the `cache` and `fallback` options decide for a stream: the strategy for a file
 * when it opens, the flags of its I/O, and where it goes when RWF_DONTCACHE is refused.
 */
import type { Stats } from 'node:fs';
import { constants } from './constants';
import { lookUpFileSystemHint, type FileSystemHint } from './fs-type';
import type { CacheOption, CacheStrategy, FallbackOption } from './stream-options';

/**
 * The strategy 'auto' picks for a file: RWF_DONTCACHE where the file system may take
 * it (the first I/O tells; a refusal switches per `fallback`), the userspace way where
 * it is known to be refused, and plain I/O on tmpfs/ramfs where the page cache is the
 * storage and there is nothing to drop.
 */
export function autoStrategy(hint: FileSystemHint, fallback: FallbackOption): CacheStrategy {
  if (hint === 'memory') return 'buffered';
  if (hint === 'refuses-dontcache') return fallbackStrategy(fallback);
  return 'dontcache';
}

/** Where a stream goes when RWF_DONTCACHE is refused (fallback 'error' never gets here). */
export function fallbackStrategy(fallback: FallbackOption): CacheStrategy {
  return fallback === 'buffered' ? 'buffered' : 'writeback';
}

/**
 * The strategy of a stream on an open file: plain I/O for anything but a regular file
 * (pipes, terminals, devices: no page cache of ours to keep clean), else the `cache`
 * option, or for 'auto' what the file system suggests (see {@link autoStrategy}).
 */
export function chooseStrategy(
  fd: number, stat: Stats, cache: CacheOption, fallback: FallbackOption, cb: (strategy: CacheStrategy) => void,
): void {
  if (!stat.isFile()) cb('buffered');
  else if (cache !== 'auto') cb(cache);
  else lookUpFileSystemHint(fd, (hint) => cb(autoStrategy(hint, fallback)));
}

/** The RWF_* flags of a strategy's reads and writes. */
export function ioFlags(strategy: CacheStrategy | 'pending'): number {
  return strategy === 'dontcache' ? constants.RWF_DONTCACHE : 0;
}

/**
 * Whether a failed I/O is worth repeating without RWF_DONTCACHE: EOPNOTSUPP (libuv
 * 'ENOTSUP') on a call that carried the flag, and a fallback other than 'error'.
 * The kernel checks flags before moving any byte, so the repeat writes nothing twice;
 * it also answers EOPNOTSUPP for other refused flags, hence the repeat decides.
 */
export function mayRetryWithoutDontcache(error: { code?: string }, flags: number, fallback: FallbackOption): boolean {
  return (flags & constants.RWF_DONTCACHE) !== 0 && error.code === 'ENOTSUP' && fallback !== 'error';
}
