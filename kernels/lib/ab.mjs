// The A/B latency run (issue 12): the guest kernels of kernels.json `ab` boot in turn on the same virtual
// machine, round after round (order reversed every other round, so drift of the host hits both behaviours),
// each boot running the lab's `ab` profile on the file systems it names. Then, per kernel and file system: the medians of
// the per-boot figures with their spread over the boots, the lab's verdict on the pooled figures, and whether
// the move from the inline-flush kernels to the flusher-kick ones went the way the kernel change says.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { repoRoot } from './paths.mjs';

const require = createRequire(import.meta.url);
const FS = ['ext4', 'xfs'];
const MODES = ['buffered', 'dontcache', 'writeback', 'inline-model'];
/** The figures summarized per scenario and mode: [label, path into LabModeMetrics (a LabStat), unit]. */
const FIGURES = [
  ['p50', (m) => m.syscallUs?.p50, 'us'],
  ['p99', (m) => m.syscallUs?.p99, 'us'],
  ['p999', (m) => m.syscallUs?.p999, 'us'],
  ['MBps', (m) => m.throughputMBps, 'MB/s'],
  ['peakDirtyMiB', (m) => m.peakDirtyMiB, 'MiB'],
  ['peakWritebackMiB', (m) => m.peakWritebackMiB, 'MiB'],
];

/** Median (mean of the middle two), smallest, largest; n = how many. */
export function spread(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (!n) return null;
  const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return { median, min: v[0], max: v[n - 1], n };
}

/** Boots the `ab` kernels round after round; resolves to {boots, skipped, rounds}. */
export async function runAbRounds(matrix, { only = [], rounds = matrix.config.ab.rounds, log = () => {}, progressFile } = {}) {
  const kernels = matrix.config.ab.kernels
    .filter((id) => !only.length || only.includes(id))
    .map((id) => matrix.config.kernels.find((k) => k.id === id) ?? unknown(id));
  // The comparison rests on identical virtual hardware: one architecture's machine for all.
  const archs = [...new Set(kernels.map((k) => k.arch ?? 'x64'))];
  if (archs.length > 1) throw new Error(`kernels.json ab.kernels mixes ${archs.join(' and ')} guests: an A/B run compares kernels on one machine`);
  const boots = [];
  const skipped = {};
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? kernels : [...kernels].reverse();
    for (const kernel of order) {
      if (skipped[kernel.id]) continue;
      log(`A/B round ${round}/${rounds}: ${kernel.id}`);
      const rec = await matrix.run(kernel, { mode: 'ab' });
      if (rec.status === 'skipped') { skipped[kernel.id] = rec.reason; continue; }
      boots.push({ round, ...rec });
      // Kept after every boot: an hour of boots survives a crash of the summary (node kernels/run.mjs --ab-summarize FILE).
      if (progressFile) fs.writeFileSync(progressFile, JSON.stringify({ boots, skipped, rounds, kernels: kernels.map((k) => k.id) }));
    }
  }
  return { boots, skipped, rounds, kernels: kernels.map((k) => k.id) };
}

function unknown(id) { throw new Error(`kernels.json ab.kernels names ${id}, which is not in kernels`); }

/** A LabModeMetrics whose stats are the spread over the boots of each boot's median. */
function pooledMetrics(list) {
  const stat = (get) => {
    const s = spread(list.map((m) => get(m)?.median));
    return s ? { median: s.median, min: s.min, max: s.max } : { median: 0, min: 0, max: 0 };
  };
  const latency = (get) => (list.every((m) => get(m)) ? Object.fromEntries(['p50', 'p90', 'p99', 'p999', 'max'].map((k) => [k, stat((m) => get(m)[k])])) : null);
  return {
    syscallUs: latency((m) => m.syscallUs),
    callbackUs: latency((m) => m.callbackUs),
    ...Object.fromEntries(['eventLoopDelayP99Us', 'throughputMBps', 'cpuMs', 'syncMs', 'residencyPct', 'peakDirtyMiB', 'peakWritebackMiB', 'peakCachedMiB'].map((k) => [k, stat((m) => m[k])])),
  };
}

/** The lab's verdict function, from the built package (the same rule as `dontcache bench`). */
function labVerdict() {
  return require(path.join(repoRoot, 'dist', 'lab', 'verdict.js')).labVerdict;
}

