// Argument checks for the N-API layer: wrong arguments throw TypeError/RangeError with
// Node's error codes and wording before any syscall is made.
#pragma once

#include <napi.h>
#include <sys/uio.h>

#include "small_vector.h"

namespace dontcache {

using Iovecs = SmallVector<iovec, 16>;
using Views = SmallVector<napi_value, 16>;

// The most buffers one call takes: more than any dense array holds is refused before
// an element is read, so a huge or prototype-backed array cannot exhaust memory.
constexpr uint32_t kMaxBuffers = 1u << 24;

int ArgFd(const Napi::Value& v);
// A file offset: a safe integer or a bigint >= 0; -1, null and undefined mean the
// current file position when allow_current is set.
int64_t ArgOffset(const Napi::Value& v, const char* name, bool allow_current);
uint32_t ArgUint32(const Napi::Value& v, const char* name);
int32_t ArgInt32(const Napi::Value& v, const char* name);
void ArgCallback(const Napi::Value& v);

// Buffers are read in two steps. ArgViews takes the views out of the argument (one
// Buffer/TypedArray/DataView or an array of them); element getters of the array may
// run JavaScript there, which may detach, shrink or replace any buffer. ViewMemory then
// reads where each view's memory is, running no JavaScript, so what it finds is still
// true when the syscall runs right after it.
void ArgViews(const Napi::Value& v, const char* name, Views& views);
// Exactly one view (no array).
napi_value ArgView(const Napi::Value& v, const char* name);
void ViewMemory(napi_env env, const Views& views, Iovecs& iov);
// One view's memory now; {nullptr, 0} when its buffer is detached.
iovec ViewMemory(napi_env env, napi_value view);

// RangeError ERR_INVALID_ARG_VALUE: "The argument 'name' <reason>. Received <value>".
[[noreturn]] void ThrowInvalidValue(const Napi::Value& v, const char* name, const char* reason);

}  // namespace dontcache
