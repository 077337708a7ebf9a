// What each kernel must show (kernels.json), and the verdict of one observed result against it.
import os from 'node:os';

const num = (v) => v.split(/[.-]/).slice(0, 2).map((x) => parseInt(x, 10) || 0);
const atLeast = (release, from) => { const [a, b] = num(release), [c, d] = num(from); return a > c || (a === c && b >= d); };

export function expectationsFor(config, kernel, release = os.release()) {
  let perFs = kernel.expect;
  if (perFs === 'byRelease') {
    perFs = { ext4: {}, xfs: {} };
    for (const rule of config.byRelease) {
      if (!atLeast(release, rule.from)) continue;
      for (const fs of ['ext4', 'xfs']) Object.assign(perFs[fs], rule.all || {}, rule[fs] || {});
    }
  }
  return Object.fromEntries(Object.entries(perFs).map(([fs, e]) => [fs, { ...config.defaults, ...e }]));
}

const pct = (x) => `${(x * 100).toFixed(2)}%`;

/**
 * Judge one check. Returns {verdict: 'pass'|'fail'|'skip', message}.
 * `all` holds the other results of the same kernel and file system (for cross-checks).
 */
export function judge(check, result, exp, all = []) {
  if (!result) return { verdict: 'fail', message: 'no result: the guest did not report this check' };
  if (result.status === 'skip') return { verdict: 'skip', message: result.detail?.reason || 'skipped by the guest' };
  if (result.status === 'fail') return { verdict: 'fail', message: result.detail?.error || `failed: ${JSON.stringify(result.observed)}` };
  const o = result.observed;
  const problems = [];
  const want = (cond, text) => { if (!cond) problems.push(text); };
  switch (check) {
    case 'page-size':
      want(o === exp.pageSize, `page size ${o}, expected ${exp.pageSize}`);
      want(result.detail?.kernelPageSize == null || result.detail.kernelPageSize === o, `package says ${o}, smaps says ${result.detail?.kernelPageSize}`);
      break;
    case 'dontcache-write': want(o === (exp.dontcacheWrite ? 'accepted' : 'refused'), `RWF_DONTCACHE ${o}, expected ${exp.dontcacheWrite ? 'accepted' : 'refused'}`); break;
    case 'cachestat': want(o === (exp.cachestat ? 'available' : 'ENOSYS'), `cachestat ${o}, expected ${exp.cachestat ? 'available' : 'ENOSYS'}`); break;
    case 'writeback-after-dontcache':
      // One-sided evidence: a write seen dirty after it returned proves the flusher kick, but none seen dirty
      // (reported as 'inline-flush') fits both, since a flusher on an idle vCPU can write every page back before
      // cachestat looks (arm64 XFS guest, quiet host: 0 of 16 dirty). The probe and the lab verdict decide there.
      if (o === 'inline-flush' && exp.writeback === 'flusher-kick') {
        return { verdict: 'skip', message: 'no write was seen dirty: the flusher was faster than the check, which then cannot tell' };
      }
      want(o === exp.writeback, `writeback looks like ${o}, expected ${exp.writeback}`);
      break;
    case 'tracefs-dontcache-reason': want(o === exp.tracefsDontcache, `tracefs dontcache reason ${o}, expected ${exp.tracefsDontcache}`); break;
    case 'byte-exact': want(o === 'match', `content ${o}`); break;
    case 'probe':
      want(o.dontcacheWrite === exp.dontcacheWrite, `probe dontcacheWrite ${o.dontcacheWrite}, expected ${exp.dontcacheWrite}`);
      want(o.writeback === exp.writeback, `probe writeback ${o.writeback}, expected ${exp.writeback}`);
      if (!exp.dontcacheWrite) want(/ENOTSUP|EOPNOTSUPP/.test(String(o.refusedWith)), `probe refusedWith ${o.refusedWith}, expected EOPNOTSUPP`);
      want(Array.isArray(result.detail?.evidence) && result.detail.evidence.length > 0, 'probe gave no evidence');
      if (exp.cachestatEvidence) {
        // The probe's own cachestat readings (pages of the kernel's size) must tell the behaviour alone.
        const says = result.detail?.evidence?.find((e) => e.source === 'cachestat')?.says;
        want(says === exp.writeback, `probe's cachestat evidence says ${says}, expected ${exp.writeback}`);
      }
      break;
    case 'page-cache-state':
      want(o.method === exp.pageCacheMethod, `pageCacheState method ${o.method}, expected ${exp.pageCacheMethod}`);
      want(o.residentFraction > 0.5, `pageCacheState saw ${pct(o.residentFraction)} of a freshly written buffered file`);
      break;
    case 'stream-auto':
    case 'stream-dontcache':
      want(o.bytes === 'match', 'stream content differs');
      want(o.residentFraction <= exp.maxResidency, `residency ${pct(o.residentFraction)} > ${pct(exp.maxResidency)}`);
      if (exp.dontcacheWrite) want(o.strategy === 'dontcache' && !o.fallback, `strategy ${o.strategy}${o.fallback ? ' after a fallback' : ''}, expected dontcache`);
      else want(o.strategy !== 'dontcache' && o.fallback, `strategy ${o.strategy}, fallback ${o.fallback}: expected a fallback away from dontcache`);
      break;
    case 'overwrite-drop':
      if (!exp.dontcacheWrite) { want(o.kernel === 'unsupported', `overwrite check saw ${o.kernel} where RWF_DONTCACHE is refused`); break; }
      // New files are dropped on every kernel with the flag; what overwrites do is measured, not expected.
      want(o.newFile === 'dropped', `a new file written with RWF_DONTCACHE was ${o.newFile} after fdatasync`);
      if (o.stream && typeof o.stream === 'object') want(o.stream.bytes === 'match', 'the stream rewrite left different bytes');
      break;
    case 'lab-verdict': {
      const probe = all.find((r) => r.check === 'probe' && r.status === 'pass');
      want(o.verdict === exp.writeback, `lab verdict ${o.verdict}, expected ${exp.writeback}`);
      if (probe) want(o.verdict === probe.observed.writeback, `lab verdict ${o.verdict} differs from probe ${probe.observed.writeback}`);
      // With the flag the lab must place dontcache between its references (measured not null). A behaviour it
      // decides must be the expected one; 'inconclusive' (blurred figures, shown with their spread) passes here,
      // the A/B run (several boots, more trials) is where it must decide.
      if (exp.dontcacheWrite) {
        want(o.measured !== null, `the lab had no figures to judge: ${result.detail?.reason}`);
        if (o.measured === 'inline-flush' || o.measured === 'flusher-kick') {
          want(o.measured === exp.writeback && o.agrees === true, `the lab's figures say ${o.measured}, expected ${exp.writeback} (agrees: ${o.agrees}): ${result.detail?.reason}`);
        }
      }
      break;
    }
    default: break;
  }
  return problems.length ? { verdict: 'fail', message: problems.join('; ') } : { verdict: 'pass', message: JSON.stringify(o) };
}
