// The initramfs: a common part (busybox, node and its libraries, the built package, guest.js, /init)
// and a per-kernel part (decompressed modules in load order), concatenated into one newc cpio.
import fs from 'node:fs';
import path from 'node:path';
import { sh, which } from './sh.mjs';
import { kernelsDir, repoRoot } from './paths.mjs';

const copy = (from, to) => { fs.mkdirSync(path.dirname(to), { recursive: true }); fs.cpSync(from, to, { recursive: true, dereference: true }); };

/**
 * What the guest runs: a static busybox, node, and the shared libraries of node and the addons
 * (pairs [host file, path in the guest]). The default is this machine's own; kernels/lib/arm64.mjs
 * has the arm64 one. `localBuild`: also ship build/Release (a local compile for this machine).
 */
export const hostUserland = {
  localBuild: true,
  async busybox() {
    const busybox = (await which('busybox')) || '/bin/busybox';
    const r = await sh('ldd', [busybox], { allowFail: true });
    if (!/not a dynamic executable|statically linked/.test(r.stdout + r.stderr)) throw new Error(`${busybox} is not static: install busybox-static`);
    return busybox;
  },
  node: async () => process.execPath,
  async libs(files) {
    const libs = new Set();
    for (const f of files) {
      const r = await sh('ldd', [f], { allowFail: true });
      for (const m of r.stdout.matchAll(/(\/\S+) \(0x/g)) libs.add(m[1]);
    }
    return [...libs].map((lib) => [lib, lib]);
  },
};

/** The built package's files (what `npm pack` would need at run time, minus sources). */
export function packageFiles(localBuild = true) {
  const need = ['package.json', 'dist'];
  for (const n of need) if (!fs.existsSync(path.join(repoRoot, n))) throw new Error(`package not built: ${n} missing (run npm run build)`);
  const files = [...need];
  const release = path.join(repoRoot, 'build/Release');
  if (localBuild && fs.existsSync(release)) for (const f of fs.readdirSync(release)) if (f.endsWith('.node')) files.push(path.join('build/Release', f));
  if (fs.existsSync(path.join(repoRoot, 'prebuilds'))) files.push('prebuilds');
  files.push('node_modules/node-gyp-build');
  return files;
}

async function cpio(dir, out) {
  await sh('sh', ['-c', 'find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet > "$1"', 'sh', out], { cwd: dir });
}

/** Build the common cpio in WORK (named NAME.cpio) from a userland; resolves to its path. */
export async function commonArchive(work, userland = hostUserland, name = 'common') {
  const stage = path.join(work, name);
  fs.rmSync(stage, { recursive: true, force: true });
  copy(await userland.busybox(), path.join(stage, 'bin/busybox'));
  const node = await userland.node();
  copy(node, path.join(stage, 'usr/bin/node'));
  for (const f of packageFiles(userland.localBuild)) copy(path.join(repoRoot, f), path.join(stage, 'pkg', f));
  const addons = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (p.endsWith('.node')) addons.push(p); } };
  walk(path.join(stage, 'pkg'));
  for (const [from, to] of await userland.libs([node, ...addons])) copy(from, path.join(stage, to));
  copy(path.join(kernelsDir, 'guest.js'), path.join(stage, 'guest.js'));
  copy(path.join(kernelsDir, 'init.sh'), path.join(stage, 'init'));
  fs.chmodSync(path.join(stage, 'init'), 0o755);
  fs.mkdirSync(path.join(stage, 'dev'), { recursive: true });
  await sh('mknod', ['-m', '600', path.join(stage, 'dev/console'), 'c', '5', '1'], { allowFail: true });
  const out = path.join(work, `${name}.cpio`);
  await cpio(stage, out);
  fs.rmSync(stage, { recursive: true, force: true });
  return out;
}

/** Per-kernel cpio (modules + order + kernel id + guest.js arguments) appended to the common one; resolves to the initrd path. */
export async function kernelInitrd(work, id, common, modules, guestArgs = {}) {
  const stage = path.join(work, `mods-${id}`);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(path.join(stage, 'modules'), { recursive: true });
  for (const m of modules) {
    const dest = path.join(stage, 'modules', `${m.name}.ko`);
    if (m.file.endsWith('.xz')) await sh('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', m.file, dest]);
    else if (m.file.endsWith('.zst')) await sh('sh', ['-c', 'zstd -dcq "$1" > "$2"', 'sh', m.file, dest]);
    else fs.copyFileSync(m.file, dest);
  }
  fs.writeFileSync(path.join(stage, 'modules/order'), modules.map((m) => m.name).join('\n') + '\n');
  fs.writeFileSync(path.join(stage, 'kernel-id'), id);
  fs.writeFileSync(path.join(stage, 'guest-args.json'), JSON.stringify(guestArgs));
  const mods = path.join(work, `mods-${id}.cpio`);
  await cpio(stage, mods);
  const initrd = path.join(work, `initrd-${id}.cpio`);
  await sh('sh', ['-c', 'cat "$1" "$2" > "$3"', 'sh', common, mods, initrd]);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.rmSync(mods, { force: true });
  return initrd;
}
