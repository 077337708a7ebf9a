// The operations of the addon as plain data: what a call asked for (Request, parsed from
// its arguments on the main thread) and what it did (Outcome). Run works on a Request
// and touches no JavaScript value, so it runs on a worker thread or inline for *Sync.
#pragma once

#include <napi.h>

#include "args.h"
#include "io.h"

namespace dontcache {

enum class Op { kWrite, kRead, kFsync, kFdatasync, kSyncFileRange, kFadvise, kCacheStat, kResidency };

struct Request {
  Op op = Op::kWrite;
  int fd = -1;
  int64_t offset = -1;  // pwritev2/preadv2 position (-1: the file position), else where a range starts
  int64_t length = 0;   // length of a range (0: to the end of the file)
  int64_t flags = 0;    // RWF_*, SYNC_FILE_RANGE_* flags or POSIX_FADV_* advice
  Iovecs iov;           // pwritev2/preadv2 buffers
};

struct Outcome {
  IoResult io;
  double extra[5] = {0, 0, 0, 0, 0};  // operation-specific numbers (cachestat fields, ...)
  int extra_count = 0;
};

// Reads the arguments of one operation into request; the views of a pwritev2/preadv2
// go to views (see ArgViews). Returns how many arguments the operation takes (the
// callback of the async form comes after them).
using Parser = size_t (*)(const Napi::CallbackInfo& info, Request& request, Views& views);
size_t ParseWrite(const Napi::CallbackInfo& info, Request& request, Views& views);
size_t ParseRead(const Napi::CallbackInfo& info, Request& request, Views& views);
size_t ParseFsync(const Napi::CallbackInfo& info, Request& request, Views& views);
size_t ParseSyncFileRange(const Napi::CallbackInfo& info, Request& request, Views& views);
size_t ParseFadvise(const Napi::CallbackInfo& info, Request& request, Views& views);
size_t ParseCacheStat(const Napi::CallbackInfo& info, Request& request, Views& views);
size_t ParseResidency(const Napi::CallbackInfo& info, Request& request, Views& views);

Outcome Run(Request& request);

}  // namespace dontcache
