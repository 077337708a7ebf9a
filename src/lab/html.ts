/**
 * The HTML form of a report: one self-contained page (inline CSS and SVG, no
 * scripts, no network) with, per scenario, a latency percentile plot of every mode
 * and the table of medians.
 */
import { CALIBRATION_COLUMNS, calibrationCells, formatParams, formatUs, placementLine } from './table';
import type { LabModeResult, LabReport, LabScenarioResult } from './report-types';

const COLORS: Record<string, string> = {
  buffered: '#1f77b4',
  dontcache: '#d62728',
  writeback: '#2ca02c',
  auto: '#9467bd',
  direct: '#ff7f0e',
  'inline-model': '#8c564b',
};

const W = 560;
const H = 300;
const M = { left: 64, right: 16, top: 16, bottom: 44 };

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

// x: percentile on the "nines" scale, -log10(1 - q): 50% -> 0.3, 99% -> 2, 99.9% -> 3; max drawn at 4.5.
const MAX_X = 4.5;
function nines(q: number): number {
  return q >= 1 ? MAX_X : Math.min(MAX_X - 0.5, -Math.log10(1 - q));
}

/** An SVG latency percentile plot of `modes` (one line each, log latency over percentile nines). */
export function percentilePlot(title: string, modes: { mode: string; curve: [number, number][] }[]): string {
  const points = modes.flatMap((m) => m.curve.filter(([q]) => q >= 0.5).map(([, us]) => Math.max(us, 0.5)));
  if (points.length === 0) return `<p class="none">${escape(title)}: no data</p>`;
  const lo = Math.floor(Math.log10(Math.min(...points)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...points))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xMin = nines(0.5);
  const x = (q: number) => M.left + ((nines(q) - xMin) / (MAX_X - xMin)) * pw;
  const y = (us: number) => M.top + ph - ((Math.log10(Math.max(us, 0.5)) - lo) / (hi - lo)) * ph;
  const parts: string[] = [];
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${yy}" y2="${yy}" class="grid"/>`);
    parts.push(`<text x="${M.left - 6}" y="${yy}" class="ylab">${formatUs(10 ** e)}</text>`);
  }
  for (const [q, label] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99'], [0.999, 'p99.9'], [0.9999, 'p99.99'], [1, 'max']] as const) {
    const xx = x(q).toFixed(1);
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${M.top}" y2="${H - M.bottom}" class="grid"/>`);
    parts.push(`<text x="${xx}" y="${H - M.bottom + 16}" class="xlab">${label}</text>`);
  }
  modes.forEach((m, i) => {
    const pts = m.curve.filter(([q]) => q >= 0.5).map(([q, us]) => `${x(q).toFixed(1)},${y(us).toFixed(1)}`);
    const color = COLORS[m.mode] ?? '#555';
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    parts.push(...pts.map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="${color}"/>`));
    const ly = M.top + 12 + i * 16;
    parts.push(`<rect x="${M.left + 8}" y="${ly - 9}" width="14" height="4" fill="${color}"/><text x="${M.left + 28}" y="${ly - 3}" class="legend">${escape(m.mode)}</text>`);
  });
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 8}" class="axis">percentile</text>`);
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(title)}">${parts.join('')}</svg><figcaption>${escape(title)}</figcaption></figure>`;
}

function cell(text: string, cls = ''): string {
  return `<td${cls ? ` class="${cls}"` : ''}>${escape(text)}</td>`;
}

function modeRow(m: LabModeResult): string {
  if (m.status !== 'ok' || !m.metrics) return `<tr>${cell(m.mode)}<td colspan="11" class="${m.status}">${escape(`${m.status}: ${m.reason ?? ''}`)}</td></tr>`;
  const x = m.metrics;
  const lat = x.syscallUs ? [x.syscallUs.p50, x.syscallUs.p99, x.syscallUs.p999].map((s) => formatUs(s.median)) : ['-', '-', '-'];
  const mb = x.throughputMBps;
  return `<tr>${[
    cell(m.mode === 'auto' && m.strategy ? `auto (${m.strategy})` : m.mode),
    cell(m.implementation, 'impl'),
    ...lat.map((l) => cell(l)),
    cell(formatUs(x.callbackUs.p999.median)),
    cell(formatUs(x.eventLoopDelayP99Us.median)),
    cell(`${mb.median.toFixed(0)} (${mb.min.toFixed(0)}–${mb.max.toFixed(0)})`),
    cell(x.cpuMs.median.toFixed(0)),
    cell(`${x.residencyPct.median.toFixed(1)}%`),
    cell(`${x.peakDirtyMiB.median.toFixed(0)} / ${x.peakWritebackMiB.median.toFixed(0)} / ${x.peakCachedMiB.median.toFixed(0)}`),
    cell(x.neighbourThroughputMBps ? x.neighbourThroughputMBps.median.toFixed(0) : '–'),
  ].join('')}</tr>`;
}

