// kernels/last-run.json and kernels/last-run.md from a list of run records.
import fs from 'node:fs';
import path from 'node:path';
import { kernelsDir } from './paths.mjs';
import { judge } from './expect.mjs';
import { abConclusion, spread as spreadOf } from './ab.mjs';

const FS = ['ext4', 'xfs'];
const pct = (x) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : '–');

const x = (r) => (typeof r === 'number' ? `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}x` : '–');

/** dontcache/buffered p50 and p99.9 of a lab report's ratios, per scenario. */
function dontcacheRatios(ratios = []) {
  return Object.fromEntries(ratios.filter((r) => r.mode === 'dontcache').map((r) => [r.scenario, { p50: r.p50, p999: r.p999, basis: r.basis }]));
}

function overwriteText(o) {
  if (!o) return '–';
  if (o.kernel === 'unsupported') return 'flag refused';
  const stream = o.stream && typeof o.stream === 'object'
    ? `; stream rewrite peak ${pct(o.stream.peakResidentFraction)}, end ${pct(o.stream.endResidentFraction)}`
    : '';
  const probe = typeof o.probe === 'string' && o.probe === 'not implemented in this build' ? '' : `; probe: ${JSON.stringify(o.probe)}`;
  return `${o.kernel}${stream}${probe}`;
}

export function summarize(config, runs) {
  return runs.map((run) => {
    const rows = FS.map((fs) => {
      const res = run.results.filter((r) => r.fs === fs);
      const get = (c) => res.find((r) => r.check === c);
      // A check added after an earlier run (kept in the report, see writeReports) was not run there: not a failure.
      const verdict = (c) => (run.earlier && !get(c) ? 'not run' : judge(c, get(c), run.expect[fs], res).verdict);
      const checks = Object.fromEntries(config.checks.map((c) => [c, run.status === 'ok' ? verdict(c) : run.status === 'skipped' ? 'skip' : 'fail']));
      const probe = get('probe');
      const raw = get('writeback-after-dontcache');
      const auto = get('stream-auto'), dc = get('stream-dontcache');
      const lab = get('lab-verdict'), over = get('overwrite-drop');
      const fallback = (s) => (s?.status === 'pass' ? `${s.observed.strategy}${s.observed.fallback ? ' (fallback)' : ''}` : '–');
      return {
        fs,
        probe: probe?.status === 'pass' ? probe.observed.writeback : null,
        raw: raw?.status === 'pass' ? raw.observed : null,
        lab: lab?.status === 'pass' ? { measured: lab.observed.measured, agrees: lab.observed.agrees, ratios: dontcacheRatios(lab.detail?.ratios), positions: lab.observed.positions ?? null, placement: lab.observed.placement ?? null } : null,
        overwrite: over?.status === 'pass' ? over.observed : null,
        streamAuto: fallback(auto),
        streamDontcache: fallback(dc),
        residency: [auto, dc].map((s) => (s?.status === 'pass' ? s.observed.residentFraction : null)),
        checks,
      };
    });
    const pageSize = run.results.find((r) => r.check === 'page-size' && r.status === 'pass')?.observed ?? null;
    return { id: run.id, date: run.date ?? null, earlier: Boolean(run.earlier), status: run.status, reason: run.reason, release: run.release,
      packages: run.packages, seconds: run.seconds, accel: run.accel, machine: run.machine, pageSize, rows };
  });
}

/** "median (min–max)" of the trials' positions of dontcache between buffered (0) and the inline-flush model (1). */
function positionText(list) {
  if (!Array.isArray(list) || !list.length) return '–';
  const v = [...list].sort((a, b) => a - b);
  const median = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  const f = (n) => n.toFixed(2);
  return v.length > 1 ? `${f(median)} (${f(v[0])} to ${f(v.at(-1))})` : f(median);
}

function labText(lab) {
  if (!lab) return '(not run)';
  const measured = lab.measured === null ? 'not measured' : lab.measured;
  const positions = lab.positions && typeof lab.positions === 'object'
    ? Object.entries(lab.positions).map(([s, p]) => `${s} ${positionText(p.position)}`).join(', ')
    : '';
  const t = lab.placement;
  const test = t && typeof t === 'object' ? `; ${t.nearerBuffered} / ${t.nearerModel} of ${t.trials} trials nearer buffered / the model (${t.pValue < 0.001 ? 'p < 0.001' : `p = ${t.pValue.toFixed(3)}`})` : '';
  return `${measured} (agrees: ${lab.agrees})${test}${positions ? `; at ${positions}` : ''}`;
}

function ratioText(lab, scenarios) {
  if (!lab) return '–';
  const parts = scenarios.filter((s) => lab.ratios[s]).map((s) => `${s} ${x(lab.ratios[s].p50)} / ${x(lab.ratios[s].p999)}`);
  return parts.join('; ') || '–';
}

