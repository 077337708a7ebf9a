#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

namespace dontcache {
namespace {

double NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Runs fn (a syscall returning -1/errno on failure) until it does not fail with EINTR,
// adding its time and call count to result.
template <typename Fn>
auto Timed(IoResult& result, Fn fn) -> decltype(fn()) {
  for (;;) {
    double start = NowNs();
    auto r = fn();
    int saved = errno;
    result.ns += NowNs() - start;
    result.calls++;
    if (r < 0 && saved == EINTR) continue;
    errno = saved;
    return r;
  }
}

}  // namespace

IoResult WriteAll(int fd, iovec* iov, size_t count, int64_t position, int flags) {
  IoResult result;
  size_t first = 0;
  auto skip_empty = [&] {
    while (first < count && iov[first].iov_len == 0) first++;
  };
  skip_empty();
  // A zero-byte request still makes one call so that a bad fd or flag is reported.
  for (bool first_call = true; first < count || first_call; first_call = false) {
    size_t batch = std::min<size_t>(count - first, IOV_MAX);
    ssize_t r = Timed(result, [&] { return pwritev2(fd, iov + first, static_cast<int>(batch), position, flags); });
    if (r < 0) {
      result.err = errno;
      return result;
    }
    if (r == 0 && batch > 0) {
      // A regular file never answers a non-empty write with 0; looping would spin forever
      // and stopping silently would leave a short file, so report it as an I/O error.
      result.err = EIO;
      return result;
    }
    result.bytes += r;
    if (position != -1) position += r;
    for (size_t left = static_cast<size_t>(r); left > 0 && first < count;) {
      size_t take = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      left -= take;
      if (iov[first].iov_len == 0) first++;
    }
    skip_empty();
  }
  return result;
}

IoResult ReadOnce(int fd, const iovec* iov, size_t count, int64_t position, int flags) {
  IoResult result;
  int batch = static_cast<int>(std::min<size_t>(count, IOV_MAX));
  ssize_t r = Timed(result, [&] { return preadv2(fd, iov, batch, position, flags); });
  if (r < 0) {
    result.err = errno;
  } else {
    result.bytes = r;
  }
  return result;
}

IoResult Fsync(int fd, bool data_only) {
  IoResult result;
  int r = Timed(result, [&] { return data_only ? fdatasync(fd) : fsync(fd); });
  if (r < 0) result.err = errno;
  return result;
}

IoResult SyncFileRange(int fd, int64_t offset, int64_t nbytes, unsigned flags) {
  IoResult result;
  int r = Timed(result, [&] { return sync_file_range(fd, offset, nbytes, flags); });
  if (r < 0) result.err = errno;
  return result;
}

IoResult Fadvise(int fd, int64_t offset, int64_t length, int advice) {
  IoResult result;
  // posix_fadvise returns the error number instead of setting errno.
  int r = Timed(result, [&] {
    int e = posix_fadvise(fd, offset, length, advice);
    if (e != 0) {
      errno = e;
      return -1;
    }
    return 0;
  });
  if (r < 0) result.err = errno;
  return result;
}

IoResult CacheStatRange(int fd, uint64_t offset, uint64_t length, CacheStat* out) {
  struct {
    uint64_t off, len;
  } range = {offset, length};
  struct {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } cs = {};
  IoResult result;
  long r = Timed(result, [&] { return syscall(__NR_cachestat, fd, &range, &cs, 0); });
  if (r < 0) {
    result.err = errno;
    return result;
  }
  *out = {cs.nr_cache, cs.nr_dirty, cs.nr_writeback, cs.nr_evicted, cs.nr_recently_evicted};
  return result;
}

IoResult Residency(int fd, uint64_t offset, uint64_t length, uint64_t* out_resident,
                   uint64_t* out_pages) {
  IoResult result;
  *out_resident = 0;
  *out_pages = 0;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    result.err = errno;
    return result;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (offset >= size) return result;
  uint64_t end = (length == 0 || length > size - offset) ? size : offset + length;
  uint64_t start = offset / page * page;
  // Map and inspect in bounded windows so a huge file never needs a huge vector.
  constexpr uint64_t kWindow = 1ull << 30;
  std::vector<unsigned char> vec;
  for (uint64_t at = start; at < end; at += kWindow) {
    uint64_t len = std::min(kWindow, end - at);
    void* map = mmap(nullptr, len, PROT_NONE, MAP_SHARED, fd, static_cast<off_t>(at));
    if (map == MAP_FAILED) {
      result.err = errno;
      return result;
    }
    uint64_t pages = (len + page - 1) / page;
    vec.assign(pages, 0);
    int r = Timed(result, [&] { return mincore(map, len, vec.data()); });
    int saved = errno;
    munmap(map, len);
    if (r < 0) {
      result.err = saved;
      return result;
    }
    for (unsigned char v : vec) *out_resident += v & 1;
    *out_pages += pages;
  }
  return result;
}

}  // namespace dontcache
