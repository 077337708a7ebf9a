// Set-up of every test file of the arm64 suite (test/arm64/run.mjs runs vitest on an arm64 Node
// under qemu-user, with worker threads: qemu-user cannot start the arm64 `node` ELF that a forked
// worker or a child process would exec, as no binfmt handler is registered).
import v8 from 'node:v8';
import vm from 'node:vm';

// Child processes that tests start with process.execPath run the same arm64 Node under qemu.
const wrapper = process.env.DONTCACHE_ARM64_NODE_WRAPPER;
if (wrapper) process.execPath = wrapper;

// Worker threads may not get --expose-gc in their execArgv; the flag can still be set at run time.
if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  v8.setFlagsFromString('--expose-gc');
  (globalThis as { gc?: unknown }).gc = vm.runInNewContext('gc');
}