const LAST_RUN = path.join(kernelsDir, 'last-run.json');

/**
 * This run's records (stamped `date`) and, for kernels of kernels.json it did not run, their records from the
 * previous report `last` (marked `earlier`, with the date they ran), in kernels.json order: a run of some
 * kernels (DONTCACHE_KERNELS, --only) keeps the other kernels' rows.
 */
export function mergeRuns(config, runs, last, date) {
  const ran = new Set(runs.map((r) => r.id));
  const kept = (last?.runs ?? []).filter((r) => !ran.has(r.id) && config.kernels.some((k) => k.id === r.id))
    .map((r) => ({ ...r, date: r.date ?? last.date, earlier: true }));
  const order = (r) => config.kernels.findIndex((k) => k.id === r.id);
  return [...runs.map((r) => ({ ...r, date, earlier: false })), ...kept].sort((a, b) => order(a) - order(b));
}

function lastReport() {
  try { return JSON.parse(fs.readFileSync(LAST_RUN, 'utf8')); } catch { return null; }
}

/** '2026-12-01 22:55' of an ISO date. */
const minute = (iso) => iso.slice(0, 16).replace('T', ' ');

/** The machines of the guests that ran: "x64: qemu-system-x86_64 -cpu max (-cpu host under KVM), console ttyS0; arm64: ...". */
function machinesText(summary) {
  const seen = new Map();
  for (const k of summary) if (k.machine?.binary && !seen.has(k.machine.arch)) seen.set(k.machine.arch, k.machine);
  return [...seen.values()].map((m) => `${m.arch}: ${m.binary}${m.board ? ` -M ${m.board}` : ''} -cpu ${m.cpu}${m.kvm ? ' (-cpu host under KVM)' : ''}, console ${m.console}`).join('; ');
}

/**
 * kernels/last-run.{json,md} from this run's records plus the rows of kernels it did not run (kept from the
 * previous report, with their date); README's table when every kernel of kernels.json has a row.
 */
