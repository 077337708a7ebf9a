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

struct SyncState {
  Napi::Reference<Napi::Float64Array> array;
};

constexpr size_t kSyncStateLength = 9;  // errno, bytes, ns, calls, 5 extras

}  // namespace

void QueueAsync(Napi::Env env, Napi::Function callback, Napi::Value keep_alive, Operation op) {
  (new IoWorker(callback, keep_alive, std::move(op)))->Queue();
}

Napi::Value SetSyncState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::Float64Array>().ElementLength() < kSyncStateLength) {
    throw Napi::TypeError::New(env, "setSyncState expects a Float64Array of at least 9 elements");
  }
  auto array = info[0].As<Napi::Float64Array>();
  auto* state = env.GetInstanceData<SyncState>();
  if (state == nullptr) {
    state = new SyncState();
    env.SetInstanceData(state);
  }
  state->array = Napi::Persistent(array);
  return env.Undefined();
}

Napi::Value RunSync(Napi::Env env, const Operation& op) {
  auto* state = env.GetInstanceData<SyncState>();
  if (state == nullptr) throw Napi::Error::New(env, "dontcache: setSyncState was not called");
  // Looked up on every call: the array's buffer may have been detached (transferred)
  // since it was registered, and then its memory is gone.
  Napi::Float64Array array = state->array.Value();
  if (array.ElementLength() < kSyncStateLength || array.Data() == nullptr) {
    throw Napi::Error::New(env, "dontcache: the sync-state array was detached; call setSyncState again");
  }
  Outcome outcome = op();
  double* s = array.Data();
  s[0] = outcome.io.err;
  s[1] = static_cast<double>(outcome.io.bytes);
  s[2] = outcome.io.ns;
  s[3] = outcome.io.calls;
  for (int i = 0; i < outcome.extra_count; i++) s[4 + i] = outcome.extra[i];
  return Napi::Number::New(env, outcome.io.err ? -outcome.io.err : static_cast<double>(outcome.io.bytes));
}

}  // namespace dontcache
