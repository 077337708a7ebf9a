import type { ProbeResult } from './types';

// File systems whose page cache is the storage itself: there is nothing to drop.
const MEMORY_FS = new Set(['tmpfs', 'ramfs']);

/** What a probe result means for someone writing big files in the probed directory. */
export function adviceFor(result: ProbeResult): string[] {
  const { fsType, writeback } = result;
  if (MEMORY_FS.has(fsType)) {
    return [`${fsType} keeps files only in memory: the page cache is the storage, there is nothing to drop. Plain buffered writes are right here.`];
  }
  if (writeback === 'unsupported') {
    return [
      'This kernel has no RWF_DONTCACHE (it needs Linux 6.14+, and 6.16/6.17+ for XFS/ext4).',
      "To keep big writes out of the page cache use cache: 'writeback' (sync_file_range windows + POSIX_FADV_DONTNEED); cache: 'auto' does this for you.",
    ];
  }
  const lines: string[] = [];
  if (!result.dontcacheWrite) {
    lines.push(
      `${fsType} refuses RWF_DONTCACHE writes here (${result.refusedWith ?? 'refused'}).`,
      "Use cache: 'writeback' for big writes; cache: 'auto' falls back to it.",
    );
  } else if (writeback === 'inline-flush') {
    lines.push(
      'RWF_DONTCACHE works here. The writer pays for writeback: each write also submits I/O for the range it just wrote (inline flush, Linux 6.14-7.1).',
      "Fine for bulk throughput; for latency-sensitive writers consider cache: 'writeback', which bounds dirty memory with a cheaper per-write cost.",
    );
  } else if (writeback === 'flusher-kick') {
    lines.push(
      'RWF_DONTCACHE works here and writeback is handed to the flusher thread (flusher kick, Linux 7.2+): writers do not pay for submission.',
      "cache: 'dontcache' (or 'auto') is the best choice for big sequential writes.",
    );
  } else {
    lines.push(
      'RWF_DONTCACHE works here, but the evidence does not tell how writeback is done (see above).',
      "cache: 'dontcache' is safe; measure write latency if it matters.",
    );
  }
  if (result.overwriteDropped === false) {
    lines.push(
      `Overwrites of data already on disk stay in the page cache here after RWF_DONTCACHE writes (${fsType} on this kernel skips the drop); new files and appends are dropped.`,
      "DontcacheWriteStream notices and drops them itself after each window; with pwritev2 directly, call dropCache() or fadvise(POSIX_FADV_DONTNEED) after fdatasync.",
    );
  } else if (result.overwriteDropped === true) {
    lines.push('Overwrites of data already on disk are dropped too.');
  }
  if (!result.dontcacheRead) lines.push('Reads with RWF_DONTCACHE are refused here: read with plain preadv2 and drop pages with POSIX_FADV_DONTNEED.');
  else if (!result.dontcacheWrite) lines.push('Reads with RWF_DONTCACHE are accepted here.');
  return lines;
}
