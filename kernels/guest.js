'use strict';
// In-guest checks of the kernel matrix (also run directly on the host).
// Usage: node guest.js --pkg DIR --kernel LABEL --fs ext4=/mnt/ext4 --fs xfs=/mnt/xfs
// Prints one line per result on stdout: `@@DONTCACHE@@ {json}`, then a `done` line.
// A check only reports what it observed; kernels.json holds what each kernel should show.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const PREFIX = '@@DONTCACHE@@';
const MiB = 1 << 20;
const NOT_IMPLEMENTED = 'not implemented in this build';

function emit(obj) {
  fs.writeSync(1, `${PREFIX} ${JSON.stringify(obj)}\n`);
}

function parseArgs(argv) {
  const out = { pkg: process.env.DONTCACHE_PKG, kernel: os.release(), fs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--pkg') out.pkg = argv[++i];
    else if (a === '--kernel') out.kernel = argv[++i];
    else if (a === '--fs') {
      const [name, dir] = argv[++i].split('=');
      out.fs.push({ name, dir });
    }
  }
  return out;
}

const errText = (e) => (e && e.code ? `${e.code}: ${e.message}` : String(e && e.stack ? e.stack : e));
const isNotSup = (e) => e && (e.code === 'ENOTSUP' || e.code === 'EOPNOTSUPP' || e.errno === 95 || e.errno === -95);
const isNoSys = (e) => e && (e.code === 'ENOSYS' || e.errno === 38 || e.errno === -38);

