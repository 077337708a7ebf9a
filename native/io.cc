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

// Fills batch with up to IOV_MAX entries and kMaxBytesPerCall bytes from iov[first...].
size_t FillBatch(const std::vector<iovec>& iov, size_t first, iovec* batch, size_t* bytes) {
  size_t count = 0;
  size_t total = 0;
  for (size_t i = first; i < iov.size() && count < IOV_MAX && total < kMaxBytesPerCall; i++) {
    if (iov[i].iov_len == 0) continue;
    size_t take = std::min(iov[i].iov_len, kMaxBytesPerCall - total);
    batch[count].iov_base = iov[i].iov_base;
    batch[count].iov_len = take;
    total += take;
    count++;
  }
  *bytes = total;
  return count;
}

}  // namespace

// Batch storage: on the stack for the usual few buffers, on the heap for many.
class Batch {
 public:
  explicit Batch(size_t buffers) {
    if (buffers > kInline) heap_.resize(std::min<size_t>(buffers, IOV_MAX));
  }
  iovec* data() { return heap_.empty() ? inline_ : heap_.data(); }

 private:
  static constexpr size_t kInline = 16;
  iovec inline_[kInline];
  std::vector<iovec> heap_;
};

IoResult WriteAll(int fd, std::vector<iovec>& iov, int64_t position, int flags) {
  IoResult result;
  Batch batch(iov.size());
  size_t first = 0;
  bool first_call = true;
  for (;;) {
    while (first < iov.size() && iov[first].iov_len == 0) first++;
    size_t want = 0;
    size_t count = FillBatch(iov, first, batch.data(), &want);
    // A zero-byte request still makes one call so that a bad fd or flag is reported.
    if (count == 0 && !first_call) return result;
    first_call = false;
    ssize_t r = Timed(result, [&] { return pwritev2(fd, batch.data(), count, position, flags); });
    if (r < 0) {
      result.err = errno;
      return result;
    }
    if (r == 0 && want > 0) {
      // A regular file never answers a non-empty write with 0; looping would spin forever
      // and stopping silently would leave a short file, so report it as an I/O error.
      result.err = EIO;
      return result;
    }
    result.bytes += r;
    if (position != -1) position += r;
    size_t left = static_cast<size_t>(r);
    while (left > 0) {
      size_t take = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      left -= take;
      if (iov[first].iov_len == 0) first++;
    }
    if (count == 0) return result;
  }
}

IoResult ReadOnce(int fd, const std::vector<iovec>& iov, int64_t position, int flags) {
  IoResult result;
  Batch batch(iov.size());
  size_t want = 0;
  size_t count = FillBatch(iov, 0, batch.data(), &want);
  ssize_t r = Timed(result, [&] { return preadv2(fd, batch.data(), count, position, flags); });
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
