// Module init: the exported functions (async with a callback, and *Sync) and constants.
#include <fcntl.h>
#include <limits.h>
#include <napi.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

#include "args.h"
#include "constants.h"
#include "io.h"
#include "workers.h"

namespace dontcache {
namespace {

struct Prepared {
  Operation op;
  Napi::Value keep_alive;
};

// fd, buffers, position, flags: the arguments of pwritev2 and preadv2.
struct RwArgs {
  int fd = -1;
  std::vector<iovec> iov;
  int64_t position = -1;
  int flags = 0;
};

void ParseRw(const Napi::CallbackInfo& info, RwArgs& args, Napi::Value* keep_alive = nullptr) {
  args.fd = ArgFd(info[0]);
  ArgBuffers(info[1], args.iov, keep_alive);
  args.position = ArgOffset(info[2], "position", true);
  args.flags = static_cast<int>(ArgUint32(info[3], "flags"));
}

// The sync calls reuse one argument block per thread, so the hot path allocates nothing.
RwArgs& SyncRwArgs() {
  static thread_local RwArgs args;
  args.iov.clear();
  return args;
}

Prepared PrepareWrite(const Napi::CallbackInfo& info) {
  RwArgs args;
  Napi::Value keep_alive;
  ParseRw(info, args, &keep_alive);
  return {[args = std::move(args)]() mutable { return Outcome{WriteAll(args.fd, args.iov, args.position, args.flags)}; },
          keep_alive};
}

Prepared PrepareRead(const Napi::CallbackInfo& info) {
  RwArgs args;
  Napi::Value keep_alive;
  ParseRw(info, args, &keep_alive);
  return {[args = std::move(args)]() { return Outcome{ReadOnce(args.fd, args.iov, args.position, args.flags)}; },
          keep_alive};
}

Napi::Value WriteSync(const Napi::CallbackInfo& info) {
  RwArgs& args = SyncRwArgs();
  ParseRw(info, args);
  return SyncResult(info.Env(), Outcome{WriteAll(args.fd, args.iov, args.position, args.flags)});
}

Napi::Value ReadSync(const Napi::CallbackInfo& info) {
  RwArgs& args = SyncRwArgs();
  ParseRw(info, args);
  return SyncResult(info.Env(), Outcome{ReadOnce(args.fd, args.iov, args.position, args.flags)});
}

Prepared PrepareFsync(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info[0]);
  bool data_only = info[1].ToBoolean();
  return {[fd, data_only]() { return Outcome{Fsync(fd, data_only)}; }, info.Env().Undefined()};
}

Prepared PrepareSyncFileRange(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info[0]);
  int64_t offset = ArgOffset(info[1], "offset", false);
  int64_t nbytes = ArgOffset(info[2], "nbytes", false);
  uint32_t flags = ArgUint32(info[3], "flags");
  return {[=]() { return Outcome{SyncFileRange(fd, offset, nbytes, flags)}; }, info.Env().Undefined()};
}

Prepared PrepareFadvise(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info[0]);
  int64_t offset = ArgOffset(info[1], "offset", false);
  int64_t length = ArgOffset(info[2], "length", false);
  int32_t advice = ArgInt32(info[3], "advice");
  return {[=]() { return Outcome{Fadvise(fd, offset, length, advice)}; }, info.Env().Undefined()};
}

Prepared PrepareCacheStat(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info[0]);
  uint64_t offset = static_cast<uint64_t>(ArgOffset(info[1], "offset", false));
  uint64_t length = static_cast<uint64_t>(ArgOffset(info[2], "length", false));
  return {[=]() {
            CacheStat cs = {};
            Outcome out{CacheStatRange(fd, offset, length, &cs)};
            double values[] = {double(cs.cache), double(cs.dirty), double(cs.writeback), double(cs.evicted),
                               double(cs.recently_evicted)};
            std::copy(values, values + 5, out.extra);
            out.extra_count = 5;
            return out;
          },
          info.Env().Undefined()};
}

Prepared PrepareResidency(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info[0]);
  uint64_t offset = static_cast<uint64_t>(ArgOffset(info[1], "offset", false));
  uint64_t length = static_cast<uint64_t>(ArgOffset(info[2], "length", false));
  return {[=]() {
            uint64_t resident = 0, pages = 0;
            Outcome out{Residency(fd, offset, length, &resident, &pages)};
            out.extra[0] = static_cast<double>(resident);
            out.extra[1] = static_cast<double>(pages);
            out.extra_count = 2;
            return out;
          },
          info.Env().Undefined()};
}

using Preparer = Prepared (*)(const Napi::CallbackInfo&);

template <Preparer prepare, size_t callback_index>
Napi::Value Async(const Napi::CallbackInfo& info) {
  Prepared p = prepare(info);
  QueueAsync(info.Env(), ArgCallback(info[callback_index]), p.keep_alive, std::move(p.op));
  return info.Env().Undefined();
}

template <Preparer prepare>
Napi::Value Sync(const Napi::CallbackInfo& info) {
  return SyncResult(info.Env(), prepare(info).op());
}

// Bytes to skip from the start of view so that the rest starts on an address that is
// a multiple of alignment (for O_DIRECT buffers).
Napi::Value AlignmentOffset(const Napi::CallbackInfo& info) {
  std::vector<iovec> iov;
  ArgBuffers(info[0], iov);
  uint32_t alignment = ArgUint32(info[1], "alignment");
  if (iov.size() != 1 || alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Napi::RangeError::New(info.Env(), "alignmentOffset expects one buffer and a power-of-two alignment");
  }
  uintptr_t address = reinterpret_cast<uintptr_t>(iov[0].iov_base);
  return Napi::Number::New(info.Env(), static_cast<double>((alignment - address % alignment) % alignment));
}

void Export(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  exports.Set(name, Napi::Function::New(env, fn, name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "pwritev2", Async<PrepareWrite, 4>);
  Export(env, exports, "pwritev2Sync", WriteSync);
  Export(env, exports, "preadv2", Async<PrepareRead, 4>);
  Export(env, exports, "preadv2Sync", ReadSync);
  Export(env, exports, "fsync", Async<PrepareFsync, 2>);
  Export(env, exports, "fsyncSync", Sync<PrepareFsync>);
  Export(env, exports, "syncFileRange", Async<PrepareSyncFileRange, 4>);
  Export(env, exports, "syncFileRangeSync", Sync<PrepareSyncFileRange>);
  Export(env, exports, "fadvise", Async<PrepareFadvise, 4>);
  Export(env, exports, "fadviseSync", Sync<PrepareFadvise>);
  Export(env, exports, "cachestat", Async<PrepareCacheStat, 3>);
  Export(env, exports, "cachestatSync", Sync<PrepareCacheStat>);
  Export(env, exports, "residency", Async<PrepareResidency, 3>);
  Export(env, exports, "residencySync", Sync<PrepareResidency>);
  Export(env, exports, "alignmentOffset", AlignmentOffset);
  exports.Set("constants", MakeConstants(env));
  return exports;
}

}  // namespace
}  // namespace dontcache

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return dontcache::Init(env, exports); }

NODE_API_MODULE(dontcache, InitModule)
