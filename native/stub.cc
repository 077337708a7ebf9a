// Non-Linux platforms: an empty module, so that the package installs and imports;
// the TypeScript layer then reports every function as unsupported (ENOSYS).
#include <napi.h>

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }

NODE_API_MODULE(dontcache, Init)
