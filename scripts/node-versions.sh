#!/usr/bin/env bash
# Runs the stream, I/O and reliability suites under other Node versions: the official
# Node binaries the npm registry serves as node-linux-<arch>@<major>, installed into a
# cache directory outside the repository (no system change). vitest runs under the
# chosen binary, and so do its forked workers and the child-process fixtures (they use
# process.execPath).
#
#   scripts/node-versions.sh                 # Node 22, 24, 26: the default suites
#   NODE_VERSIONS="24" scripts/node-versions.sh test/stream-dropin.test.ts
#   DONTCACHE_NODE_REFRESH=1 ...             # reinstall (newest release of each major)
#
# Needs dist/ (npm run compile:ts) for the child-process suites, as `npm test` does.
set -euo pipefail
cd "$(dirname "$0")/.."

versions=(${NODE_VERSIONS:-22 24 26})
cache="${DONTCACHE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dontcache-node}"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-versions: no official Node package for $(uname -m)" >&2; exit 1 ;;
esac
if (($# > 0)); then
  suites=("$@")
else
  suites=(test/write-stream.test.ts test/write-stream.resources.test.ts test/read-stream.test.ts
    test/stream-dropin.test.ts test/io.test.ts test/reliability/)
fi

# Prints the path of the node binary of major version $1, installing it if needed.
node_binary() {
  local major=$1 dir="$cache/node$1"
  local bin="$dir/node_modules/node-linux-$arch/bin/node"
  if [[ -n "${DONTCACHE_NODE_REFRESH:-}" || ! -x "$bin" ]]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@$major" >&2
  fi
  [[ -x "$bin" ]] || bin="$dir/node_modules/.bin/node"
  local version
  version=$("$bin" --version)
  [[ "$version" == "v$major."* ]] || { echo "node-versions: $bin is $version, not $major" >&2; return 1; }
  echo "$bin"
}

failed=()
for major in "${versions[@]}"; do
  bin=$(node_binary "$major")
  start=$SECONDS
  printf '\n=== Node %s (%s): %s\n' "$("$bin" --version)" "$bin" "${suites[*]}"
  # PATH first: anything that runs `node` by name gets this one too.
  if PATH="$(dirname "$bin"):$PATH" "$bin" node_modules/vitest/vitest.mjs run "${suites[@]}"; then
    printf '=== Node %s: passed (%ss)\n' "$major" "$((SECONDS - start))"
  else
    printf '=== Node %s: FAILED (%ss)\n' "$major" "$((SECONDS - start))"
    failed+=("$major")
  fi
done
if ((${#failed[@]})); then
  echo "node-versions: failed on Node ${failed[*]}" >&2
  exit 1
fi
