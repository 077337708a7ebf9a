// Glue between N-API and the raw I/O in io.cc: runs an operation on the libuv
// threadpool (or inline for *Sync) and hands its outcome to JavaScript.
#pragma once

#include <napi.h>

#include <functional>

#include "io.h"

namespace dontcache {

struct Outcome {
  IoResult io;
  double extra[5] = {0, 0, 0, 0, 0};  // operation-specific numbers (cachestat fields, ...)
  int extra_count = 0;
};

using Operation = std::function<Outcome()>;

// Runs op off the main thread, then calls
// callback(errno, bytes, ns, calls, ...extra) on the main thread. keep_alive (the
// buffers) stays referenced until then, so garbage collection cannot free them.
void QueueAsync(Napi::Env env, Napi::Function callback, Napi::Value keep_alive, Operation op);

// What a *Sync function returns: the byte count when it succeeded and has no extra
// numbers (the hot path allocates nothing), else [errno, bytes, ns, calls, ...extra].
Napi::Value SyncResult(Napi::Env env, const Outcome& outcome);

}  // namespace dontcache
