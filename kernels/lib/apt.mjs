// A private apt set-up (own sources, lists and cache under the cache dir; the machine's apt is not touched):
// refresh the package index, pick the newest kernel of a line, download its .debs (reused when present).
import fs from 'node:fs';
import path from 'node:path';
import { sh } from './sh.mjs';

const APT_ETC = '/etc/apt';
const DEBIAN_SUITE = /^(buster|bullseye|bookworm|trixie|forky|duke|sid|unstable|testing|stable|oldstable)(-|$)/;

/** Source entries ({uri, suites, signedBy}) of the deb822 `.sources` and one-line `.list` files under `etc`. */
export function readAptSources(etc = APT_ETC) {
  const files = [path.join(etc, 'sources.list')];
  try {
    for (const f of fs.readdirSync(path.join(etc, 'sources.list.d')).sort()) files.push(path.join(etc, 'sources.list.d', f));
  } catch { /* no sources.list.d */ }
  const entries = [];
  for (const file of files) {
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch { continue; }
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name) => (stanza.match(new RegExp(`^${name}:[ \t]*(.+)$`, 'mi')) || [])[1]?.trim();
        if (!/(^|\s)deb(\s|$)/.test(field('Types') || '') || /^(no|false)$/i.test(field('Enabled') || '')) continue;
        for (const uri of (field('URIs') || '').split(/\s+/).filter(Boolean)) {
          entries.push({ uri, suites: (field('Suites') || '').split(/\s+/).filter(Boolean), signedBy: field('Signed-By'), file });
        }
      }
    } else if (file.endsWith('.list') || file.endsWith('sources.list')) {
      for (const raw of text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        const m = line.match(/^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/);
        if (!m) continue;
        const signedBy = (m[1] || '').match(/signed-by=(\S+)/)?.[1];
        entries.push({ uri: m[2], suites: [m[3]], signedBy, file });
      }
    }
  }
  return entries;
}

/**
 * The machine's own Debian archives, from its apt sources: the main archive and the security archive
 * (a Debian suite name tells a Debian archive from third-party ones). Throws, with what was looked at,
 * when there is no Debian main archive: no archive host is ever assumed.
 */
export function machineArchives(etc = APT_ETC) {
  const found = {};
  for (const e of readAptSources(etc)) {
    const debian = e.suites.filter((s) => DEBIAN_SUITE.test(s));
    if (!debian.length) continue;
    const kind = debian.every((s) => s.endsWith('-security')) ? 'security' : 'main';
    found[kind] ??= { uri: e.uri, signedBy: e.signedBy, from: e.file };
  }
  if (!found.main) {
    const e = new Error(`no Debian archive in this machine's apt sources (${etc}/sources.list, ${etc}/sources.list.d/*.sources, *.list): ` +
      'the kernel matrix downloads its kernels from the archive the machine already uses; add a Debian source there');
    e.noSources = true;
    throw e;
  }
  // The security suites live in their own archive; without one in the sources, only the main suites are used.
  return found;
}

export class AptArchive {
  constructor(cache, suites, { etc = APT_ETC } = {}) {
    this.etc = etc;
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
    const arch = machineArchives(this.etc);
    const bySource = { main: [], security: [] };
    for (const s of this.suites) bySource[s.endsWith('-security') ? 'security' : 'main'].push(s);
    const stanzas = Object.entries(bySource).filter(([kind, s]) => s.length && arch[kind]).map(([kind, s]) =>
      `Types: deb\nURIs: ${arch[kind].uri}\nSuites: ${s.join(' ')}\nComponents: main\n${arch[kind].signedBy ? `Signed-By: ${arch[kind].signedBy}\n` : ''}`);
    for (const d of ['sources.list.d', 'lists/partial', 'cache/archives/partial']) fs.mkdirSync(path.join(this.root, d), { recursive: true });
    fs.writeFileSync(path.join(this.root, 'sources.list.d', 'dontcache-kernels.sources'), stanzas.join('\n'));
  }

  hasLists() {
    try { return fs.readdirSync(path.join(this.root, 'lists')).some((f) => f.endsWith('_Packages')); } catch { return false; }
  }

  /** apt-get update once per run. Resolves to {stale, warning}; rejects when there is no index at all. */
  update() {
    this.updated ??= (async () => {
      try {
        this.writeSources();
      } catch (e) {
        if (!e.noSources) throw e;
        // A cached index still names and fetches what was downloaded before.
        if (this.hasLists()) return { stale: true, warning: `${e.message}; using the cached index` };
        e.unreachable = true;
        throw e;
      }
      const r = await sh('apt-get', [...this.opts(), '-q', '--error-on=any', 'update'], { allowFail: true, timeoutMs: 180_000 });
      if (r.code === 0) return { stale: false };
      const why = withoutHosts((r.stderr || r.stdout).trim().split('\n').filter((l) => /^(E|W|Err):?/.test(l)).slice(-3).join(' | ')) || `exit ${r.code}`;
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

  /**
   * Newest {V} for which every package template exists: {version}, or {version: null, incomplete} where
   * versions of the first package exist without the others (e.g. a kernel binary whose modules are not in the index).
   */
  async newest(kernel) {
    const [first, ...rest] = kernel.packages;
    const [pre, post] = first.split('{V}');
    const re = new RegExp(`^${escape(pre)}(${kernel.version})${escape(post)}$`);
    const names = new Set(await this.pkgnames(pre));
    for (const t of rest) for (const n of await this.pkgnames(t.split('{V}')[0])) names.add(n);
    const found = [...names].map((n) => n.match(re)?.[1]).filter(Boolean);
    const versions = found.filter((v) => rest.every((t) => names.has(t.replace('{V}', v))));
    const best = await newestOf(versions);
    if (best !== null || !found.length) return { version: best };
    const v = await newestOf(found);
    const missing = rest.map((t) => t.replace('{V}', v)).filter((n) => !names.has(n));
    return { version: null, incomplete: `${first.replace('{V}', v)} is in ${kernel.suites.join(', ')} but ${missing.join(' + ')} is not` +
      ` (nor for ${found.length > 1 ? `any of ${found.length} versions` : 'that version'} of this line)` };
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
        e.message = withoutHosts(e.message);
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

/** apt's messages name the archive's URI; reports (and the README table) say "<archive>" instead. */
export const withoutHosts = (text) => text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, '<archive>');

async function newestOf(versions) {
  let best = null;
  for (const v of versions) if (best === null || (await sh('dpkg', ['--compare-versions', v, 'gt', best], { allowFail: true })).code === 0) best = v;
  return best;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
