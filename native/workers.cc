#include "workers.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <algorithm>
#include <new>

namespace dontcache {
namespace {

// One queued operation. Plain napi_async_work rather than Napi::AsyncWorker: that one
// makes a receiver and a resource object per call, which shows in per-call cost.
struct Work {
  napi_env env = nullptr;
  napi_async_work work = nullptr;
  napi_ref complete = nullptr;
  SmallVector<napi_ref, 16> views;
  std::unique_ptr<Request> request;
  Outcome outcome;
  std::unique_ptr<char[]> read_buffer;

  ~Work() {
    if (complete) napi_delete_reference(env, complete);
    for (size_t i = 0; i < views.size(); i++) napi_delete_reference(env, views[i]);
    if (work) napi_delete_async_work(env, work);
  }
};

// Worker thread: touches no JavaScript value, nor the memory of a read's views.
void Execute(napi_env, void* data) {
  auto* w = static_cast<Work*>(data);
  Request& r = *w->request;
  if (r.op != Op::kRead) {
    w->outcome = Run(r);
    return;
  }
  size_t bytes = 0;
  for (size_t i = 0; i < std::min<size_t>(r.iov.size(), IOV_MAX); i++) bytes += r.iov[i].iov_len;
  bytes = std::min(bytes, kMaxBytesPerCall);
  w->read_buffer.reset(new (std::nothrow) char[bytes]);
  if (!w->read_buffer) {
    w->outcome.io.err = ENOMEM;
    return;
  }
  iovec whole = {w->read_buffer.get(), bytes};
  w->outcome = {ReadOnce(r.fd, &whole, 1, r.offset, static_cast<int>(r.flags))};
}

// Main thread: copies what a read got into its views as they are now. A view whose
// buffer was detached or shrunk meanwhile gets what still fits (nothing when detached).
void DeliverRead(Work& w) {
  const char* from = w.read_buffer.get();
  size_t left = static_cast<size_t>(std::max<int64_t>(w.outcome.io.bytes, 0));
  for (size_t i = 0; i < w.views.size() && left > 0; i++) {
    size_t share = std::min(left, w.request->iov[i].iov_len);
    napi_value view;
    if (napi_get_reference_value(w.env, w.views[i], &view) == napi_ok && view != nullptr) {
      try {
        iovec now = ViewMemory(w.env, view);
        if (now.iov_base) memcpy(now.iov_base, from, std::min(share, now.iov_len));
      } catch (...) {
        // The view cannot be read any more (a terminating worker): its bytes are dropped.
      }
    }
    from += share;
    left -= share;
  }
}

// Main thread. An exception thrown by the callback stays pending and reaches
// 'uncaughtException', as from any Node callback. In a worker being terminated nothing
// can be called; the work is then only released.
void Complete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<Work> w(static_cast<Work*>(data));
  if (status == napi_cancelled) w->outcome.io.err = ECANCELED;
  if (w->request->op == Op::kRead && w->outcome.io.err == 0) DeliverRead(*w);
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  const Outcome& o = w->outcome;
  double numbers[4 + 5] = {double(o.io.err), double(o.io.bytes), o.io.ns, double(o.io.calls)};
  std::copy(o.extra, o.extra + o.extra_count, numbers + 4);
  size_t argc = 4 + o.extra_count;
  napi_value argv[4 + 5];
  for (size_t i = 0; i < argc; i++) napi_create_double(env, numbers[i], &argv[i]);
  napi_value complete = nullptr, receiver = nullptr;
  napi_get_reference_value(env, w->complete, &complete);
  napi_get_undefined(env, &receiver);
  w.reset();  // the references go before the call, which may start the next operation
  if (complete) napi_call_function(env, receiver, complete, argc, argv, nullptr);
  napi_close_handle_scope(env, scope);
}

void Check(napi_env env, napi_status status) { NAPI_THROW_IF_FAILED_VOID(env, status); }

}  // namespace

void QueueAsync(napi_env env, napi_value complete, const Views& views, std::unique_ptr<Request> request) {
  auto w = std::make_unique<Work>();
  w->env = env;
  w->request = std::move(request);
  Check(env, napi_create_reference(env, complete, 1, &w->complete));
  for (size_t i = 0; i < views.size(); i++) {
    napi_ref ref;
    Check(env, napi_create_reference(env, views[i], 1, &ref));
    w->views.push_back(ref);
  }
  napi_value name;
  Check(env, napi_create_string_latin1(env, "dontcache:io", NAPI_AUTO_LENGTH, &name));
  Check(env, napi_create_async_work(env, nullptr, name, Execute, Complete, w.get(), &w->work));
  Check(env, napi_queue_async_work(env, w->work));
  w.release();  // Complete owns it now
}

napi_value SyncResult(napi_env env, const Outcome& outcome) {
  napi_value result;
  if (outcome.io.err == 0 && outcome.extra_count == 0) {
    Check(env, napi_create_double(env, static_cast<double>(outcome.io.bytes), &result));
    return result;
  }
  // A Float64Array rather than an Array: its elements are its own, whatever accessors
  // Array.prototype has been given.
  size_t count = 4 + outcome.extra_count;
  double numbers[4 + 5] = {double(outcome.io.err), double(outcome.io.bytes), outcome.io.ns, double(outcome.io.calls)};
  std::copy(outcome.extra, outcome.extra + outcome.extra_count, numbers + 4);
  void* data;
  napi_value buffer;
  Check(env, napi_create_arraybuffer(env, count * sizeof(double), &data, &buffer));
  memcpy(data, numbers, count * sizeof(double));
  Check(env, napi_create_typedarray(env, napi_float64_array, count, buffer, 0, &result));
  return result;
}

}  // namespace dontcache
