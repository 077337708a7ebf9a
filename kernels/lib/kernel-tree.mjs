// Unpack a kernel's .debs once (reused), run depmod, and find vmlinuz and a module closure in load order.
import fs from 'node:fs';
import path from 'node:path';
import { sh } from './sh.mjs';

/**
 * Unpack the debs into CACHE/trees/KEY (once); resolves to {root, release, vmlinuz}. Unpacked beside it and
 * renamed into place, so runs sharing the cache never see (or remove) a half-made tree.
 */
export async function kernelTree(cache, key, debs) {
  const root = path.join(cache, 'trees', key);
  if (!fs.existsSync(path.join(root, '.done'))) {
    fs.mkdirSync(path.dirname(root), { recursive: true });
    const stage = fs.mkdtempSync(`${root}.unpack-`);
    try {
      for (const d of debs) await sh('dpkg-deb', ['-x', d.file, stage]);
      // Newer packages ship /usr/lib/modules; depmod -b (bookworm kmod) looks under ROOT/lib/modules.
      const usrMods = path.join(stage, 'usr/lib/modules');
      if (fs.existsSync(usrMods)) {
        fs.mkdirSync(path.join(stage, 'lib/modules'), { recursive: true });
        for (const r of fs.readdirSync(usrMods)) fs.renameSync(path.join(usrMods, r), path.join(stage, 'lib/modules', r));
      }
      const release = onlyRelease(stage);
      await sh('/sbin/depmod', ['-b', stage, release]);
      fs.writeFileSync(path.join(stage, '.done'), release);
      // A tree without .done is a leftover of an interrupted older run: replace it.
      if (!fs.existsSync(path.join(root, '.done'))) {
        fs.rmSync(root, { recursive: true, force: true });
        try { fs.renameSync(stage, root); } catch (e) { if (!fs.existsSync(path.join(root, '.done'))) throw e; }
      }
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
  }
  const release = onlyRelease(root);
  const vmlinuz = [path.join(root, 'boot', `vmlinuz-${release}`), path.join(root, 'lib/modules', release, 'vmlinuz')].find((f) => fs.existsSync(f));
  if (!vmlinuz) throw new Error(`no vmlinuz for ${release} in ${key}`);
  return { root, release, vmlinuz };
}

function onlyRelease(root) {
  const rels = fs.readdirSync(path.join(root, 'lib/modules'));
  if (rels.length !== 1) throw new Error(`expected one kernel release in ${root}/lib/modules, found ${rels.join(', ')}`);
  return rels[0];
}

/**
 * The wanted modules (by name, - and _ alike) and their dependencies from modules.dep, dependencies first.
 * Names that are built in or absent are listed separately.
 */
export function moduleClosure({ root, release }, wanted) {
  const dir = path.join(root, 'lib/modules', release);
  const norm = (n) => n.replace(/-/g, '_');
  const nameOf = (p) => norm(path.basename(p).replace(/\.ko(\.(xz|zst|gz))?$/, ''));
  const deps = new Map();
  for (const line of fs.readFileSync(path.join(dir, 'modules.dep'), 'utf8').split('\n')) {
    const m = line.match(/^([^:]+):\s*(.*)$/);
    if (m) deps.set(nameOf(m[1]), { file: path.join(dir, m[1]), deps: m[2].split(/\s+/).filter(Boolean).map(nameOf) });
  }
  const builtinFile = path.join(dir, 'modules.builtin');
  const builtin = new Set((fs.existsSync(builtinFile) ? fs.readFileSync(builtinFile, 'utf8') : '').split('\n').filter(Boolean).map(nameOf));
  const order = [], seen = new Set(), missing = [];
  const visit = (n) => {
    if (seen.has(n)) return;
    seen.add(n);
    const d = deps.get(n);
    if (!d) { missing.push(builtin.has(n) ? `${n} (built in)` : `${n} (absent)`); return; }
    // modules.dep lists the full closure, deepest last: visit in reverse so dependencies come first.
    for (const x of [...d.deps].reverse()) visit(x);
    order.push({ name: n, file: d.file });
  };
  for (const w of wanted) visit(norm(w));
  return { order, missing };
}
