'use strict';
// In-guest checks of the kernel matrix (also run directly on the host).
// Usage: node guest.js --pkg DIR --kernel LABEL [--args-file FILE] --fs ext4=/mnt/ext4 --fs xfs=/mnt/xfs
// FILE (JSON): {"mode": "checks" (default) | "ab", "lab": {lab profile: sizeMiB, trials, scenarios, modes, warmup}}.
// "checks" runs every check; "ab" runs only the A/B latency profile of the lab (one `lab` line per file system).
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

/** The lab profile of the lab-verdict check when kernels.json gives none: small, with small-block scenarios. */
const DEFAULT_LAB = { sizeMiB: 16, trials: 3, scenarios: ['seq-write', 'small-write', 'rand-write'], modes: ['buffered', 'dontcache', 'inline-model'], warmup: false };

function parseArgs(argv) {
  const out = { pkg: process.env.DONTCACHE_PKG, kernel: os.release(), fs: [], mode: 'checks', lab: DEFAULT_LAB };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--pkg') out.pkg = argv[++i];
    else if (a === '--kernel') out.kernel = argv[++i];
    else if (a === '--args-file') {
      const given = JSON.parse(fs.readFileSync(argv[++i], 'utf8'));
      if (given.mode) out.mode = given.mode;
      if (given.lab) out.lab = { ...DEFAULT_LAB, ...given.lab };
    }
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

let pkg;
/** The latency lab: the package's subpath `dontcache/lab` (dist/lab). */
let labEntry;

/** runLab with a kernels.json lab profile; the report without its plot curves (they only feed the HTML page). */
async function runLabProfile(dir, lab) {
  // Progress on the serial log (one line per trial), to follow a long A/B boot.
  const onProgress = (e) => {
    if (e.type === 'trial') emit({ type: 'progress', detail: `lab ${dir}: ${e.done}/${e.total} ${e.scenario} ${e.mode}${e.error ? ` failed: ${e.error}` : ''}` });
  };
  const r = await labEntry.runLab({ dir, sizeBytes: lab.sizeMiB * MiB, trials: lab.trials, scenarios: lab.scenarios, modes: lab.modes, warmup: lab.warmup, onProgress });
  for (const s of r.scenarios) for (const m of s.modes) delete m.curves;
  return r;
}

/**
 * Rewrites `file` in place through the write stream (flags 'r+', cache 'dontcache', 1 MiB windows) and samples
 * its residency after every chunk: whether the stream keeps the pages the kernel leaves behind within a few windows.
 */
async function streamRewrite(file) {
  if (typeof pkg.createDontcacheWriteStream !== 'function' || typeof pkg.cachestatSync !== 'function') return { skipped: true };
  const size = fs.statSync(file).size;
  const windowSize = MiB;
  const chunks = Array.from({ length: size / MiB }, (_, i) => pattern(MiB, 400 + i));
  const rfd = fs.openSync(file, 'r');
  let peak = 0, end = 0;
  const sample = () => { peak = Math.max(peak, pkg.cachestatSync(rfd, 0, size).cached); };
  try {
    const stream = pkg.createDontcacheWriteStream(file, { flags: 'r+', cache: 'dontcache', windowSize });
    await new Promise((resolve, reject) => {
      stream.on('error', reject);
      stream.on('close', resolve);
      (async () => {
        for (const c of chunks) {
          const more = stream.write(c, () => sample());
          if (!more) await new Promise((r) => stream.once('drain', r));
        }
        stream.end();
      })().catch(reject);
    });
    end = (await pkg.cachestat(rfd, 0, size)).cached;
  } finally {
    fs.closeSync(rfd);
  }
  const bytes = sha(fs.readFileSync(file)) === sha(Buffer.concat(chunks)) ? 'match' : 'mismatch';
  return { peak, end, windowPages: windowSize / pkg.constants.PAGE_SIZE, bytes };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  try {
    const root = path.resolve(args.pkg || path.join(__dirname, '..'));
    pkg = require(root);
    labEntry = require(path.join(root, 'dist', 'lab'));
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
        return { method: 'cachestat(raw)', residentFraction: c.cached / pages };
      } catch (e) {
        if (!isNoSys(e)) throw e;
        const r = await pkg.mincoreResidency(fd, 0, 0);
        return { method: 'mincore(raw)', residentFraction: r.pages ? r.resident / r.pages : 0 };
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  if (args.mode === 'ab') {
    // The A/B boots: only the lab, in the A/B profile, on each file system it names (default: all).
    for (const { name: fsName, dir } of args.fs.filter((f) => !args.lab.fileSystems || args.lab.fileSystems.includes(f.name))) {
      const t0 = Date.now();
      try {
        const report = await runLabProfile(dir, args.lab);
        emit({ type: 'lab', kernel: args.kernel, fs: fsName, ms: Date.now() - t0, report });
      } catch (e) {
        emit({ type: 'lab', kernel: args.kernel, fs: fsName, ms: Date.now() - t0, error: errText(e) });
      }
    }
    emit({ type: 'done' });
    return;
  }

  for (const { name: fsName, dir } of args.fs) {
    const state = { accepted: undefined, cachestat: undefined, probe: null };
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
      // Asymmetric by mechanism: an inline flush has submitted the write's own range before the write returns, so
      // no write can be seen dirty after it; under the flusher kick the range stays dirty until the flusher gets
      // there, which on an idle vCPU can be before our cachestat (a majority rule failed 8 dirty / 8 written back
      // on the arm64 guest with a quiet host).
      const observed = dirty > 0 ? 'flusher-kick' : 'inline-flush';
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
      state.probe = p;
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

    // Overwrites (issue 11): written, synced and dropped data overwritten with RWF_DONTCACHE. Does the kernel drop
    // the pages once writeback ends (it skips that when writeback completes in IRQ context, e.g. ext4 overwrites)?
    // Raw package calls only (pwritev2, fdatasync, fadvise, cachestat); then the same rewrite through the stream.
    await run('overwrite-drop', async () => {
      if (state.accepted === false) return { observed: { kernel: 'unsupported' }, detail: { reason: 'RWF_DONTCACHE refused' } };
      if (!state.cachestat) return { status: 'skip', detail: { reason: 'no cachestat on this kernel' } };
      const size = 16 * MiB;
      const pages = size / PAGE;
      const cached = (fd) => pkg.cachestat(fd, 0, size).then((c) => c.cached);
      const settle = async (fd) => {
        // A kernel that defers the drop to a workqueue drops shortly after fdatasync: look again.
        const now = await cached(fd);
        await new Promise((r) => setTimeout(r, 1000));
        return { rightAfterSync: now, after1s: await cached(fd) };
      };
      const classify = (n) => (n <= pages * 0.01 ? 'dropped' : n >= pages * 0.9 ? 'kept' : `partly (${((100 * n) / pages).toFixed(0)}% kept)`);
      const chunks = Array.from({ length: size / MiB }, (_, i) => pattern(MiB, 300 + i));
      const writeAll = async (fd, flags) => {
        for (let i = 0; i < chunks.length; i++) await pkg.pwritev2(fd, [chunks[i]], i * MiB, flags);
        await pkg.fdatasync(fd);
      };
      // Control: a new file written with the flag.
      const fresh = fs.openSync(file('overwrite-new'), 'w+');
      let newFile;
      try { await writeAll(fresh, DC); newFile = await settle(fresh); } finally { fs.closeSync(fresh); }
      // The overwrite: buffered write, fdatasync, drop (fadvise DONTNEED), then overwrite with the flag.
      const f = file('overwrite');
      const fd = fs.openSync(f, 'w+');
      let before, over;
      try {
        await writeAll(fd, 0);
        await pkg.fadvise(fd, 0, 0, constants.POSIX_FADV_DONTNEED);
        before = await cached(fd);
        await writeAll(fd, DC);
        over = await settle(fd);
      } finally {
        fs.closeSync(fd);
      }
      const probeField = state.probe && Object.keys(state.probe).find((k) => /overwrite/i.test(k));
      const stream = await streamRewrite(f);
      return {
        status: before <= pages * 0.01 ? 'pass' : 'fail',
        observed: {
          kernel: classify(over.after1s),
          newFile: classify(newFile.after1s),
          probe: probeField ? state.probe[probeField] : NOT_IMPLEMENTED,
          stream: stream.skipped ? NOT_IMPLEMENTED : { peakResidentFraction: stream.peak / pages, endResidentFraction: stream.end / pages, windowPages: stream.windowPages, bytes: stream.bytes },
        },
        detail: { pages, cachedBeforeOverwrite: before, overwrite: over, newFile, probeField: probeField || null, stream },
      };
    });

    // The latency lab in a small profile with small-block scenarios: its measured behaviour and the probe's.
    await run('lab-verdict', async () => {
      if (typeof labEntry.runLab !== 'function') return { status: 'skip', detail: { reason: NOT_IMPLEMENTED } };
      // Where the flag is refused one scenario shows that; the small-block ones would only time buffered writes.
      const lab = state.accepted === false ? { ...args.lab, scenarios: ['seq-write'] } : args.lab;
      const r = await runLabProfile(dir, lab);
      const v = r.verdict || {};
      // Where each verdict scenario put dontcache between buffered (0) and the inline-flush model (1), per trial.
      const positions = v.calibration ? Object.fromEntries(v.calibration.map((c) => [c.scenario, { says: c.says, position: c.position }])) : NOT_IMPLEMENTED;
      return { observed: { verdict: v.writeback, measured: v.measured === undefined ? NOT_IMPLEMENTED : v.measured, agrees: v.agrees, positions, placement: v.placement ?? null },
        detail: { reason: v.reason, advice: v.advice, ratios: v.ratios, calibration: v.calibration, notMeasured: v.notMeasured, durationS: r.durationS, options: r.options } };
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
