// kernels/last-run.json and kernels/last-run.md from a list of run records.
import fs from 'node:fs';
import path from 'node:path';
import { kernelsDir } from './paths.mjs';
import { judge } from './expect.mjs';

const FS = ['ext4', 'xfs'];
const pct = (x) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : '–');

export function summarize(config, runs) {
  return runs.map((run) => {
    const rows = FS.map((fs) => {
      const res = run.results.filter((r) => r.fs === fs);
      const get = (c) => res.find((r) => r.check === c);
      const checks = Object.fromEntries(config.checks.map((c) => [c, run.status === 'ok' ? judge(c, get(c), run.expect[fs], res).verdict : run.status === 'skipped' ? 'skip' : 'fail']));
      const probe = get('probe');
      const raw = get('writeback-after-dontcache');
      const auto = get('stream-auto'), dc = get('stream-dontcache');
      const fallback = (s) => (s?.status === 'pass' ? `${s.observed.strategy}${s.observed.fallback ? ' (fallback)' : ''}` : '–');
      return {
        fs,
        probe: probe?.status === 'pass' ? probe.observed.writeback : null,
        raw: raw?.status === 'pass' ? raw.observed : null,
        streamAuto: fallback(auto),
        streamDontcache: fallback(dc),
        residency: [auto, dc].map((s) => (s?.status === 'pass' ? s.observed.residentFraction : null)),
        checks,
      };
    });
    return { id: run.id, status: run.status, reason: run.reason, release: run.release, packages: run.packages, seconds: run.seconds, accel: run.accel, rows };
  });
}

export function writeReports(config, runs, { totalSeconds } = {}) {
  const summary = summarize(config, runs);
  const json = { date: new Date().toISOString(), totalSeconds, runs, summary };
  fs.writeFileSync(path.join(kernelsDir, 'last-run.json'), JSON.stringify(json, null, 2) + '\n');
  const lines = [
    `Kernel matrix, last run ${json.date.slice(0, 16).replace('T', ' ')} UTC${totalSeconds ? ` (${Math.round(totalSeconds)} s)` : ''}: \`npm run test:kernels\`.`,
    '',
    '| kernel | version | file system | probe verdict | raw cachestat after a dontcache write | fallback taken (auto / dontcache) | residency after finish (auto / dontcache) | checks |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const k of summary) {
    const version = k.release ? `${k.release}${k.accel ? ` (${k.accel === 'host' ? 'host' : `qemu ${k.accel}`})` : ''}` : '–';
    if (k.status !== 'ok') {
      lines.push(`| ${k.id} | ${version} | – | ${k.status}: ${String(k.reason).replace(/\|/g, '\\|').slice(0, 160)} | | | | |`);
      continue;
    }
    for (const r of k.rows) {
      const counts = Object.values(r.checks).reduce((a, v) => ({ ...a, [v]: (a[v] || 0) + 1 }), {});
      const c = ['pass', 'fail', 'skip'].filter((v) => counts[v]).map((v) => `${counts[v]} ${v}`).join(', ');
      lines.push(`| ${k.id} | ${version} | ${r.fs} | ${r.probe ?? '(not run)'} | ${r.raw ?? '–'} | ${r.streamAuto} / ${r.streamDontcache} | ${pct(r.residency[0])} / ${pct(r.residency[1])} | ${c} |`);
    }
  }
  fs.writeFileSync(path.join(kernelsDir, 'last-run.md'), lines.join('\n') + '\n');
  return summary;
}
