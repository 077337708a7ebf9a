// Glue between N-API and the operations in ops.cc: runs a Request on the libuv
// threadpool (or inline for *Sync) and hands its outcome to JavaScript.
#pragma once

#include <napi.h>

#include <memory>

#include "ops.h"

namespace dontcache {

// Runs request off the main thread, then calls complete(errno, bytes, ns, calls, ...extra)
// on the main thread. The views (the buffers) stay referenced until then, so garbage
// collection cannot free them. A read goes through memory of its own, copied into the
// views on the main thread: a view detached meanwhile (its buffer transferred) is skipped
// instead of being written to after it was freed.
void QueueAsync(napi_env env, napi_value complete, const Views& views, std::unique_ptr<Request> request);

// What a *Sync function returns: the byte count when it succeeded and has no extra
// numbers (the hot path allocates nothing), else a Float64Array
// [errno, bytes, ns, calls, ...extra].
napi_value SyncResult(napi_env env, const Outcome& outcome);

}  // namespace dontcache
