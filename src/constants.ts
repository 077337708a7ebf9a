import { binding } from './native';

/**
 * Flags and advice values, with the kernel's numbers (also where libc headers lack
 * them). Flag bits not listed here may still be passed: the kernel decides.
 */
export interface Constants {
  readonly RWF_HIPRI: number;
  readonly RWF_DSYNC: number;
  readonly RWF_SYNC: number;
  readonly RWF_NOWAIT: number;
  readonly RWF_APPEND: number;
  readonly RWF_NOAPPEND: number;
  readonly RWF_ATOMIC: number;
  readonly RWF_DONTCACHE: number;
  readonly RWF_NOSIGNAL: number;
  readonly SYNC_FILE_RANGE_WAIT_BEFORE: number;
  readonly SYNC_FILE_RANGE_WRITE: number;
  readonly SYNC_FILE_RANGE_WAIT_AFTER: number;
  readonly POSIX_FADV_NORMAL: number;
  readonly POSIX_FADV_RANDOM: number;
  readonly POSIX_FADV_SEQUENTIAL: number;
  readonly POSIX_FADV_WILLNEED: number;
  readonly POSIX_FADV_DONTNEED: number;
  readonly POSIX_FADV_NOREUSE: number;
  /** Most iovecs per syscall; larger arrays are split. */
  readonly IOV_MAX: number;
  /**
   * Most bytes the kernel moves per read/write call: INT_MAX rounded down to a page
   * (0x7ffff000 with 4 KiB pages, 0x7fffc000 with 16 KiB, 0x7fff0000 with 64 KiB).
   */
  readonly MAX_BYTES_PER_CALL: number;
  /** Most buffers one pwritev2/preadv2 call takes (2^24); a longer array is a RangeError. */
  readonly MAX_BUFFERS: number;
  /** The running kernel's page size (sysconf(_SC_PAGESIZE)): 4096, or 16384 / 65536 on some arm64 kernels. */
  readonly PAGE_SIZE: number;
}

export const constants: Constants = Object.freeze({ ...binding.constants }) as unknown as Constants;
