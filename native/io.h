// Raw Linux I/O on file descriptors: no N-API here, only syscalls and errno.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

namespace dontcache {

// The kernel moves at most this many bytes per read/write call (MAX_RW_COUNT): it cuts a
// longer iovec list short there itself, and the write loop goes on from that byte.
constexpr size_t kMaxBytesPerCall = 0x7ffff000;

struct IoResult {
  int64_t bytes = 0;   // bytes transferred, also when err != 0 (what landed before the error)
  int err = 0;         // positive errno, 0 on success
  double ns = 0;       // time spent inside the syscalls, monotonic clock
  uint32_t calls = 0;  // syscalls made (EINTR retries included)
};

// Writes every byte of iov[0, count) with pwritev2, handing the caller's iovecs to the
// kernel as they are, at most IOV_MAX per call; short writes (the kernel's own cap at
// kMaxBytesPerCall among them) and EINTR continue at the next byte. iov is advanced past
// what was written. position -1 means the file position (and advances it).
IoResult WriteAll(int fd, iovec* iov, size_t count, int64_t position, int flags);

// One preadv2 (EINTR retried) into at most the first IOV_MAX iovecs; the kernel reads
// at most kMaxBytesPerCall bytes.
IoResult ReadOnce(int fd, const iovec* iov, size_t count, int64_t position, int flags);

IoResult Fsync(int fd, bool data_only);
IoResult SyncFileRange(int fd, int64_t offset, int64_t nbytes, unsigned flags);
IoResult Fadvise(int fd, int64_t offset, int64_t length, int advice);

struct CacheStat {
  uint64_t cache, dirty, writeback, evicted, recently_evicted;
};
IoResult CacheStatRange(int fd, uint64_t offset, uint64_t length, CacheStat* out);

// mmap + mincore: pages of [offset, offset+length) resident in the page cache.
// length 0 means to the end of the file. out_pages gets the pages examined.
IoResult Residency(int fd, uint64_t offset, uint64_t length, uint64_t* out_resident,
                   uint64_t* out_pages);

}  // namespace dontcache
