#!/usr/bin/env node
// The kernel matrix without vitest: node kernels/run.mjs [--only id,id|ci] [--ab [--rounds N] [--ab-only]].
// Prints each check, writes kernels/last-run.{json,md}, exits 1 when a check failed or a kernel failed to boot.
// --ab (npm run test:kernels:ab) then boots the kernels of kernels.json `ab` in turn for N rounds with the lab's
// A/B profile and writes kernels/last-ab.{json,md}; it exits 1 when a booted kernel's lab verdict is not its
// expected behaviour (WRONG: the figures say the other one; INCONCLUSIVE: they cannot tell). --ab-only skips the
// checks. Every boot's results are kept in CACHE/logs/ab-boots.json as they come; --ab-summarize FILE writes the
// A/B reports from such a file.
import fs from 'node:fs';
import path from 'node:path';
import { Matrix, loadConfig } from './lib/harness.mjs';
import { killGuests } from './lib/qemu.mjs';
import { judge } from './lib/expect.mjs';
import { writeAbReports, writeReports } from './lib/report.mjs';
import { runAbRounds, summarizeAb } from './lib/ab.mjs';

const argv = process.argv.slice(2);
const value = (name) => argv.find((a, i) => argv[i - 1] === name);
// --only ci: the kernels.json `ciKernels` subset.
const onlyArg = value('--only') || '';
const only = onlyArg === 'ci' ? loadConfig().ciKernels : onlyArg.split(',').filter(Boolean);
const resummarize = value('--ab-summarize');
const ab = argv.includes('--ab') || argv.includes('--ab-only') || Boolean(resummarize);
const checks = !argv.includes('--ab-only') && !resummarize;
const rounds = value('--rounds') ? Number(value('--rounds')) : undefined;
if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be a positive integer, got ${value('--rounds')}`);

const matrix = new Matrix();
// Ctrl-C or kill: no guest and no work directory left behind.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killGuests();
    matrix.dispose();
    process.kill(process.pid, sig);
  });
}
const started = Date.now();
const runs = [];
let failed = 0;
try {
  if (checks) {
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
    writeReports(matrix.config, runs, { totalSeconds: (Date.now() - started) / 1000 });
  }
  if (ab) {
    const abStarted = Date.now();
    const progressFile = path.join(matrix.cache, 'logs', 'ab-boots.json');
    fs.mkdirSync(path.dirname(progressFile), { recursive: true });
    const result = resummarize
      ? JSON.parse(fs.readFileSync(resummarize, 'utf8'))
      : await runAbRounds(matrix, { only, rounds, log: (m) => process.stderr.write(`[kernels] ${m}\n`), progressFile });
    const summary = summarizeAb(matrix.config, result);
    // Re-summarized: the boots' own time, not this process's.
    const totalSeconds = resummarize ? result.boots.reduce((n, b) => n + (b.seconds || 0), 0) : (Date.now() - abStarted) / 1000;
    // Re-summarized boots are dated by the file they were saved to (its last write: the last boot).
    const bootsEnded = resummarize ? fs.statSync(resummarize).mtime.toISOString() : undefined;
    const lines = writeAbReports(matrix.config, summary, { totalSeconds, bootsEnded });
    console.log(`\n${lines.join('\n')}`);
    for (const r of summary.rows) {
      if (r.status === 'skipped') { console.log(`SKIP A/B ${r.id}: ${r.reason}`); continue; }
      const bad = r.failedBoots.length > 0 || r.labErrors.length > 0 || r.boots === 0;
      // A wrong answer and an inconclusive one both fail the A/B (it did not show the difference); they are told apart.
      const wrong = r.expected && (r.measured !== r.expected || r.agrees !== true);
      const label = bad ? 'FAIL' : !wrong ? 'PASS' : r.measured === 'inconclusive' ? 'INCONCLUSIVE' : 'WRONG';
      if (bad || wrong) failed++;
      console.log(`${label} A/B ${r.id} ${r.fs}: ${r.boots} boots, measured ${r.measured ?? 'not measured'}, expected ${r.expected}, agrees ${r.agrees}` +
        `${bad ? `; problems: ${[...r.failedBoots.map((b) => b.reason), ...r.labErrors].join('; ')}` : ''}`);
    }
  }
} finally {
  matrix.dispose();
}
const total = (Date.now() - started) / 1000;
console.log(`\n${runs.length} kernels checked${ab ? ' + A/B rounds' : ''} in ${total.toFixed(0)} s; ${failed} failures; reports: kernels/last-run.md${ab ? ', kernels/last-ab.md' : ''}`);
process.exitCode = failed ? 1 : 0;
