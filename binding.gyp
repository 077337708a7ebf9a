{
  "targets": [
    {
      "target_name": "dontcache",
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES"},
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/binding.cc", "native/args.cc", "native/ops.cc", "native/workers.cc", "native/io.cc", "native/constants.cc"]
        }, {
          "sources": ["native/stub.cc"]
        }],
        ["OS=='linux' and '<!(echo $DONTCACHE_SANITIZE)'!=''", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
