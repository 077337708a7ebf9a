#!/usr/bin/env bash
# npm run test:asan: builds the addon with -fsanitize=address,undefined and runs the
# native-facing test suites under it, with the sanitizer runtimes preloaded into node
# (node itself is not instrumented). Fails on any AddressSanitizer or UBSan report.
#
# The sanitized addon is built in a private copy of the sources, not in build/: other
# test runs on this checkout keep loading the normal addon meanwhile (an ASan build
# loaded without the preloaded runtime would abort them). node-gyp-build is pointed at
# it with DONTCACHE_PREBUILD (node-gyp-build reads <PACKAGE NAME>_PREBUILD), which child
# processes inherit too. The copy is removed on exit, also on failure or interrupt.
#
# Usage: npm run test:asan [-- vitest files or filters]
# Default files: test/io*.test.ts and test/reliability/ but for probe-signals and shared-dir-sweep
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ "$(uname -s)" != Linux ]]; then
  echo "test:asan: needs Linux" >&2
  exit 1
fi
asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
for lib in "$asan" "$ubsan"; do
  # gcc prints the bare name when it has no such library.
  if [[ "$lib" != /* || ! -e "$lib" ]]; then
    echo "test:asan: sanitizer runtime $lib not found (Debian: apt-get install gcc libasan8 libubsan1)" >&2
    exit 1
  fi
done

work="$(mktemp -d /tmp/dontcache-asan.XXXXXX)"
log="$work/test.log"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "test:asan: building the sanitized addon in $work"
cp -r binding.gyp package.json native "$work/"
ln -s "$root/node_modules" "$work/node_modules"
# npm puts its bundled node-gyp on PATH for scripts; binding.gyp adds the sanitizer
# flags when DONTCACHE_SANITIZE is set.
(cd "$work" && DONTCACHE_SANITIZE=1 npm run --silent compile:native >"$work/build.log" 2>&1) || {
  tail -50 "$work/build.log" >&2
  exit 1
}
addon="$work/build/Release/dontcache.node"
# Not `ldd | grep -q`: under pipefail, grep -q quitting early gives ldd SIGPIPE and the test fails.
if [[ "$(ldd "$addon")" != *libasan* ]]; then
  echo "test:asan: $addon is not linked with libasan: binding.gyp ignored DONTCACHE_SANITIZE?" >&2
  exit 1
fi

npm run --silent compile:ts

# The children and vitest workers must load the sanitized addon, not the normal one.
loaded="$(DONTCACHE_PREBUILD="$work" LD_PRELOAD="$asan:$ubsan" ASAN_OPTIONS=detect_leaks=0 \
  node -p "require('./dist').addonPath")"
if [[ "$loaded" != "$addon" ]]; then
  echo "test:asan: node loads $loaded instead of $addon" >&2
  exit 1
fi

files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  # The reliability suites that call the addon; probe-signals and shared-dir-sweep test
  # the CLI's signal and directory handling (no addon path the others miss) and are slow.
  mapfile -t files < <(ls test/io*.test.ts test/reliability/*.test.ts 2>/dev/null |
    grep -v -e probe-signals -e shared-dir-sweep)
fi

echo "test:asan: running ${files[*]} with $addon"
status=0
# detect_leaks=0: node itself leaks at exit. halt_on_error: the first report ends the
# process, so a test sees the child die instead of carrying on with a corrupt heap.
DONTCACHE_PREBUILD="$work" \
  LD_PRELOAD="$asan:$ubsan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:print_summary=1:log_path=$work/report" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$work/report" \
  DONTCACHE_ASAN=1 \
  npx vitest run "${files[@]}" 2>&1 | tee "$log" || status=$?

# Reports go to report.<pid> files (children's stderr is often captured by tests).
shopt -s nullglob
reports=("$work"/report.*)
if [[ ${#reports[@]} -ne 0 ]] || grep -qE 'ERROR: AddressSanitizer|runtime error:' "$log"; then
  echo "test:asan: sanitizer reports:" >&2
  for r in "${reports[@]}"; do echo "--- $r" >&2; head -80 "$r" >&2; done
  grep -E -A30 'ERROR: AddressSanitizer|runtime error:' "$log" | head -200 >&2 || true
  exit 1
fi
if [[ $status -ne 0 ]]; then
  echo "test:asan: vitest failed (status $status), no sanitizer reports" >&2
  exit "$status"
fi
echo "test:asan: passed, no sanitizer reports"
