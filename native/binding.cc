// Module init and the exported functions: async ones take a callback, *Sync ones run
// inline. Every entry from JavaScript goes through Entry (see ThrowAsJavaScript).
#include <napi.h>
#include <stdint.h>

#include <exception>
#include <memory>
#include <new>

#include "args.h"
#include "constants.h"
#include "ops.h"
#include "workers.h"

namespace dontcache {
namespace {

// Makes the C++ exception being handled the pending JavaScript exception, and throws
// nothing itself. node-addon-api's own wrapper throws again when napi_throw fails, and
// napi_throw fails whenever the environment can run no more JavaScript: a worker being
// terminated while it loads the addon or is inside a call. That second throw escaped
// into std::terminate and aborted the whole process. Here the error is dropped instead:
// the JavaScript it was meant for is being stopped anyway.
void ThrowAsJavaScript(napi_env env) noexcept {
  try {
    try {
      throw;
    } catch (const Napi::Error& e) {
      napi_throw(env, e.Value());
    } catch (const std::bad_alloc&) {
      napi_throw_range_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "Failed to allocate memory for the arguments");
    } catch (const std::exception& e) {
      napi_throw_error(env, "ERR_INTERNAL_ASSERTION", e.what());
    } catch (...) {
      napi_throw_error(env, "ERR_INTERNAL_ASSERTION", "unknown C++ exception");
    }
  } catch (...) {
    // Building the error failed too (no memory, or the environment is going away).
  }
}

using Method = napi_value (*)(const Napi::CallbackInfo&);

template <Method method>
napi_value Entry(napi_env env, napi_callback_info cbinfo) noexcept {
  try {
    Napi::CallbackInfo info(env, cbinfo);
    return method(info);
  } catch (...) {
    ThrowAsJavaScript(env);
    return nullptr;
  }
}

// Each call parses into a Request of its own (on the stack), so a call made from inside
// another one, by an element getter of its buffers array, cannot change the outer one.
template <Parser parse>
napi_value Sync(const Napi::CallbackInfo& info) {
  Request request;
  Views views;
  parse(info, request, views);
  return SyncResult(info.Env(), Run(request));
}

// The callback is checked here, after the other arguments, as Node's fs does. The
// package's callback forms pass the caller's callback (checked) and then the function
// that turns the raw outcome into their (error, bytes, ...) call, which is called instead.
template <Parser parse>
napi_value Async(const Napi::CallbackInfo& info) {
  auto request = std::make_unique<Request>();
  Views views;
  size_t callback = parse(info, *request, views);
  ArgCallback(info[callback]);
  Napi::Value complete = info[callback + 1].IsFunction() ? info[callback + 1] : info[callback];
  QueueAsync(info.Env(), complete, views, std::move(request));
  return nullptr;
}

// Bytes to skip from the start of view so that the rest starts on an address that is
// a multiple of alignment (for O_DIRECT buffers).
napi_value AlignmentOffset(const Napi::CallbackInfo& info) {
  napi_value view = ArgView(info[0], "view");
  uint32_t alignment = ArgUint32(info[1], "alignment");
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) ThrowInvalidValue(info[1], "alignment", "must be a power of two");
  uintptr_t address = reinterpret_cast<uintptr_t>(ViewMemory(info.Env(), view).iov_base);
  return Napi::Number::New(info.Env(), static_cast<double>((alignment - address % alignment) % alignment));
}

napi_property_descriptor Export(const char* name, napi_callback fn) {
  return {name, nullptr, fn, nullptr, nullptr, nullptr, napi_default_jsproperty, nullptr};
}

napi_value Init(napi_env env, napi_value exports) noexcept {
  try {
    const napi_property_descriptor methods[] = {
        Export("pwritev2", Entry<Async<ParseWrite>>),
        Export("pwritev2Sync", Entry<Sync<ParseWrite>>),
        Export("preadv2", Entry<Async<ParseRead>>),
        Export("preadv2Sync", Entry<Sync<ParseRead>>),
        Export("fsync", Entry<Async<ParseFsync>>),
        Export("fsyncSync", Entry<Sync<ParseFsync>>),
        Export("syncFileRange", Entry<Async<ParseSyncFileRange>>),
        Export("syncFileRangeSync", Entry<Sync<ParseSyncFileRange>>),
        Export("fadvise", Entry<Async<ParseFadvise>>),
        Export("fadviseSync", Entry<Sync<ParseFadvise>>),
        Export("cachestat", Entry<Async<ParseCacheStat>>),
        Export("cachestatSync", Entry<Sync<ParseCacheStat>>),
        Export("residency", Entry<Async<ParseResidency>>),
        Export("residencySync", Entry<Sync<ParseResidency>>),
        Export("alignmentOffset", Entry<AlignmentOffset>),
    };
    NAPI_THROW_IF_FAILED(env, napi_define_properties(env, exports, std::size(methods), methods), nullptr);
    Napi::Object(env, exports).Set("constants", MakeConstants(Napi::Env(env)));
    return exports;
  } catch (...) {
    ThrowAsJavaScript(env);
    return nullptr;
  }
}

}  // namespace
}  // namespace dontcache

NAPI_MODULE(NODE_GYP_MODULE_NAME, dontcache::Init)
