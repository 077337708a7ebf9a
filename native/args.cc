#include "args.h"

#include <cmath>
#include <string>

namespace dontcache {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

std::string Received(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "Received undefined";
    case napi_null: return "Received null";
    case napi_boolean: return std::string("Received type boolean (") + (v.As<Napi::Boolean>() ? "true" : "false") + ")";
    case napi_number: return "Received type number (" + v.ToString().Utf8Value() + ")";
    case napi_string: return "Received type string";
    case napi_symbol: return "Received type symbol";
    case napi_bigint: return "Received type bigint (" + v.ToString().Utf8Value() + "n)";
    case napi_function: return "Received function";
    default: return "Received an instance of " + (v.IsArray() ? std::string("Array") : std::string("Object"));
  }
}

[[noreturn]] void ThrowType(const Napi::Value& v, const char* name, const char* expected) {
  auto err = Napi::TypeError::New(v.Env(), std::string("The \"") + name + "\" argument must be " +
                                               expected + ". " + Received(v));
  err.Set("code", "ERR_INVALID_ARG_TYPE");
  throw err;
}

[[noreturn]] void ThrowRange(const Napi::Value& v, const char* name, const char* range) {
  auto err = Napi::RangeError::New(v.Env(), std::string("The value of \"") + name +
                                                "\" is out of range. It must be " + range +
                                                ". Received " + v.ToString().Utf8Value() +
                                                (v.IsBigInt() ? "n" : ""));
  err.Set("code", "ERR_OUT_OF_RANGE");
  throw err;
}

double ArgInteger(const Napi::Value& v, const char* name, double min, double max, const char* range) {
  if (!v.IsNumber()) ThrowType(v, name, "of type number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d) || std::trunc(d) != d || d < min || d > max) ThrowRange(v, name, range);
  return d;
}

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 0;  // a kind newer than these headers: ask the engine
  }
}

void AppendView(napi_env env, napi_value value, std::vector<iovec>& iov, bool* ok) {
  bool is = false;
  void* data = nullptr;
  size_t length = 0;
  napi_is_typedarray(env, value, &is);
  if (is) {
    napi_typedarray_type type;
    size_t count;
    napi_value ab;
    size_t offset;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_typedarray_info(env, value, &type, &count, &data, &ab, &offset));
    size_t size = ElementSize(type);
    if (size != 0) {
      length = count * size;
    } else {
      length = static_cast<size_t>(Napi::Value(env, value).As<Napi::Object>().Get("byteLength").ToNumber().Int64Value());
    }
  } else {
    napi_is_dataview(env, value, &is);
    if (!is) {
      *ok = false;
      return;
    }
    napi_value ab;
    size_t offset;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_dataview_info(env, value, &length, &data, &ab, &offset));
  }
  // A detached buffer reports length 0 and a null pointer: nothing to transfer.
  iov.push_back({data, data ? length : 0});
  *ok = true;
}

}  // namespace

int ArgFd(const Napi::Value& v) {
  return static_cast<int>(ArgInteger(v, "fd", 0, 2147483647.0, ">= 0 && <= 2147483647"));
}

int64_t ArgOffset(const Napi::Value& v, const char* name, bool allow_current) {
  const double min = allow_current ? -1 : 0;
  const char* range = allow_current ? ">= -1 && <= 9223372036854775807" : ">= 0 && <= 9223372036854775807";
  if (allow_current && (v.IsNull() || v.IsUndefined())) return -1;
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t n = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless || n < min) ThrowRange(v, name, range);
    return n;
  }
  if (!v.IsNumber()) ThrowType(v, name, "of type number or bigint");
  return static_cast<int64_t>(ArgInteger(v, name, min, kMaxSafeInteger, range));
}

uint32_t ArgUint32(const Napi::Value& v, const char* name) {
  return static_cast<uint32_t>(ArgInteger(v, name, 0, 4294967295.0, ">= 0 && <= 4294967295"));
}

int32_t ArgInt32(const Napi::Value& v, const char* name) {
  return static_cast<int32_t>(ArgInteger(v, name, -2147483648.0, 2147483647.0, ">= -2147483648 && <= 2147483647"));
}

void ArgBuffers(const Napi::Value& v, std::vector<iovec>& iov, Napi::Value* keep_alive) {
  constexpr const char* kExpected = "an instance of Buffer, TypedArray, DataView or an Array of them";
  napi_env env = v.Env();
  bool ok = false;
  if (v.IsArray()) {
    Napi::Array array = v.As<Napi::Array>();
    uint32_t n = array.Length();
    iov.reserve(n);
    Napi::Array copy;
    if (keep_alive) *keep_alive = copy = Napi::Array::New(env, n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value item = array.Get(i);
      AppendView(env, item, iov, &ok);
      if (!ok) ThrowType(item, ("buffers[" + std::to_string(i) + "]").c_str(), "an instance of Buffer, TypedArray or DataView");
      if (keep_alive) copy.Set(i, item);
    }
    return;
  }
  if (v.IsObject()) AppendView(env, v, iov, &ok);
  if (!ok) ThrowType(v, "buffers", kExpected);
  if (keep_alive) *keep_alive = v;
}

Napi::Function ArgCallback(const Napi::Value& v) {
  if (!v.IsFunction()) ThrowType(v, "callback", "of type function");
  return v.As<Napi::Function>();
}

}  // namespace dontcache
