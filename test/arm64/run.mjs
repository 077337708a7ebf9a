#!/usr/bin/env node
// `npm run test:arm64`: the package's I/O, page-cache, stream and tarball-install suites on an
// official Node arm64 build, under qemu-user on this x86-64 machine (natively on an arm64 one),
// with the committed prebuilds/linux-arm64 addon. Syscalls go to this machine's kernel, so
// RWF_DONTCACHE, residency and fallbacks are real; cachestat(2) is not emulated by qemu-user and
// answers ENOSYS, so the suites measure residency with mincore(2) there (test/helpers/residency.ts).
//
// How: a staging copy of the package gets arm64 dependencies (npm ci --cpu=arm64, for vitest's
// native parts), and vitest runs on arm64 Node with worker threads (test/arm64/vitest.config.mjs).
// A `node` wrapper (qemu + arm64 Node) is process.execPath in the tests, so child processes (and the
// tarball install: npm and its install script, test/package.test.ts) run on arm64 Node too.
//
// Usage: node test/arm64/run.mjs [test files...]   (default: the suites below)
// Env: DONTCACHE_ARM64_NODE (22, 24, 26 or a version; default 24), DONTCACHE_QEMU_AARCH64 (a qemu-aarch64
// to use), DONTCACHE_ARM64_SYSROOT (default /usr/aarch64-linux-gnu), DONTCACHE_KERNELS_CACHE (cache root).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../kernels/lib/paths.mjs';
import { loadConfig } from '../../kernels/lib/harness.mjs';
import { Arm64Archive, SYSROOT, arm64Node, emulator, missingArm64Tools } from '../../kernels/lib/arm64.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SUITES = ['test/platform.test.ts', 'test/io.test.ts', 'test/page-cache.test.ts', 'test/write-stream.test.ts',
  'test/read-stream.test.ts', 'test/package.test.ts'];
// Left out under emulation, with the reason (a vitest name pattern excludes them).
const EXCLUDED = {
  'writes it all, split at the per-call cap': 'writes and compares 2 GiB: minutes of emulated memcpy for logic that x64 runs the same',
  'thousands of concurrent writes of dropped buffers under GC': '512,000 SHA-256 digests to make its buffers: over 10 minutes emulated; the keep-alive is V8 handle logic that x64 and ASan run',
};
// What the staging copy needs: sources, tests, native sources and prebuilds (npm pack packs them), configs.
const STAGED = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'vitest.config.mts', 'binding.gyp',
  'README.md', 'src', 'test', 'native', 'prebuilds', 'scripts'];

const log = (m) => console.log(`[arm64] ${m}`);
const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(0);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} ... exited ${r.status ?? r.signal}`);
}

const missing = await missingArm64Tools();
if (missing) {
  console.error(`[arm64] cannot run: ${missing}`);
  process.exit(1);
}
if (!fs.existsSync(path.join(root, 'prebuilds/linux-arm64/dontcache.glibc.node'))) {
  console.error('[arm64] no prebuilds/linux-arm64/dontcache.glibc.node: run npm run prebuild:arm64');
  process.exit(1);
}

const cache = cacheDir();
const archive = new Arm64Archive(cache, loadConfig().kernels.filter((k) => k.arch === 'arm64').flatMap((k) => k.suites));
const qemu = await emulator(archive);
const { node, version } = await arm64Node(cache);
log(`Node ${version} (linux-arm64) ${qemu.length ? `under ${qemu[0]}` : 'natively'}`);

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'dontcache-arm64-'));
try {
  for (const entry of STAGED) fs.cpSync(path.join(root, entry), path.join(stage, entry), { recursive: true });
  // arm64 builds of vitest's native dependencies; no install scripts (the prebuild is the addon).
  run('npm', ['ci', '--cpu=arm64', '--os=linux', '--libc=glibc', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: stage });
  run('npm', ['run', '--silent', 'compile:ts'], { cwd: stage });
  const bin = path.join(stage, '.arm64-bin');
  fs.mkdirSync(bin);
  const wrapper = path.join(bin, 'node');
  const quote = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${[...qemu, node].map(quote).join(' ')} "$@"\n`, { mode: 0o755 });
  log(`staged in ${stage} (${seconds()} s); running vitest on arm64`);
  const env = { ...process.env, DONTCACHE_ARM64_NODE_WRAPPER: wrapper, DONTCACHE_EXPECT_ADDON: 'prebuild' };
  for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
  const files = process.argv.slice(2).length ? process.argv.slice(2) : SUITES;
  for (const [name, why] of Object.entries(EXCLUDED)) log(`left out: "${name}" (${why})`);
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = `^(?!.*(${Object.keys(EXCLUDED).map(escape).join('|')}))`;
  run(wrapper, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/arm64/vitest.config.mjs', '--testNamePattern', pattern, ...files], { cwd: stage, env });
  log(`passed in ${seconds()} s (sysroot ${SYSROOT})`);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
