#!/usr/bin/env node
// The kernel matrix without vitest: node kernels/run.mjs [--only id,id]. Prints each check, writes
// kernels/last-run.{json,md}, exits 1 when a check failed or a kernel failed to boot.
import { Matrix } from './lib/harness.mjs';
import { judge } from './lib/expect.mjs';
import { writeReports } from './lib/report.mjs';

const only = (process.argv.find((a, i) => process.argv[i - 1] === '--only') || '').split(',').filter(Boolean);
const matrix = new Matrix();
const started = Date.now();
const runs = [];
let failed = 0;
try {
  for (const kernel of matrix.config.kernels.filter((k) => !only.length || only.includes(k.id))) {
    const run = await matrix.run(kernel);
    runs.push(run);
    if (run.status === 'failed') { failed++; console.log(`FAIL ${run.id}: ${run.reason}\n${run.serialTail}`); continue; }
    if (run.status === 'skipped') { console.log(`SKIP ${run.id}: ${run.reason}`); continue; }
    for (const fs of ['ext4', 'xfs']) {
      const res = run.results.filter((r) => r.fs === fs);
      for (const check of matrix.config.checks) {
        const j = judge(check, res.find((r) => r.check === check), run.expect[fs], res);
        if (j.verdict === 'fail') failed++;
        console.log(`${j.verdict.toUpperCase().padEnd(4)} ${run.id} ${run.release} ${fs} ${check}: ${j.message}`);
      }
    }
  }
} finally {
  matrix.dispose();
}
const total = (Date.now() - started) / 1000;
writeReports(matrix.config, runs, { totalSeconds: total });
console.log(`\n${runs.length} kernels in ${total.toFixed(0)} s; ${failed} failures; report: kernels/last-run.md`);
process.exitCode = failed ? 1 : 0;
