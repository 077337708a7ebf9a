// Builds the committed prebuilds with prebuildify (N-API, stripped, glibc tag), natively or with a
// Debian cross toolchain, and records each in prebuilds/native-sources.sha256 (native-hash.js).
// Usage: node scripts/prebuild.js [x64] [arm64]   (default: both)
// The node headers are node-gyp's usual ones: N-API headers are the same for every architecture.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
/** Debian's GNU triplet prefix of each target's toolchain (package g++-<triplet>). */
const TRIPLETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const onPath = (name) => (process.env.PATH || '').split(':').some((d) => fs.existsSync(path.join(d, name)));

const targets = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(TRIPLETS);
for (const arch of targets) {
  const triplet = TRIPLETS[arch];
  if (!triplet) {
    console.error(`unknown target ${arch}: one of ${Object.keys(TRIPLETS).join(', ')}`);
    process.exit(2);
  }
  const cross = arch !== os.arch();
  const env = { ...process.env };
  const args = ['--napi', '--strip', '--tag-libc', '--arch', arch];
  if (cross) {
    if (!onPath(`${triplet}-g++`)) {
      console.error(`${triplet}-g++ is missing: apt-get install g++-${triplet}`);
      process.exit(1);
    }
    Object.assign(env, { CC: `${triplet}-gcc`, CXX: `${triplet}-g++`, LINK: `${triplet}-g++`, AR: `${triplet}-ar` });
    args.push('--strip-bin', `${triplet}-strip`);
  }
  run(process.execPath, [require.resolve('prebuildify/bin.js'), ...args], env);
  // A cross build leaves build/Release with a .node this machine cannot load, which
  // node-gyp-build would pick before the prebuilds.
  if (cross) fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
  run(process.execPath, [path.join(__dirname, 'native-hash.js'), 'write', `linux-${arch}`], env);
}