function pattern(size, seed) {
  // Deterministic, incompressible-looking content.
  const buf = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  return buf;
}

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let pkg;
  try {
    pkg = require(path.resolve(args.pkg || path.join(__dirname, '..')));
  } catch (e) {
    emit({ type: 'fatal', kernel: args.kernel, detail: `cannot load the package: ${errText(e)}` });
    emit({ type: 'done' });
    process.exitCode = 1;
    return;
  }
  const { constants } = pkg;
  const DC = constants.RWF_DONTCACHE;
  // The kernel's page size (cachestat counts pages of it): 4 KiB here, 16 or 64 KiB on some arm64 kernels.
  const PAGE = constants.PAGE_SIZE;
  emit({ type: 'info', kernel: args.kernel, release: os.release(), node: process.version, addon: pkg.addonPath,
    exports: Object.keys(pkg).sort() });

  const has = (name) => typeof pkg[name] === 'function';

  async function residentFraction(file) {
    if (has('pageCacheState')) {
      const s = await pkg.pageCacheState(file);
      return { method: s.method, residentFraction: s.residentFraction };
    }
    const fd = fs.openSync(file, 'r');
    try {
      try {
        const c = await pkg.cachestat(fd, 0, 0);
        const pages = Math.ceil(fs.fstatSync(fd).size / PAGE) || 1;
        return { method: 'cachestat(raw)', residentFraction: c.cache / pages };
      } catch (e) {
        if (!isNoSys(e)) throw e;
        const r = await pkg.mincoreResidency(fd, 0, 0);
        return { method: 'mincore(raw)', residentFraction: r.pages ? r.resident / r.pages : 0 };
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  for (const { name: fsName, dir } of args.fs) {
    const state = { accepted: undefined, cachestat: undefined };
    const report = (check, status, observed, detail) =>
      emit({ type: 'result', kernel: args.kernel, fs: fsName, check, status, observed, detail });
    const run = async (check, fn) => {
      const t0 = Date.now();
      try {
        const r = await fn();
        report(check, r.status || 'pass', r.observed, { ...(r.detail || {}), ms: Date.now() - t0 });
      } catch (e) {
        report(check, 'fail', undefined, { error: errText(e), ms: Date.now() - t0 });
      }
    };
    const file = (n) => path.join(dir, `dontcache-matrix-${n}.bin`);

    // The package's page size (sysconf) against the kernel's own word (KernelPageSize in smaps).
    await run('page-size', async () => {
      const smaps = fs.readFileSync('/proc/self/smaps', 'utf8').match(/^KernelPageSize:\s+(\d+) kB/m);
      return { observed: PAGE, detail: { kernelPageSize: smaps ? Number(smaps[1]) * 1024 : null,
        maxBytesPerCall: constants.MAX_BYTES_PER_CALL, arch: process.arch } };
    });

    // 1 MiB pwritev2 with RWF_DONTCACHE: accepted or refused (ENOTSUP)?
    await run('dontcache-write', async () => {
      const fd = fs.openSync(file('flag'), 'w+');
      try {
        const n = await pkg.pwritev2(fd, [pattern(MiB, 1)], 0, DC);
        state.accepted = true;
        return { observed: 'accepted', detail: { bytes: n } };
      } catch (e) {
        if (!isNotSup(e)) throw e;
        state.accepted = false;
        return { observed: 'refused', detail: { code: e.code, errno: e.errno } };
      } finally {
        fs.closeSync(fd);
      }
    });

    // cachestat(2) present (6.5+) or ENOSYS?
    await run('cachestat', async () => {
      const fd = fs.openSync(file('flag'), 'r');
      try {
        const c = await pkg.cachestat(fd, 0, MiB);
        state.cachestat = true;
        return { observed: 'available', detail: c };
      } catch (e) {
        if (!isNoSys(e)) throw e;
        state.cachestat = false;
        return { observed: 'ENOSYS', detail: { code: e.code } };
      } finally {
        fs.closeSync(fd);
      }
    });

    // Right after each dontcache write returns: range under writeback/gone (inline flush) or dirty (flusher kick)?
    await run('writeback-after-dontcache', async () => {
      if (state.accepted === false) return { observed: 'unsupported', detail: { reason: 'RWF_DONTCACHE refused' } };
      if (!state.cachestat) return { status: 'skip', detail: { reason: 'no cachestat on this kernel' } };
      const fd = fs.openSync(file('writeback'), 'w+');
      const writes = 16;
      let dirty = 0, clean = 0;
      const samples = [];
      const bufs = Array.from({ length: writes }, (_, i) => pattern(MiB, i + 10));
      // Sync calls: measure as soon as the write returns (the thread-pool hop of the async API
      // gives a flusher-kick kernel's flusher time to start, under emulation most of all).
      const write = has('pwritev2Sync') ? (b, pos) => pkg.pwritev2Sync(fd, [b], pos, DC) : (b, pos) => pkg.pwritev2(fd, [b], pos, DC);
      const stat = has('cachestatSync') ? (pos) => pkg.cachestatSync(fd, pos, MiB) : (pos) => pkg.cachestat(fd, pos, MiB);
      try {
        for (let i = 0; i < writes; i++) {
          await write(bufs[i], i * MiB);
          const c = await stat(i * MiB);
          if (c.dirty > MiB / PAGE / 2) dirty++; else clean++;
          if (i < 4) samples.push(c);
        }
      } finally {
        fs.closeSync(fd);
      }
      const observed = dirty > clean ? 'flusher-kick' : 'inline-flush';
      return { observed, detail: { writes, mostlyDirty: dirty, underWritebackOrGone: clean, samples } };
    });

    // tracefs: does the writeback_start event know the reason "dontcache"?
    await run('tracefs-dontcache-reason', async () => {
      const candidates = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']
        .map((d) => path.join(d, 'events/writeback/writeback_start/format'));
      for (const f of candidates) {
        let text;
        try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
        return { observed: text.includes('dontcache'), detail: { format: f } };
      }
      return { status: 'skip', detail: { reason: 'tracefs not mounted or writeback events missing' } };
    });

    // A file written with pwritev2 (dontcache when accepted) reads back byte-exact.
    await run('byte-exact', async () => {
      const f = file('exact');
      const chunks = Array.from({ length: 8 }, (_, i) => pattern(MiB, 100 + i));
      const flags = state.accepted ? DC : 0;
      const fd = fs.openSync(f, 'w+');
      try {
        for (let i = 0; i < chunks.length; i++) await pkg.pwritev2(fd, [chunks[i]], i * MiB, flags);
        await pkg.fdatasync(fd);
      } finally {
        fs.closeSync(fd);
      }
      const want = sha(Buffer.concat(chunks));
      const got = sha(fs.readFileSync(f));
      return { status: want === got ? 'pass' : 'fail', observed: want === got ? 'match' : 'mismatch',
        detail: { flags, sha256: got } };
    });

    // probe(dir): the package's own verdict.
    await run('probe', async () => {
      if (!has('probe')) return { status: 'skip', detail: { reason: NOT_IMPLEMENTED } };
      const p = await pkg.probe(dir);
      return {
        observed: { fsType: p.fsType, dontcacheWrite: p.dontcacheWrite, dontcacheRead: p.dontcacheRead,
          refusedWith: p.refusedWith, writeback: p.writeback },
        detail: { kernel: p.kernel, evidence: p.evidence },
      };
    });

    // pageCacheState works (mincore on kernels without cachestat) and sees a buffered write.
    await run('page-cache-state', async () => {
      if (!has('pageCacheState')) return { status: 'skip', detail: { reason: NOT_IMPLEMENTED } };
      const f = file('pcs');
      fs.writeFileSync(f, pattern(4 * MiB, 7));
      const s = await pkg.pageCacheState(f);
      return { observed: { method: s.method, residentFraction: s.residentFraction }, detail: s };
    });

    // DontcacheWriteStream, cache 'auto' and 'dontcache': byte-exact, fallback when refused, low residency.
    for (const cache of ['auto', 'dontcache']) {
      await run(`stream-${cache}`, async () => {
        if (!has('createDontcacheWriteStream')) return { status: 'skip', detail: { reason: NOT_IMPLEMENTED } };
        const f = file(`stream-${cache}`);
        const chunks = Array.from({ length: 32 }, (_, i) => pattern(MiB, 200 + i));
        const fallbacks = [];
        const stream = pkg.createDontcacheWriteStream(f, { cache });
        stream.on('fallback', (ev) => fallbacks.push(ev && typeof ev === 'object' ? { ...ev, error: ev.error && errText(ev.error) } : ev));
        await new Promise((resolve, reject) => {
          stream.on('error', reject);
          stream.on('close', resolve);
          (async () => {
            for (const c of chunks) {
              if (!stream.write(c)) await new Promise((r) => stream.once('drain', r));
            }
            stream.end();
          })().catch(reject);
        });
        const want = sha(Buffer.concat(chunks));
        const res = await residentFraction(f);
        // Hash after residency: reading the file back fills the cache.
        const got = sha(fs.readFileSync(f));
        const stats = stream.stats || {};
        return {
          status: want === got ? 'pass' : 'fail',
          observed: { strategy: stats.strategy, fallback: fallbacks.length > 0, residentFraction: res.residentFraction,
            bytes: want === got ? 'match' : 'mismatch' },
          detail: { residencyMethod: res.method, fallbacks, stats },
        };
      });
    }

    // The latency lab's smallest profile: verdict equals probe's.
    await run('lab-verdict', async () => {
      if (!has('runLab')) return { status: 'skip', detail: { reason: NOT_IMPLEMENTED } };
      // Smallest profile: one seq-write trial of 8 MiB, buffered vs dontcache, no warm-up.
      const r = await pkg.runLab({ dir, sizeBytes: 8 * MiB, trials: 1, scenarios: ['seq-write'],
        modes: ['buffered', 'dontcache'], warmup: false });
      const v = r.verdict || {};
      return { observed: { verdict: v.writeback, agrees: v.agrees },
        detail: { reason: v.reason, advice: v.advice, durationS: r.durationS, options: r.options } };
    });

    for (const f of fs.readdirSync(dir)) if (f.startsWith('dontcache-matrix-')) fs.rmSync(path.join(dir, f), { force: true });
  }
  emit({ type: 'done' });
}

main().catch((e) => {
  emit({ type: 'fatal', detail: errText(e) });
  emit({ type: 'done' });
  process.exitCode = 1;
});