export function writeReports(config, runs, { totalSeconds } = {}) {
  const date = new Date().toISOString();
  const all = mergeRuns(config, runs, lastReport(), date);
  const summary = summarize(config, all);
  const json = { date, totalSeconds, ran: runs.map((r) => r.id), runs: all, summary };
  fs.writeFileSync(LAST_RUN, JSON.stringify(json, null, 2) + '\n');
  const q = config.qemu;
  const lab = config.lab?.ci;
  const machines = machinesText(summary);
  const kept = summary.filter((k) => k.earlier);
  const lines = [
    `Kernel matrix, last run ${minute(date)} UTC${totalSeconds ? ` (${Math.round(totalSeconds)} s)` : ''}: \`npm run test:kernels\`` +
      (kept.length ? ` of ${runs.map((r) => r.id).join(', ')}; the other rows are from earlier runs (their date beside the kernel). ` : '. ') +
      `Guests: the same virtual hardware for all (${q.cpus} vCPUs, ${q.memoryMiB} MiB, ${q.diskFormat} virtio disks, cache=${q.diskCache}, ${q.diskSizeMiB} MiB ext4 and XFS${machines ? `; ${machines}` : ''}). ` +
      (lab ? `Lab: ${lab.scenarios.join(', ')}; ${lab.modes.join(' vs ')}; ${lab.sizeMiB} MiB unit, ${lab.trials} trials (small: the A/B run below has the figures to quote). ` : '') +
      'Ratios are dontcache/buffered syscall p50 / p99.9 (lower: dontcache writes return sooner). ' +
      "The lab verdict places dontcache's per-trial syscall p50 between buffered (0) and the inline-flush model (1, a buffered write plus sync_file_range of its range) and names a side when a sign test over all trials gives p <= 0.05 (3 trials x 2 scenarios: only 6 of 6 decide); \"at\" gives the median (smallest to largest) position per scenario.",
    '',
    '| kernel | version | file system | probe verdict | lab verdict (measured, agrees; position of dontcache) | dontcache/buffered p50 / p99.9 | overwrite of dropped data: kernel; stream | raw cachestat after a dontcache write | fallback taken (auto / dontcache) | residency after finish (auto / dontcache) | checks |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const scenarios = lab?.scenarios.filter((s) => s !== 'seq-write').concat(lab.scenarios.includes('seq-write') ? ['seq-write'] : []) ?? [];
  for (const k of summary) {
    const pages = k.pageSize && k.pageSize !== 4096 ? `, ${k.pageSize / 1024} KiB pages` : '';
    const version = k.release ? `${k.release}${k.accel ? ` (${k.accel === 'host' ? 'host' : `qemu ${k.accel}`}${pages})` : ''}` : '–';
    const id = k.earlier ? `${k.id} (run ${k.date ? minute(k.date) : '?'})` : k.id;
    if (k.status !== 'ok') {
      lines.push(`| ${id} | ${version} | – | ${k.status}: ${String(k.reason).replace(/\|/g, '\\|').slice(0, 200)} | | | | | | | |`);
      continue;
    }
    for (const r of k.rows) {
      const counts = Object.values(r.checks).reduce((a, v) => ({ ...a, [v]: (a[v] || 0) + 1 }), {});
      const c = ['pass', 'fail', 'skip', 'not run'].filter((v) => counts[v]).map((v) => `${counts[v]} ${v}`).join(', ');
      lines.push(`| ${id} | ${version} | ${r.fs} | ${r.probe ?? '(not run)'} | ${labText(r.lab)} | ${ratioText(r.lab, scenarios)} | ${overwriteText(r.overwrite)} | ${r.raw ?? '–'} | ${r.streamAuto} / ${r.streamDontcache} | ${pct(r.residency[0])} / ${pct(r.residency[1])} | ${c} |`);
    }
  }
  fs.writeFileSync(path.join(kernelsDir, 'last-run.md'), lines.join('\n') + '\n');
  if (config.kernels.every((k) => all.some((r) => r.id === k.id))) updateReadme(MATRIX_MARKERS, lines);
  return summary;
}

const MATRIX_MARKERS = ['<!-- kernels-table:begin (generated by npm run test:kernels: every kernel of kernels.json, the latest run of each) -->', '<!-- kernels-table:end -->'];
const AB_MARKERS = ['<!-- kernels-ab:begin (generated by npm run test:kernels:ab from a full run) -->', '<!-- kernels-ab:end -->'];

/** Puts generated lines into README.md between a pair of markers. */
function updateReadme([begin, end], lines) {
  const readme = path.join(kernelsDir, '..', 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) return;
  fs.writeFileSync(readme, `${text.slice(0, start + begin.length)}\n${lines.join('\n')}\n${text.slice(stop)}`);
}

const us = (v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)} ms` : `${v.toFixed(0)} us`);
const num = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
/** "median (min–max)" of a spread, in a unit. */
function sp(s, f = num) {
  if (!s?.n) return '–';
  return s.n > 1 && s.max !== s.min ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

/** kernels/last-ab.{json,md} and the README's A/B block from an A/B summary. */
export function writeAbReports(config, summary, { totalSeconds, matrixRuns = [], bootsEnded } = {}) {
  const date = new Date().toISOString();
  fs.writeFileSync(path.join(kernelsDir, 'last-ab.json'), JSON.stringify({ date, totalSeconds, config: { qemu: config.qemu, lab: config.lab.ab, ab: config.ab }, summary }, null, 2) + '\n');
  const q = config.qemu, lab = config.lab.ab;
  const lines = [
    (bootsEnded
      ? `A/B latency run, boots ended ${minute(bootsEnded)} UTC${totalSeconds ? ` (${Math.round(totalSeconds / 60)} min of boots)` : ''}, summarized ${minute(date)} UTC by the current verdict rule (\`node kernels/run.mjs --ab-summarize FILE\`). `
      : `A/B latency run ${minute(date)} UTC${totalSeconds ? ` (${Math.round(totalSeconds / 60)} min)` : ''}: \`npm run test:kernels:ab\`. `) +
      `${summary.rounds} round${summary.rounds === 1 ? '' : 's'}; in each, the kernels boot one after the other (order reversed every other round) on the same qemu machine ` +
      `(${q.cpus} vCPUs, ${q.memoryMiB} MiB, ${q.diskFormat} virtio disks, cache=${q.diskCache}; software emulation when there is no KVM) and run the lab: ` +
      `${lab.scenarios.join(', ')}; ${lab.modes.join(', ')}; ${lab.sizeMiB} MiB unit, ${lab.trials} interleaved trials per boot${lab.warmup ? ', after a warm-up' : ''}, on ${(lab.fileSystems ?? ['ext4', 'xfs']).join(' and ')}. ` +
      'Figures: median over the boots of each boot\'s median, (smallest–largest boot). Syscall latency per write; ratios are each boot\'s dontcache / buffered.',
    '',
  ];
  const skipped = summary.rows.filter((r) => r.status === 'skipped');
  for (const r of skipped) lines.push(`- **${r.id}: not booted**: ${r.reason}`);
  if (skipped.length) lines.push('');
  lines.push('| kernel | file system | boots | probe | lab verdict on the pooled figures (agrees) | per boot | dontcache/buffered p50 | dontcache/buffered p99.9 |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  const ran = summary.rows.filter((r) => r.status !== 'skipped');
  for (const r of ran) {
    const ratio = (k) => Object.values(r.ratios).filter((v) => v.mode === 'dontcache').map((v) => `${v.scenario} ${sp(v[k], (n) => `${n.toFixed(2)}x`)}`).join('; ') || '–';
    const per = r.perBoot.map((b) => `${b.measured ?? 'not measured'}${b.agrees === true ? '' : b.agrees === false ? ' (disagrees)' : ' (?)'}`).join(', ');
    const problems = [...r.failedBoots.map((b) => `round ${b.round} failed: ${b.reason}`), ...r.labErrors].join('; ');
    lines.push(`| ${r.id} (${r.release ?? '?'}) | ${r.fs} | ${r.boots}${problems ? ` (${problems.slice(0, 160)})` : ''} | ${r.probe ?? '–'} | ${r.measured === undefined ? '–' : `${r.measured ?? 'not measured'} (${r.agrees})`} | ${per || '–'} | ${ratio('p50')} | ${ratio('p999')} |`);
  }
  lines.push('', "How the verdict was reached, on the pooled figures: per trial (every boot's trials), dontcache's syscall p50 placed on a log scale from buffered (0) to the inline-flush model (1: a buffered write plus sync_file_range(SYNC_FILE_RANGE_WRITE) of its range, timed together), where the references' ranges do not overlap. " +
    'A sign test counts the trials nearer each reference (p: the chance of a split at least this lopsided were dontcache exactly midway); the verdict names a side when p <= 0.05 over all trials together and no scenario decides the other way on its own.', '');
  lines.push('| kernel | fs | scenario | trials | buffered p50 | dontcache p50 | inline-flush model p50 | position of dontcache (0 buffered, 1 model) | nearer buffered / model | sign test | says |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const pv = (t) => (t ? (t.pValue < 0.001 ? 'p < 0.001' : `p = ${t.pValue.toFixed(3)}`) : '–');
  const counts = (t) => (t ? `${t.nearerBuffered} / ${t.nearerModel}` : '–');
  for (const r of ran) {
    for (const c of r.calibration ?? []) {
      const list = (v) => sp(spreadOf(v), us);
      lines.push(`| ${r.id} | ${r.fs} | ${c.scenario} | ${c.dontcacheP50Us.length} | ${list(c.bufferedP50Us)} | ${list(c.dontcacheP50Us)} | ${list(c.modelP50Us)} | ${positionText(c.position)} | ${counts(c.test)} | ${pv(c.test)} | ${c.says} |`);
    }
    if (r.placement) lines.push(`| ${r.id} | ${r.fs} | **all together** | ${r.placement.trials} | | | | | ${counts(r.placement)} | ${pv(r.placement)} | **${r.measured}** |`);
  }
  lines.push('', 'Per scenario and mode (syscall latency per write; MB/s of the write phase; peak growth of Dirty and Writeback in the guest\'s /proc/meminfo):', '');
  lines.push('| kernel | fs | scenario | mode | p50 | p99 | p99.9 | MB/s | peak Dirty MiB | peak Writeback MiB |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of ran) {
    for (const [scenario, modes] of Object.entries(r.scenarios)) {
      for (const [mode, f] of Object.entries(modes)) {
        lines.push(`| ${r.id} | ${r.fs} | ${scenario} | ${mode} | ${sp(f.p50, us)} | ${sp(f.p99, us)} | ${sp(f.p999, us)} | ${sp(f.MBps)} | ${sp(f.peakDirtyMiB)} | ${sp(f.peakWritebackMiB)} |`);
      }
    }
  }
  lines.push('', 'Did the move from inline flush to the flusher kick lower the dontcache/buffered ratios, as the kernel change says (the writer stops paying for writeback submission)? ' +
    '"as said": every flusher-kick boot below every inline-flush boot; "blurred": the medians fall but the boots overlap; "not seen": the median does not fall.', '');
  lines.push('| file system | scenario | ratio | inline flush | flusher kick | result |', '| --- | --- | --- | --- | --- | --- |');
  for (const m of summary.movement) {
    if (m.status === 'not measured') { lines.push(`| ${m.fs} | – | – | – | – | not measured: ${m.detail} |`); continue; }
    const f = (n) => `${n.toFixed(2)}x`;
    lines.push(`| ${m.fs} | ${m.scenario} | ${m.figure === 'p999' ? 'p99.9' : m.figure} | ${m.from}: ${sp(m.before, f)} | ${m.to}: ${sp(m.after, f)} | ${m.status} |`);
  }
  lines.push('', abConclusion(summary));
  fs.writeFileSync(path.join(kernelsDir, 'last-ab.md'), lines.join('\n') + '\n');
  const full = config.ab.kernels.every((id) => summary.rows.some((r) => r.id === id)) && summary.rounds >= config.ab.rounds;
  if (full) updateReadme(AB_MARKERS, lines);
  return lines;
}
