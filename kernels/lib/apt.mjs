// A private apt set-up (own sources, lists and cache under the cache dir; the machine's apt is not touched):
// refresh the package index, pick the newest kernel of a line, download its .debs (reused when present).
import fs from 'node:fs';
import path from 'node:path';
import { sh } from './sh.mjs';

const MACHINE_SOURCES = '/etc/apt/sources.list.d/debian.sources';
const FALLBACK = {
  main: { uri: 'http://deb.debian.org/debian', signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' },
  security: { uri: 'http://deb.debian.org/debian-security', signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' },
};

/** URIs and keyrings of the machine's own deb822 sources: the main archive and the security archive. */
function machineArchives() {
  const found = { ...FALLBACK };
  let text;
  try { text = fs.readFileSync(MACHINE_SOURCES, 'utf8'); } catch { return found; }
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name) => (stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi')) || [])[1]?.trim();
    const uri = field('URIs')?.split(/\s+/)[0];
    if (!uri) continue;
    const kind = /-security\b/.test(field('Suites') || '') ? 'security' : 'main';
    found[kind] = { uri, signedBy: field('Signed-By') || FALLBACK[kind].signedBy };
  }
  return found;
}

export class AptArchive {
  constructor(cache, suites) {
    this.root = path.join(cache, 'apt');
    this.debs = path.join(cache, 'debs');
    this.suites = [...new Set(suites)];
    this.updated = null;
  }

  opts() {
    return [
      '-o', `Dir::Etc::sourceparts=${path.join(this.root, 'sources.list.d')}`,
      '-o', 'Dir::Etc::sourcelist=/dev/null',
      '-o', `Dir::State::Lists=${path.join(this.root, 'lists')}`,
      '-o', `Dir::Cache=${path.join(this.root, 'cache')}`,
      '-o', 'APT::Sandbox::User=root',
      '-o', 'Acquire::Retries=2',
      '-o', 'Acquire::http::Timeout=20',
    ];
  }

  writeSources() {
    const arch = machineArchives();
    const bySource = { main: [], security: [] };
    for (const s of this.suites) bySource[s.endsWith('-security') ? 'security' : 'main'].push(s);
    const stanzas = Object.entries(bySource).filter(([, s]) => s.length).map(([kind, s]) =>
      `Types: deb\nURIs: ${arch[kind].uri}\nSuites: ${s.join(' ')}\nComponents: main\nSigned-By: ${arch[kind].signedBy}\n`);
    for (const d of ['sources.list.d', 'lists/partial', 'cache/archives/partial']) fs.mkdirSync(path.join(this.root, d), { recursive: true });
    fs.writeFileSync(path.join(this.root, 'sources.list.d', 'dontcache-kernels.sources'), stanzas.join('\n'));
  }

  hasLists() {
    try { return fs.readdirSync(path.join(this.root, 'lists')).some((f) => f.endsWith('_Packages')); } catch { return false; }
  }

  /** apt-get update once per run. Resolves to {stale, warning}; rejects when there is no index at all. */
  update() {
    this.updated ??= (async () => {
      this.writeSources();
      const r = await sh('apt-get', [...this.opts(), '-q', '--error-on=any', 'update'], { allowFail: true, timeoutMs: 180_000 });
      if (r.code === 0) return { stale: false };
      const why = (r.stderr || r.stdout).trim().split('\n').filter((l) => /^(E|W|Err):?/.test(l)).slice(-3).join(' | ') || `exit ${r.code}`;
      if (this.hasLists()) return { stale: true, warning: `apt-get update failed, using the cached index: ${why}` };
      const e = new Error(`Debian archive unreachable (apt-get update failed): ${why}`);
      e.unreachable = true;
      throw e;
    })();
    return this.updated;
  }

  async pkgnames(prefix) {
    const r = await sh('apt-cache', [...this.opts(), 'pkgnames', prefix]);
    return r.stdout.split('\n').filter(Boolean);
  }

  async show(name) {
    const r = await sh('apt-cache', [...this.opts(), 'show', '--no-all-versions', name]);
    const field = (f) => (r.stdout.match(new RegExp(`^${f}: (.+)$`, 'm')) || [])[1];
    return { name, version: field('Version'), filename: field('Filename'), size: Number(field('Size')) };
  }

  /** Newest {V} for which every package template exists; null when none. */
  async newest(kernel) {
    const [first, ...rest] = kernel.packages;
    const [pre, post] = first.split('{V}');
    const re = new RegExp(`^${escape(pre)}(${kernel.version})${escape(post)}$`);
    const names = new Set(await this.pkgnames(pre));
    for (const t of rest) for (const n of await this.pkgnames(t.split('{V}')[0])) names.add(n);
    const versions = [...names].map((n) => n.match(re)?.[1]).filter(Boolean)
      .filter((v) => rest.every((t) => names.has(t.replace('{V}', v))));
    let best = null;
    for (const v of versions) if (best === null || (await sh('dpkg', ['--compare-versions', v, 'gt', best], { allowFail: true })).code === 0) best = v;
    return best;
  }

  /** Download (or reuse) the .debs; resolves to [{name, version, file, cached}]. */
  async fetch(names) {
    fs.mkdirSync(this.debs, { recursive: true });
    const out = [];
    for (const name of names) {
      const info = await this.show(name);
      const file = path.join(this.debs, path.basename(info.filename));
      if (fs.existsSync(file) && fs.statSync(file).size === info.size) {
        out.push({ ...info, file, cached: true });
        continue;
      }
      const tmp = fs.mkdtempSync(path.join(this.debs, '.dl-'));
      try {
        await sh('apt-get', [...this.opts(), '-q', 'download', name], { cwd: tmp, timeoutMs: 900_000 });
        const got = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
        if (!got) throw new Error(`apt-get download ${name} produced no .deb`);
        fs.renameSync(path.join(tmp, got), file);
      } catch (e) {
        e.unreachable = true;
        throw e;
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
      out.push({ ...info, file, cached: false });
    }
    return out;
  }
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
