#include "args.h"

#include <cmath>
#include <string>

namespace dontcache {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

// Node's ERR_OUT_OF_RANGE shows big integers with separators: 9_007_199_254_740_992.
std::string WithSeparators(std::string digits) {
  size_t start = digits[0] == '-' ? 1 : 0;
  for (size_t i = digits.size(); i > start + 3; i -= 3) digits.insert(i - 3, "_");
  return digits;
}

// What Node's errors say after "Received" (the value itself; converting a number or a
// bigint to a string runs no user code).
std::string Received(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return std::string("type boolean (") + (v.As<Napi::Boolean>() ? "true" : "false") + ")";
    case napi_number: return "type number (" + v.ToString().Utf8Value() + ")";
    case napi_string: {
      std::string s = v.As<Napi::String>().Utf8Value();
      return "type string ('" + (s.size() > 25 ? s.substr(0, 25) + "..." : s) + "')";
    }
    case napi_symbol: return "type symbol";
    case napi_bigint: return "type bigint (" + v.ToString().Utf8Value() + "n)";
    case napi_function: return "function";
    default: return std::string("an instance of ") + (v.IsArray() ? "Array" : "Object");
  }
}

std::string ReceivedNumber(const Napi::Value& v) {
  std::string s = v.ToString().Utf8Value();
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t n = v.As<Napi::BigInt>().Int64Value(&lossless);
    return (!lossless || n > 4294967296 || n < -4294967296 ? WithSeparators(s) : s) + "n";
  }
  double d = v.As<Napi::Number>().DoubleValue();
  return std::trunc(d) == d && std::fabs(d) > 4294967296.0 ? WithSeparators(s) : s;
}

Napi::Error WithCode(Napi::Error error, const char* code) {
  error.Set("code", code);
  return error;
}

[[noreturn]] void ThrowType(const Napi::Value& v, const std::string& name, const char* expected) {
  throw WithCode(Napi::TypeError::New(v.Env(), "The \"" + name + "\" argument must be " + expected + ". Received " + Received(v)),
                 "ERR_INVALID_ARG_TYPE");
}

[[noreturn]] void ThrowRange(const Napi::Value& v, const char* name, const std::string& range) {
  throw WithCode(Napi::RangeError::New(v.Env(), std::string("The value of \"") + name + "\" is out of range. It must be " +
                                                    range + ". Received " + ReceivedNumber(v)),
                 "ERR_OUT_OF_RANGE");
}

std::string Range(double min, double max) {
  char text[64];
  snprintf(text, sizeof text, ">= %.0f && <= %.0f", min, max);
  return text;
}

// An integer Number in [min, max], checked as Node's validateInteger does.
double ArgInteger(const Napi::Value& v, const char* name, double min, double max) {
  if (!v.IsNumber()) ThrowType(v, name, "of type number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d) ThrowRange(v, name, "an integer");
  if (d < min || d > max) ThrowRange(v, name, Range(min, max));
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
    default: break;
  }
  // Float16Array (Node 24+) is the kind after BigUint64Array; these headers predate it.
  return type == napi_biguint64_array + 1 ? 2 : 0;
}

bool IsView(napi_env env, napi_value v) {
  bool typed = false, dataview = false;
  NAPI_THROW_IF_FAILED(env, napi_is_typedarray(env, v, &typed), false);
  if (!typed) NAPI_THROW_IF_FAILED(env, napi_is_dataview(env, v, &dataview), false);
  return typed || dataview;
}

}  // namespace

int ArgFd(const Napi::Value& v) { return static_cast<int>(ArgInteger(v, "fd", 0, 2147483647.0)); }

int64_t ArgOffset(const Napi::Value& v, const char* name, bool allow_current) {
  const double min = allow_current ? -1 : 0;
  if (allow_current && (v.IsNull() || v.IsUndefined())) return -1;
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t n = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless || n < min) ThrowRange(v, name, allow_current ? ">= -1 && <= 9223372036854775807" : ">= 0 && <= 9223372036854775807");
    return n;
  }
  if (!v.IsNumber()) ThrowType(v, name, "of type number or bigint");
  // A Number is exact only up to 2^53 - 1: the range says so (a bigint goes further).
  return static_cast<int64_t>(ArgInteger(v, name, min, kMaxSafeInteger));
}

uint32_t ArgUint32(const Napi::Value& v, const char* name) {
  return static_cast<uint32_t>(ArgInteger(v, name, 0, 4294967295.0));
}

int32_t ArgInt32(const Napi::Value& v, const char* name) {
  return static_cast<int32_t>(ArgInteger(v, name, -2147483648.0, 2147483647.0));
}

void ArgCallback(const Napi::Value& v) {
  if (!v.IsFunction()) ThrowType(v, "callback", "of type function");
}

void ArgViews(const Napi::Value& v, const char* name, Views& views) {
  napi_env env = v.Env();
  if (v.IsArray()) {
    Napi::Array array = v.As<Napi::Array>();
    uint32_t n = array.Length();
    if (n > kMaxBuffers) {
      ThrowRange(Napi::Number::New(env, n), (std::string(name) + ".length").c_str(), "<= " + std::to_string(kMaxBuffers));
    }
    // Read one element at a time (a getter may change the array; a hole is an error at
    // once), never sized from the length up front.
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value item = array.Get(i);
      if (!IsView(env, item)) {
        ThrowType(item, std::string(name) + "[" + std::to_string(i) + "]", "an instance of Buffer, TypedArray or DataView");
      }
      views.push_back(item);
    }
    return;
  }
  if (!v.IsObject() || !IsView(env, v)) ThrowType(v, name, "an instance of Buffer, TypedArray, DataView or an Array of them");
  views.push_back(v);
}

napi_value ArgView(const Napi::Value& v, const char* name) {
  if (!v.IsObject() || !IsView(v.Env(), v)) ThrowType(v, name, "an instance of Buffer, TypedArray or DataView");
  return v;
}

iovec ViewMemory(napi_env env, napi_value view) {
  bool typed = false;
  void* data = nullptr;
  size_t length = 0;
  NAPI_THROW_IF_FAILED(env, napi_is_typedarray(env, view, &typed), iovec{});
  if (typed) {
    napi_typedarray_type type;
    size_t count = 0;
    NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, view, &type, &count, &data, nullptr, nullptr), iovec{});
    size_t size = ElementSize(type);
    if (size == 0) ThrowType(Napi::Value(env, view), "buffers", "a kind of TypedArray this addon knows");
    length = count * size;
  } else {
    NAPI_THROW_IF_FAILED(env, napi_get_dataview_info(env, view, &length, &data, nullptr, nullptr), iovec{});
  }
  // A detached buffer reports a null pointer: nothing to transfer.
  return {data, data ? length : 0};
}

void ViewMemory(napi_env env, const Views& views, Iovecs& iov) {
  for (size_t i = 0; i < views.size(); i++) iov.push_back(ViewMemory(env, views[i]));
}

void ThrowInvalidValue(const Napi::Value& v, const char* name, const char* reason) {
  throw WithCode(Napi::RangeError::New(v.Env(), std::string("The argument '") + name + "' " + reason + ". Received " +
                                                    v.ToString().Utf8Value()),
                 "ERR_INVALID_ARG_VALUE");
}

}  // namespace dontcache
