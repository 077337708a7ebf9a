// The kernel matrix as vitest tests: one describe per kernel of kernels/kernels.json, one test per
// file system x check. A kernel that cannot be fetched (no Debian archive) or booted (no qemu) is
// skipped with the reason; a boot failure or guest crash fails with the serial log tail.
// Only some kernels: DONTCACHE_KERNELS=host,sid-7.2 npm run test:kernels; CI's subset: npm run test:kernels:ci
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface KernelEntry { id: string; host?: boolean }
interface Config { kernels: KernelEntry[]; checks: string[]; ciKernels: string[] }
interface GuestResult { fs: string; check: string; status: string; observed?: unknown; detail?: Record<string, unknown> }
interface Run {
  id: string; status: 'ok' | 'skipped' | 'failed'; reason: string | null; release: string | null;
  results: GuestResult[]; expect: Record<string, unknown>; serialTail: string; seconds: number;
  packages: { name: string; version: string; cached: boolean }[]; accel: string | null;
}
interface Harness {
  Matrix: new () => { config: Config; run(k: KernelEntry): Promise<Run>; dispose(): void };
}
interface Expect { judge(check: string, r: GuestResult | undefined, exp: unknown, all: GuestResult[]): { verdict: string; message: string } }
interface Report { writeReports(config: Config, runs: Run[], o: { totalSeconds: number }): unknown }

const kernelsDir = path.join(__dirname, '..', '..', 'kernels');
const config = JSON.parse(fs.readFileSync(path.join(kernelsDir, 'kernels.json'), 'utf8')) as Config;
// DONTCACHE_KERNELS=ci: the kernels.json `ciKernels` subset (npm run test:kernels:ci).
const only = process.env.DONTCACHE_KERNELS === 'ci' ? config.ciKernels : (process.env.DONTCACHE_KERNELS || '').split(',').filter(Boolean);
const load = async <T>(file: string) => (await import(pathToFileURL(path.join(kernelsDir, 'lib', file)).href)) as T;

let harness: Harness, judge: Expect['judge'], report: Report;
let matrix: InstanceType<Harness['Matrix']> | undefined;
const runs: Run[] = [];
const started = Date.now();

beforeAll(async () => {
  harness = await load<Harness>('harness.mjs');
  judge = (await load<Expect>('expect.mjs')).judge;
  report = await load<Report>('report.mjs');
  matrix = new harness.Matrix();
});

afterAll(() => {
  matrix?.dispose();
  if (runs.length) report.writeReports(config, runs, { totalSeconds: (Date.now() - started) / 1000 });
});

for (const kernel of config.kernels.filter((k) => !only.length || only.includes(k.id))) {
  describe(kernel.id, () => {
    let run: Run;

    beforeAll(async () => {
      run = await matrix!.run(kernel);
      runs.push(run);
      const pkgs = run.packages.map((p) => `${p.name} ${p.version}${p.cached ? ' (cached)' : ''}`).join(' + ');
      console.log(`${kernel.id}: ${run.status}${run.reason ? `: ${run.reason}` : ''}; release ${run.release ?? '?'}` +
        `${pkgs ? `; ${pkgs}` : ''}; ${run.accel ?? ''} ${run.seconds} s`);
    });

    it('boots and runs the guest checks', (ctx) => {
      if (run.status === 'skipped') return ctx.skip(run.reason ?? 'skipped');
      if (run.status === 'failed') throw new Error(`${kernel.id}: ${run.reason}\n--- serial log tail ---\n${run.serialTail}`);
    });

    for (const fsName of ['ext4', 'xfs']) {
      for (const check of config.checks) {
        it(`${fsName} ${check}`, (ctx) => {
          if (run.status === 'skipped') return ctx.skip(run.reason ?? 'skipped');
          if (run.status === 'failed') throw new Error(`${kernel.id} did not run its checks: ${run.reason}`);
          const results = run.results.filter((r) => r.fs === fsName);
          const j = judge(check, results.find((r) => r.check === check), run.expect[fsName], results);
          if (j.verdict === 'skip') return ctx.skip(j.message);
          expect(j.verdict, j.message).toBe('pass');
        });
      }
    }
  });
}
