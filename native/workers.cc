#include "workers.h"

namespace dontcache {
namespace {

class IoWorker : public Napi::AsyncWorker {
 public:
  IoWorker(Napi::Function callback, Napi::Value keep_alive, Operation op)
      : Napi::AsyncWorker(callback, "dontcache:io"), op_(std::move(op)) {
    if (!keep_alive.IsUndefined()) keep_alive_ = Napi::Persistent(keep_alive.As<Napi::Object>());
  }

  // Worker thread: touches no JavaScript value.
  void Execute() override { outcome_ = op_(); }

  void OnOK() override {
    Napi::Env env = Env();
    std::vector<napi_value> args = {
        Napi::Number::New(env, outcome_.io.err),
        Napi::Number::New(env, static_cast<double>(outcome_.io.bytes)),
        Napi::Number::New(env, outcome_.io.ns),
        Napi::Number::New(env, outcome_.io.calls),
    };
    for (int i = 0; i < outcome_.extra_count; i++) args.push_back(Napi::Number::New(env, outcome_.extra[i]));
    Callback().Call(args);
  }

 private:
  Operation op_;
  Outcome outcome_;
  Napi::ObjectReference keep_alive_;
};

}  // namespace

void QueueAsync(Napi::Env env, Napi::Function callback, Napi::Value keep_alive, Operation op) {
  (new IoWorker(callback, keep_alive, std::move(op)))->Queue();
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