function scenarioSection(s: LabScenarioResult): string {
  const head = `<h2>${escape(s.name)}</h2><p>${escape(s.description)}. ${escape(formatParams(s.params))}</p>`;
  if (s.status === 'skipped') return `<section>${head}<p class="skipped">skipped: ${escape(s.reason ?? '')}</p></section>`;
  const ran = s.modes.filter((m) => m.curves);
  const syscall = ran.filter((m) => m.curves!.syscallUs).map((m) => ({ mode: m.mode, curve: m.curves!.syscallUs! }));
  const callback = ran.map((m) => ({ mode: m.mode, curve: m.curves!.callbackUs }));
  const plots = [
    syscall.length ? percentilePlot(`${s.name}: per-write syscall latency`, syscall) : '',
    percentilePlot(`${s.name}: write-callback latency`, callback),
  ].join('');
  const table = `<table><tr><th>mode</th><th>how</th><th>p50</th><th>p99</th><th>p99.9</th><th>callback p99.9</th><th>loop delay p99</th><th>MB/s (spread)</th><th>CPU ms</th><th>cached</th><th>peak dirty / wb / cached MiB</th><th>neighbour MB/s</th></tr>${s.modes.map(modeRow).join('')}</table>`;
  return `<section>${head}<div class="plots">${plots}</div>${table}</section>`;
}

/** The report as one self-contained HTML page. */
export function renderReportHtml(report: LabReport): string {
  const v = report.verdict;
  const p = report.probe;
  const ratios = v.ratios.map((r) => `<tr>${cell(r.scenario)}${cell(`${r.mode} / buffered`)}${cell(`${r.p50.toFixed(2)}×`)}${cell(`${r.p999.toFixed(2)}×`)}${cell(`${r.throughput.toFixed(2)}×`)}${cell(r.basis)}</tr>`).join('');
  const agree = v.agrees === null ? 'cannot tell' : v.agrees ? 'agree' : 'disagree';
  const measured = v.measured === undefined ? '' : ` On their own the measurements say <b>${escape(v.measured ?? 'nothing (what they need was not measured)')}</b>.`;
  const regime = report.regime ? `<p><b>Regime:</b> ${escape(report.regime.kind)}: ${escape(report.regime.text)}.</p>` : '';
  const calibration = v.calibration?.length
    ? `<table><tr>${CALIBRATION_COLUMNS.map((c) => `<th>${escape(c)}</th>`).join('')}</tr>${v.calibration.map((c) => `<tr>${calibrationCells(c).map((t) => cell(t)).join('')}</tr>`).join('')}</table>
<p><b>${escape(placementLine(v) ?? '')}</b></p>
<p class="note">How the measurements decide: dontcache's per-write syscall p50 is placed between two references measured in the same run, trial by trial (the modes run interleaved): <i>buffered</i> (the writer pays nothing for writeback) and <i>inline-model</i> (a buffered write followed, in the same timed step, by <code>sync_file_range(SYNC_FILE_RANGE_WRITE)</code> of the range just written: what an inline-flush kernel does inside a dontcache write). Distances are factors on a log scale; the position runs from buffered (0) to the model (1), and positions exist only where the references' ranges over the trials do not overlap. A sign test counts the trials nearer each reference: were dontcache exactly midway, a split at least this lopsided would happen with probability p. The verdict names a side (nearer buffered: <i>flusher-kick</i>; nearer the model: <i>inline-flush</i>) when p &le; 0.05 over all trials together (6 of 6, 8 of 9, 16 of 18 ...) and no scenario decides the other way on its own; otherwise it is <i>inconclusive</i>.</p>`
    : '';
  const missing = v.notMeasured?.length ? `<p><b>Not measured:</b> ${escape(v.notMeasured.join('; '))}.</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dontcache latency lab — ${escape(report.dir)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1150px}
h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:12.5px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f4f4f4}td:first-child,td.impl{text-align:left}td.impl{color:#666}
td.failed{color:#b00;text-align:left}td.skipped,p.skipped{color:#777;text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555;text-align:center}
svg .grid{stroke:#e5e5e5}svg text{font-size:11px;fill:#444}svg .ylab{text-anchor:end;dominant-baseline:middle}
svg .xlab,svg .axis{text-anchor:middle}.verdict{background:#f7f7fb;border:1px solid #ddd;padding:8px 12px}.note{font-size:12.5px;color:#555}
</style></head><body>
<h1>dontcache latency lab</h1>
<p>${escape(report.dir)} (${escape(p?.fsType ?? 'unknown fs')}), Linux ${escape(report.machine.kernel)}, ${report.machine.cpus} CPUs, ${(report.machine.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, Node ${escape(report.machine.node)}; ${report.options.trials} trials, modes interleaved, medians shown; ${escape(report.createdAt)}, ${report.durationS.toFixed(0)} s. Report schema v${report.version}.</p>
<div class="verdict"><p><b>Verdict:</b> the probe says <b>${escape(v.writeback)}</b>${p ? ` (${escape(p.verdictReason)})` : ''}; the measurements <b>${agree}</b>: ${escape(v.reason)}.${measured}</p>${regime}${missing}<p><b>Advice:</b> ${escape(v.advice)}</p>
<table><tr><th>scenario</th><th>ratio</th><th>p50 (lower is better)</th><th>p99.9 (lower is better)</th><th>MB/s (higher is better)</th><th>latency basis</th></tr>${ratios}</table>
${calibration}
<p class="note">Each ratio is the mode's median over the trials divided by buffered's in the same scenario: below 1× the mode's writes return sooner than buffered ones (p50, p99.9), above 1× it writes more bytes per second (MB/s). Basis <i>syscall</i>: the time of each write system call, measured on the worker thread. Basis <i>callback</i>: where a mode has no syscall figure (Node's <code>fs.createWriteStream</code> hides its system calls), the time from the JavaScript write call to its callback, which also counts queueing in the stream and the thread pool; such ratios compare what the writing code waits for, not the kernel alone.</p></div>
${report.scenarios.map(scenarioSection).join('\n')}
</body></html>
`;
}