/** Per kernel and file system: figures over the boots, pooled verdict, per-boot verdicts. */
export function summarizeAb(config, { boots, skipped, rounds, kernels }) {
  const verdictOf = labVerdict();
  const fileSystems = config.lab?.ab?.fileSystems ?? FS;
  const rows = [];
  for (const id of kernels) {
    if (skipped[id]) { rows.push({ id, status: 'skipped', reason: skipped[id] }); continue; }
    const mine = boots.filter((b) => b.id === id);
    const failedBoots = mine.filter((b) => b.status !== 'ok').map((b) => ({ round: b.round, reason: b.reason }));
    const expect = mine[0]?.expect;
    for (const fs of fileSystems) {
      const labs = mine.filter((b) => b.status === 'ok').map((b) => ({ round: b.round, ...(b.labs.find((l) => l.fs === fs) || { error: 'no lab result' }) }));
      const reports = labs.filter((l) => l.report).map((l) => l.report);
      const row = { id, fs, release: mine[0]?.release ?? null, expected: expect?.[fs]?.writeback ?? null, boots: labs.length, failedBoots,
        labErrors: labs.filter((l) => l.error).map((l) => `round ${l.round}: ${l.error}`), perBoot: [], scenarios: {}, ratios: {} };
      // Each boot judged again by the current rule (a function of its figures), so boots saved by an older build
      // (--ab-summarize) are read the same way as the pooled figures.
      const verdicts = reports.map((r) => verdictOf(r.probe, r.scenarios));
      for (const [i, r] of reports.entries()) {
        row.perBoot.push({ round: labs.filter((l) => l.report)[i].round, measured: verdicts[i].measured ?? null, agrees: verdicts[i].agrees, probe: verdicts[i].writeback, seconds: r.durationS });
      }
      if (reports.length) {
        const probe = reports[0].probe;
        const pooled = reports[0].scenarios.map((s0) => ({
          ...s0,
          modes: s0.modes.map((m0) => {
            const list = reports.map((r) => r.scenarios.find((s) => s.name === s0.name)?.modes.find((m) => m.mode === m0.mode)).filter((m) => m?.status === 'ok' && m.metrics);
            return list.length === reports.length ? { ...m0, status: 'ok', metrics: pooledMetrics(list.map((m) => m.metrics)), trials: list.flatMap((m) => m.trials) } : { ...m0, status: m0.status === 'ok' ? 'failed' : m0.status, reason: m0.reason ?? 'failed in some boots', metrics: undefined };
          }),
        }));
        const v = verdictOf(probe, pooled);
        row.probe = probe?.writeback ?? null;
        row.measured = v.measured ?? null;
        row.agrees = v.agrees;
        row.reason = v.reason;
        row.calibration = v.calibration ?? [];
        row.placement = v.placement ?? null;
        for (const s of pooled) {
          row.scenarios[s.name] = {};
          for (const m of s.modes.filter((x) => x.status === 'ok')) {
            row.scenarios[s.name][m.mode] = Object.fromEntries(FIGURES.map(([label, get]) => [label, spread(reports.map((r) => get(r.scenarios.find((x) => x.name === s.name).modes.find((x) => x.mode === m.mode).metrics)?.median))]));
          }
        }
        // Ratios per boot (each boot's own dontcache/buffered), then their spread over the boots.
        for (const v of verdicts) for (const q of v.ratios) {
          const key = `${q.scenario} ${q.mode}`;
          row.ratios[key] ??= { scenario: q.scenario, mode: q.mode, basis: q.basis, p50: [], p999: [], throughput: [] };
          for (const k of ['p50', 'p999', 'throughput']) row.ratios[key][k].push(q[k]);
        }
        // Each boot's value is kept (in round order) beside its spread: the report's figures can be checked.
        for (const q of Object.values(row.ratios)) for (const k of ['p50', 'p999', 'throughput']) q[k] = { ...spread(q[k]), values: q[k] };
      }
      rows.push(row);
    }
  }
  return { rounds, kernels, rows, movement: movement(rows) };
}

/**
 * Did going from the inline-flush kernels to the flusher-kick ones move writer latency the way the kernel
 * change says (the writer stops paying for writeback submission: dontcache/buffered ratios fall)? Per file
 * system and scenario, the newest inline-flush kernel that ran against the first flusher-kick one: 'as said'
 * when every kick boot's ratio is below every inline boot's, 'blurred' when the medians fall but the
 * spreads overlap, 'not seen' when the median does not fall.
 */
export function movement(rows) {
  const out = [];
  for (const fs of [...new Set(rows.map((r) => r.fs).filter(Boolean))]) {
    const ran = rows.filter((r) => r.fs === fs && r.boots > 0 && r.expected);
    const inline = ran.filter((r) => r.expected === 'inline-flush').at(-1);
    const kick = ran.find((r) => r.expected === 'flusher-kick');
    if (!inline || !kick) { out.push({ fs, status: 'not measured', detail: `needs an inline-flush and a flusher-kick kernel that booted (had: ${ran.map((r) => r.id).join(', ') || 'none'})` }); continue; }
    for (const key of Object.keys(inline.ratios).filter((k) => k.endsWith(' dontcache'))) {
      const a = inline.ratios[key], b = kick.ratios[key];
      if (!b) continue;
      for (const k of ['p50', 'p999']) {
        if (!a[k]?.n || !b[k]?.n) continue;
        const status = b[k].max < a[k].min ? 'as said' : b[k].median < a[k].median ? 'blurred' : 'not seen';
        out.push({ fs, scenario: a.scenario, figure: k, from: inline.id, to: kick.id, before: a[k], after: b[k], status });
      }
    }
  }
  return out;
}

/** One paragraph: what the A/B run showed, from its own figures. */
export function abConclusion(summary) {
  const moved = summary.movement.filter((m) => m.status !== 'not measured');
  if (!moved.length) return 'No inline-flush and flusher-kick pair booted: nothing to compare.';
  const count = (fig, st) => moved.filter((m) => m.figure === fig && m.status === st).length;
  const of = (fig) => moved.filter((m) => m.figure === fig).length;
  const verdicts = summary.rows.filter((r) => r.measured !== undefined && r.status !== 'skipped')
    .map((r) => `${r.id} ${r.fs}: ${r.measured ?? 'not measured'}${r.expected ? ` (expected ${r.expected}${r.agrees === true ? ', agrees' : r.agrees === false ? ', DISAGREES' : ', cannot tell'})` : ''}`);
  return `Conclusion from these figures: dontcache/buffered p50 fell as the change says in ${count('p50', 'as said')} of ${of('p50')} scenario x file-system pairs ` +
    `(${count('p50', 'blurred')} blurred, ${count('p50', 'not seen')} not seen); p99.9 in ${count('p999', 'as said')} of ${of('p999')} ` +
    `(${count('p999', 'blurred')} blurred, ${count('p999', 'not seen')} not seen). The lab's verdict from the pooled figures: ${verdicts.join('; ')}.`;
}
