#pragma once

#include <napi.h>

namespace dontcache {
// RWF_*, SYNC_FILE_RANGE_*, POSIX_FADV_* and the limits the I/O loops use.
Napi::Object MakeConstants(Napi::Env env);
}  // namespace dontcache
