/** The terminal form of a report: one table per scenario, then the verdict. */
import { stat } from './aggregate';
import { pValueText, positionsText, testText } from './verdict';
import type { LabCalibration, LabLatency, LabModeResult, LabReport, LabStat, LabVerdict } from './report-types';

function num(n: number): string {
  if (n >= 1000) return n.toFixed(0);
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Microseconds in a readable unit. */
export function formatUs(us: number): string {
  if (us >= 1e6) return `${num(us / 1e6)}s`;
  if (us >= 1000) return `${num(us / 1000)}ms`;
  return `${num(us)}us`;
}

/** A median with its spread, when the spread is wider than `minWidth` of the median. */
function withSpread(s: LabStat, format: (n: number) => string, minWidth = 0.1): string {
  const wide = s.max > s.min && (minWidth === 0 || (s.median > 0 && (s.max - s.min) / s.median > minWidth));
  return wide ? `${format(s.median)} (${format(s.min)}-${format(s.max)})` : format(s.median);
}

/** Header and cells of the verdict's reference table (terminal and HTML). */
export const CALIBRATION_COLUMNS = ['scenario', 'buffered p50', 'dontcache p50', 'inline-model p50', 'dontcache to buffered', 'dontcache to model', 'position (0 buffered, 1 model)', 'trials nearer buffered / model', 'sign test', 'says'];

export function calibrationCells(c: LabCalibration): string[] {
  const us = (list: number[]) => withSpread(stat(list), formatUs, 0);
  const x = (s: LabStat) => withSpread(s, (n) => `${num(n)}x`, 0);
  const placed = c.position.length > 0;
  return [
    c.scenario, us(c.bufferedP50Us), us(c.dontcacheP50Us), us(c.modelP50Us), x(c.toBuffered), x(c.toModel),
    placed ? positionsText(c.position) : '–', placed ? `${c.test.nearerBuffered} / ${c.test.nearerModel}` : '–', placed ? pValueText(c.test.pValue) : '–', c.says,
  ];
}

/** The line under that table: the test of all trials together, which `measured` comes from. */
export function placementLine(v: LabVerdict): string | undefined {
  return v.placement ? `all together: ${testText(v.placement)}: ${v.measured}` : undefined;
}

const COLUMNS = ['mode', 'p50', 'p99', 'p99.9', 'max', 'cb p99.9', 'loop p99', 'MB/s', 'cpu ms', 'sync ms', 'cached', 'dirty+', 'wb+', 'cache+'];

function latencyCells(l: LabLatency | null): string[] {
  if (!l) return ['-', '-', '-', '-'];
  return [l.p50, l.p99, l.p999, l.max].map((s) => formatUs(s.median));
}

function row(m: LabModeResult, neighbour: boolean): string[] {
  if (m.status !== 'ok' || !m.metrics) return [m.mode, `${m.status}: ${m.reason ?? ''}`];
  const x = m.metrics;
  const cells = [
    m.strategy && m.mode === 'auto' ? `auto→${m.strategy}` : m.mode,
    ...latencyCells(x.syscallUs),
    formatUs(x.callbackUs.p999.median),
    formatUs(x.eventLoopDelayP99Us.median),
    withSpread(x.throughputMBps, num),
    num(x.cpuMs.median),
    num(x.syncMs.median),
    `${x.residencyPct.median.toFixed(1)}%`,
    `${num(x.peakDirtyMiB.median)}M`,
    `${num(x.peakWritebackMiB.median)}M`,
    `${num(x.peakCachedMiB.median)}M`,
  ];
  if (neighbour) cells.push(x.neighbourThroughputMBps ? num(x.neighbourThroughputMBps.median) : '-');
  return cells;
}

function layout(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) if (r.length > 2) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => (r.length <= 2 ? `${r[0].padEnd(widths[0])}  ${r[1] ?? ''}` : r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')));
}

function formatBytes(n: number): string {
  const MiB = 1024 * 1024;
  return n >= 1024 * MiB ? `${+(n / 1024 / MiB).toFixed(1)} GiB` : n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : `${n / 1024} KiB`;
}

/** Scenario parameters as text, sizes in KiB/MiB/GiB. */
export function formatParams(p: Record<string, number | string>): string {
  return Object.entries(p).map(([k, v]) => `${k} ${typeof v === 'number' && v >= 1024 && /size|bytes|limit/i.test(k) ? formatBytes(v) : v}`).join(', ');
}

/** The whole report as terminal text. */
export function formatReportTable(report: LabReport): string {
  const out: string[] = [];
  const p = report.probe;
  out.push(`dontcache latency lab v${report.version}: ${report.dir} (${p?.fsType ?? '?'}), Linux ${report.machine.kernel}, ${report.machine.cpus} CPUs, ${formatBytes(report.machine.memoryBytes)} RAM, ${report.options.trials} trials, ${report.durationS.toFixed(0)} s`);
  out.push('latency columns: per-write syscall time (medians over trials); cb = write callback; loop = event-loop delay; cached = written pages still cached after fdatasync; dirty+/wb+/cache+ = peak /proc/meminfo growth');
  for (const s of report.scenarios) {
    out.push('', `${s.name}: ${s.description} (${formatParams(s.params)})`);
    if (s.status === 'skipped') {
      out.push(`  skipped: ${s.reason}`);
      continue;
    }
    const neighbour = s.modes.some((m) => m.metrics?.neighbourThroughputMBps);
    const rows = [neighbour ? [...COLUMNS, 'nbr MB/s'] : COLUMNS, ...s.modes.map((m) => row(m, neighbour))];
    out.push(...layout(rows).map((l) => `  ${l}`));
  }
  const v = report.verdict;
  if (report.regime) out.push('', `regime: ${report.regime.kind}: ${report.regime.text}`);
  out.push('', `verdict: probe says ${v.writeback}${p ? ` (${p.verdictReason})` : ''}`);
  if (v.measured !== undefined) out.push(`  measurements alone say ${v.measured ?? 'nothing clear'}`);
  out.push(`  measurements ${v.agrees === null ? 'cannot tell' : v.agrees ? 'agree' : 'DISAGREE'}: ${v.reason}`);
  const ratioRows = v.ratios.map((r) => [`${r.scenario} ${r.mode}/buffered`, `p50 ${r.p50.toFixed(2)}x`, `p99.9 ${r.p999.toFixed(2)}x`, `MB/s ${r.throughput.toFixed(2)}x`, `(${r.basis})`]);
  if (ratioRows.length) {
    out.push('  ratios against buffered: latency lower is better, MB/s higher is better; (callback) = write-call-to-callback time where a mode has no syscall figure');
    out.push(...layout(ratioRows).map((l) => `  ${l}`));
  }
  if (v.calibration?.length) {
    out.push("  dontcache between the references of this run, syscall p50 per trial: median (spread); distances are factors on a log scale");
    out.push(...layout([CALIBRATION_COLUMNS, ...v.calibration.map(calibrationCells)]).map((l) => `  ${l}`));
    const line = placementLine(v);
    if (line) out.push(`  ${line}`);
  }
  if (v.notMeasured?.length) out.push(`not measured: ${v.notMeasured.join('; ')}`);
  out.push(`advice: ${v.advice}`);
  return out.join('\n');
}
