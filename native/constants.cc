#include "constants.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "args.h"
#include "io.h"

// The kernel's values (include/uapi/linux/fs.h); older libc headers lack the newer ones.
#ifndef RWF_HIPRI
#define RWF_HIPRI 0x00000001
#endif
#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x00000004
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x00000010
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x00000040
#endif
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100
#endif

namespace dontcache {

Napi::Object MakeConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { c.Set(name, Napi::Number::New(env, value)); };
  set("RWF_HIPRI", RWF_HIPRI);
  set("RWF_DSYNC", RWF_DSYNC);
  set("RWF_SYNC", RWF_SYNC);
  set("RWF_NOWAIT", RWF_NOWAIT);
  set("RWF_APPEND", RWF_APPEND);
  set("RWF_NOAPPEND", RWF_NOAPPEND);
  set("RWF_ATOMIC", RWF_ATOMIC);
  set("RWF_DONTCACHE", RWF_DONTCACHE);
  set("RWF_NOSIGNAL", RWF_NOSIGNAL);
  set("SYNC_FILE_RANGE_WAIT_BEFORE", SYNC_FILE_RANGE_WAIT_BEFORE);
  set("SYNC_FILE_RANGE_WRITE", SYNC_FILE_RANGE_WRITE);
  set("SYNC_FILE_RANGE_WAIT_AFTER", SYNC_FILE_RANGE_WAIT_AFTER);
  set("POSIX_FADV_NORMAL", POSIX_FADV_NORMAL);
  set("POSIX_FADV_RANDOM", POSIX_FADV_RANDOM);
  set("POSIX_FADV_SEQUENTIAL", POSIX_FADV_SEQUENTIAL);
  set("POSIX_FADV_WILLNEED", POSIX_FADV_WILLNEED);
  set("POSIX_FADV_DONTNEED", POSIX_FADV_DONTNEED);
  set("POSIX_FADV_NOREUSE", POSIX_FADV_NOREUSE);
  set("IOV_MAX", IOV_MAX);
  // The page size is the running kernel's (4, 16 or 64 KiB on arm64), never the build's.
  // The kernel caps a read/write call at INT_MAX rounded down to a page (MAX_RW_COUNT):
  // 0x7ffff000 with 4 KiB pages, 0x7fffc000 with 16 KiB, 0x7fff0000 with 64 KiB.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  set("MAX_BYTES_PER_CALL", static_cast<double>(kMaxBytesPerCall & ~(page - 1)));
  set("MAX_BUFFERS", kMaxBuffers);
  set("PAGE_SIZE", static_cast<double>(page));
  return c;
}

}  // namespace dontcache
