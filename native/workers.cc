#include "workers.h"

#include <errno.h>

#include <algorithm>
#include <memory>

namespace dontcache {
namespace {

// One queued operation. Plain napi_async_work rather than Napi::AsyncWorker: that one
// makes a receiver and a resource object per call, which shows in per-call cost.
struct Work {
  napi_async_work work = nullptr;
  napi_ref callback = nullptr;
  napi_ref keep_alive = nullptr;
  Operation op;
  Outcome outcome;
};

// Worker thread: touches no JavaScript value.
void Execute(napi_env, void* data) {
  auto* work = static_cast<Work*>(data);
  work->outcome = work->op();
}

// Main thread. An exception thrown by the callback stays pending and reaches
// 'uncaughtException', as from any Node callback.
void Complete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<Work> work(static_cast<Work*>(data));
  if (status == napi_cancelled) work->outcome.io.err = ECANCELED;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  const Outcome& o = work->outcome;
  double numbers[4 + 5] = {double(o.io.err), double(o.io.bytes), o.io.ns, double(o.io.calls)};
  std::copy(o.extra, o.extra + o.extra_count, numbers + 4);
  size_t argc = 4 + o.extra_count;
  napi_value argv[4 + 5];
  for (size_t i = 0; i < argc; i++) napi_create_double(env, numbers[i], &argv[i]);
  napi_value callback, receiver;
  napi_get_reference_value(env, work->callback, &callback);
  napi_get_undefined(env, &receiver);
  napi_delete_reference(env, work->callback);
  if (work->keep_alive) napi_delete_reference(env, work->keep_alive);
  napi_delete_async_work(env, work->work);
  napi_call_function(env, receiver, callback, argc, argv, nullptr);
  napi_close_handle_scope(env, scope);
}

}  // namespace

void QueueAsync(Napi::Env env, Napi::Function callback, Napi::Value keep_alive, Operation op) {
  auto work = std::make_unique<Work>();
  work->op = std::move(op);
  // Undoes what was made so far when a later step fails (only under memory pressure).
  auto fail = [&](napi_status status) {
    if (work->callback) napi_delete_reference(env, work->callback);
    if (work->keep_alive) napi_delete_reference(env, work->keep_alive);
    if (work->work) napi_delete_async_work(env, work->work);
    NAPI_THROW_IF_FAILED_VOID(env, status);
  };
  napi_value name;
  napi_status status = napi_create_string_latin1(env, "dontcache:io", NAPI_AUTO_LENGTH, &name);
  if (status == napi_ok) status = napi_create_reference(env, callback, 1, &work->callback);
  if (status == napi_ok && !keep_alive.IsUndefined()) status = napi_create_reference(env, keep_alive, 1, &work->keep_alive);
  if (status == napi_ok) status = napi_create_async_work(env, nullptr, name, Execute, Complete, work.get(), &work->work);
  if (status == napi_ok) status = napi_queue_async_work(env, work->work);
  if (status != napi_ok) return fail(status);
  work.release();  // Complete owns it now
}

Napi::Value SyncResult(Napi::Env env, const Outcome& outcome) {
  if (outcome.io.err == 0 && outcome.extra_count == 0) return Napi::Number::New(env, static_cast<double>(outcome.io.bytes));
  Napi::Array result = Napi::Array::New(env, 4 + outcome.extra_count);
  result.Set(0u, Napi::Number::New(env, outcome.io.err));
  result.Set(1u, Napi::Number::New(env, static_cast<double>(outcome.io.bytes)));
  result.Set(2u, Napi::Number::New(env, outcome.io.ns));
  result.Set(3u, Napi::Number::New(env, outcome.io.calls));
  for (int i = 0; i < outcome.extra_count; i++) result.Set(4u + i, Napi::Number::New(env, outcome.extra[i]));
  return result;
}

}  // namespace dontcache
