// Shared by the latency-lab tests: a small profile and the checks every report must pass.
import { expect } from 'vitest';
import type { LabPercentiles, LabReport, ModeName, ScenarioName } from '../../src/lab/report-types';

const MiB = 1024 * 1024;

/** Small enough for a test, big enough that buffered writes stay visibly in the cache. */
export const SMALL = { sizeBytes: 64 * MiB, trials: 1, warmup: false } as const;

/** The metrics of `mode` in `scenario`, failing the test when the mode did not run. */
export function metricsOf(report: LabReport, scenario: ScenarioName, mode: ModeName) {
  const s = report.scenarios.find((x) => x.name === scenario);
  const m = s?.modes.find((x) => x.mode === mode);
  expect(m?.status, `${scenario} ${mode}: ${m?.reason}`).toBe('ok');
  return m!.metrics!;
}

function expectMonotone(p: LabPercentiles | null, what: string): void {
  if (!p) return;
  const list = [p.p50, p.p90, p.p99, p.p999, p.max];
  for (let i = 1; i < list.length; i++) expect(list[i], `${what}: ${JSON.stringify(p)}`).toBeGreaterThanOrEqual(list[i - 1]);
  expect(p.p50, what).toBeGreaterThan(0);
}

/** Every trial's percentiles and every plotted curve rise with the percentile. */
export function expectPercentilesMonotone(report: LabReport): number {
  let checked = 0;
  for (const s of report.scenarios) {
    for (const m of s.modes) {
      for (const t of m.trials) {
        expectMonotone(t.syscallUs, `${s.name} ${m.mode} syscall`);
        expectMonotone(t.callbackUs, `${s.name} ${m.mode} callback`);
        checked++;
      }
      for (const curve of [m.curves?.syscallUs, m.curves?.callbackUs]) {
        if (!curve) continue;
        for (let i = 1; i < curve.length; i++) {
          expect(curve[i][0]).toBeGreaterThan(curve[i - 1][0]);
          expect(curve[i][1]).toBeGreaterThanOrEqual(curve[i - 1][1]);
        }
      }
    }
  }
  return checked;
}
