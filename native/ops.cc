#include "ops.h"

namespace dontcache {
namespace {

// fd, buffers, position, flags: the arguments of pwritev2 and preadv2.
size_t ParseRw(const Napi::CallbackInfo& info, Request& r, Views& views) {
  r.fd = ArgFd(info[0]);
  ArgViews(info[1], "buffers", views);
  r.offset = ArgOffset(info[2], "position", true);
  r.flags = ArgUint32(info[3], "flags");
  // Last, once no more JavaScript can run before the syscall (see ArgViews).
  ViewMemory(info.Env(), views, r.iov);
  return 4;
}

// fd, offset, length: a file range, the arguments of cachestat and residency and the
// first three of sync_file_range (which names the length nbytes) and fadvise.
void ParseRange(const Napi::CallbackInfo& info, Request& r, const char* length_name = "length") {
  r.fd = ArgFd(info[0]);
  r.offset = ArgOffset(info[1], "offset", false);
  r.length = ArgOffset(info[2], length_name, false);
}

}  // namespace

size_t ParseWrite(const Napi::CallbackInfo& info, Request& r, Views& views) {
  r.op = Op::kWrite;
  return ParseRw(info, r, views);
}

size_t ParseRead(const Napi::CallbackInfo& info, Request& r, Views& views) {
  r.op = Op::kRead;
  return ParseRw(info, r, views);
}

size_t ParseFsync(const Napi::CallbackInfo& info, Request& r, Views&) {
  r.fd = ArgFd(info[0]);
  r.op = info[1].ToBoolean() ? Op::kFdatasync : Op::kFsync;
  return 2;
}

size_t ParseSyncFileRange(const Napi::CallbackInfo& info, Request& r, Views&) {
  r.op = Op::kSyncFileRange;
  ParseRange(info, r, "nbytes");
  r.flags = ArgUint32(info[3], "flags");
  return 4;
}

size_t ParseFadvise(const Napi::CallbackInfo& info, Request& r, Views&) {
  r.op = Op::kFadvise;
  ParseRange(info, r);
  r.flags = ArgInt32(info[3], "advice");
  return 4;
}

size_t ParseCacheStat(const Napi::CallbackInfo& info, Request& r, Views&) {
  r.op = Op::kCacheStat;
  ParseRange(info, r);
  return 3;
}

size_t ParseResidency(const Napi::CallbackInfo& info, Request& r, Views&) {
  r.op = Op::kResidency;
  ParseRange(info, r);
  return 3;
}

Outcome Run(Request& r) {
  const int flags = static_cast<int>(r.flags);
  switch (r.op) {
    case Op::kWrite: return {WriteAll(r.fd, r.iov.data(), r.iov.size(), r.offset, flags)};
    case Op::kRead: return {ReadOnce(r.fd, r.iov.data(), r.iov.size(), r.offset, flags)};
    case Op::kFsync: return {Fsync(r.fd, false)};
    case Op::kFdatasync: return {Fsync(r.fd, true)};
    case Op::kSyncFileRange: return {SyncFileRange(r.fd, r.offset, r.length, static_cast<unsigned>(r.flags))};
    case Op::kFadvise: return {Fadvise(r.fd, r.offset, r.length, flags)};
    case Op::kCacheStat: {
      CacheStat cs = {};
      Outcome out{CacheStatRange(r.fd, r.offset, r.length, &cs)};
      out.extra_count = 5;
      double values[] = {double(cs.cache), double(cs.dirty), double(cs.writeback), double(cs.evicted),
                         double(cs.recently_evicted)};
      std::copy(values, values + 5, out.extra);
      return out;
    }
    case Op::kResidency: {
      uint64_t resident = 0, pages = 0;
      Outcome out{Residency(r.fd, r.offset, r.length, &resident, &pages)};
      out.extra_count = 2;
      out.extra[0] = static_cast<double>(resident);
      out.extra[1] = static_cast<double>(pages);
      return out;
    }
  }
  return {};
}

}  // namespace dontcache
