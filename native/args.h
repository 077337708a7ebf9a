// Argument checks for the N-API layer: wrong arguments throw TypeError/RangeError
// with Node's error codes before any syscall is made.
#pragma once

#include <napi.h>
#include <sys/uio.h>

#include <vector>

namespace dontcache {

int ArgFd(const Napi::Value& v);
// A file offset: a safe integer or bigint >= 0; -1, null and undefined mean the
// current file position when allow_current is set.
int64_t ArgOffset(const Napi::Value& v, const char* name, bool allow_current);
uint32_t ArgUint32(const Napi::Value& v, const char* name);
int32_t ArgInt32(const Napi::Value& v, const char* name);
// One Buffer/TypedArray/DataView or an array of them, appended to iov. With keep_alive,
// also gives what must stay referenced while a worker thread uses the memory: the view,
// or a copy of the array made in the same pass (later changes to the caller's array
// cannot then drop the last reference to a buffer in use).
void ArgBuffers(const Napi::Value& v, std::vector<iovec>& iov, Napi::Value* keep_alive = nullptr);
Napi::Function ArgCallback(const Napi::Value& v);

}  // namespace dontcache
