// The latency lab on real file systems, small profile: schema, percentiles, residency,
// dirty growth and verdict. Never wall-clock time.
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runLab, LAB_REPORT_SCHEMA } from '../../src/lab';
import { probe } from '../../src/probe';
import type { LabReport } from '../../src/lab/report-types';
import { testFs } from '../helpers/fs';
import { cli, ensureCliBuilt } from '../helpers/cli';
import { straceUnavailableReason } from '../helpers/faults';
import { validateLabReport } from '../helpers/lab-schema';
import { SMALL, expectPercentilesMonotone, metricsOf } from './helpers';

for (const kind of ['ext4', 'xfs'] as const) {
  const fs = testFs(kind);
  if (!fs.dir) console.warn(`[latency tests] skipping ${kind}: ${fs.skip}`);
  describe.skipIf(!fs.dir)(`lab on ${kind}`, () => {
    let report: LabReport;
    beforeAll(async () => {
      report = await runLab({
        ...SMALL,
        dir: fs.dir!,
        scenarios: ['seq-write', 'stream', 'rand-write'],
        modes: ['buffered', 'dontcache', 'writeback', 'auto'],
      });
    });

    it('validates against its schema', () => {
      expect(validateLabReport(report)).toEqual([]);
      expect(report.schema).toBe('dontcache-lab-report');
      expect(report.version).toBe(1);
      expect(LAB_REPORT_SCHEMA.$id).toContain('v1');
    });

    it('reports monotone percentiles', () => {
      expect(expectPercentilesMonotone(report)).toBeGreaterThanOrEqual(9);
    });

    it('leaves dontcache and writeback writes out of the cache, buffered ones in', () => {
      for (const scenario of ['seq-write', 'stream'] as const) {
        expect(metricsOf(report, scenario, 'buffered').residencyPct.median).toBeGreaterThanOrEqual(90);
        expect(metricsOf(report, scenario, 'dontcache').residencyPct.median).toBeLessThanOrEqual(1);
        expect(metricsOf(report, scenario, 'writeback').residencyPct.median).toBeLessThanOrEqual(1);
      }
      expect(metricsOf(report, 'rand-write', 'buffered').residencyPct.median).toBeGreaterThanOrEqual(90);
      expect(metricsOf(report, 'rand-write', 'writeback').residencyPct.median).toBeLessThanOrEqual(1);
    });

    it("gives the probe's writeback behaviour as the verdict", async () => {
      const probed = await probe(fs.dir!);
      expect(report.probe?.writeback).toBe(probed.writeback);
      expect(report.verdict.writeback).toBe(probed.writeback);
      expect(report.verdict.ratios.some((r) => r.scenario === 'seq-write' && r.mode === 'dontcache')).toBe(true);
      expect(report.verdict.advice).toMatch(/cache: '/);
    });

    it('names what auto resolved to and removes its run directory', async () => {
      const auto = report.scenarios.find((s) => s.name === 'seq-write')!.modes.find((m) => m.mode === 'auto')!;
      expect(auto.strategy).toBe('dontcache');
      const left = (await import('node:fs')).readdirSync(fs.dir!).filter((n) => n.startsWith('.dontcache-lab.'));
      expect(left).toEqual([]);
    });
  });
}

// Loop mounts write back into their image file's page cache (loop without direct I/O),
// which dirties memory for every mode; the machine's own file system shows the real
// difference in /proc/meminfo Dirty.
describe('dirty memory on the machine file system', () => {
  it('grows far less with dontcache than with buffered writes', async () => {
    const report = await runLab({ ...SMALL, sizeBytes: 256 * 1024 * 1024, trials: 3, dir: os.tmpdir(), scenarios: ['seq-write'], modes: ['buffered', 'dontcache'] });
    if (!report.probe?.dontcacheWrite) {
      console.warn(`[latency tests] ${os.tmpdir()} refuses RWF_DONTCACHE (${report.probe?.fsType}): dirty check skipped`);
      return;
    }
    const buffered = metricsOf(report, 'seq-write', 'buffered').peakDirtyMiB.median;
    const dontcache = metricsOf(report, 'seq-write', 'dontcache').peakDirtyMiB.median;
    expect(buffered).toBeGreaterThan(64);
    expect(dontcache).toBeLessThan(buffered / 4);
  });
});

describe.skipIf(!testFs('ext4').dir)('sustained scenario and what was not measured', () => {
  const dir = testFs('ext4').dir!;

  it('runs the sustained scenario when asked, reports its regime and validates', async () => {
    const report = await runLab({ dir, sustained: true, sustainedBytes: 32 * 1024 * 1024, scenarios: ['small-write'], modes: ['buffered', 'dontcache'], sizeBytes: 16 * 1024 * 1024, trials: 2, warmup: false });
    expect(validateLabReport(report)).toEqual([]);
    expect(report.options.scenarios).toEqual(['small-write', 'sustained']);
    expect(report.options.sustained).toBe(true);
    const s = report.scenarios.find((x) => x.name === 'sustained')!;
    expect(s.params).toMatchObject({ blockSize: 1024 * 1024, bytes: 32 * 1024 * 1024 });
    expect(metricsOf(report, 'sustained', 'dontcache').residencyPct.median).toBeLessThanOrEqual(1);
    expect(s.modes.every((m) => m.trials.length === 2)).toBe(true);
    // 32 MiB stays far under any dirty limit: the report says so instead of claiming the throttled regime.
    expect(report.regime).toMatchObject({ kind: 'in-memory', scenario: 'sustained', writtenMiB: 32 });
    expect(report.regime!.dirtyLimitMiB).toBeGreaterThan(0);
    expect(report.verdict.advice).toMatch(/sustained scenario \(which did not get past the dirty limits here\)/);
  });

  it('with buffered and writeback only, says dontcache was not measured (never "not available")', async () => {
    const report = await runLab({ ...SMALL, dir, scenarios: ['seq-write'], modes: ['buffered', 'writeback'] });
    expect(report.verdict.notMeasured).toContain('no dontcache writes were measured');
    expect(report.verdict.measured).toBeNull();
    expect(report.verdict.advice).not.toMatch(/not available/);
    expect(report.verdict.advice).toMatch(/^dontcache writes were not measured in this run/);
  });
});

describe.skipIf(!testFs('ext4').dir)('threadpool-neighbour scenario', () => {
  it('reads the small file in a loop while each stream writes, and reports it as the neighbour', async () => {
    const dir = testFs('ext4').dir!;
    const report = await runLab({ ...SMALL, sizeBytes: 32 * 1024 * 1024, dir, scenarios: ['threadpool-neighbour'], modes: ['buffered', 'dontcache', 'direct'] });
    expect(validateLabReport(report)).toEqual([]);
    const s = report.scenarios.find((x) => x.name === 'threadpool-neighbour')!;
    expect(s.params).toMatchObject({ blockSize: 1024 * 1024, bytes: 32 * 1024 * 1024 });
    expect(s.modes.find((m) => m.mode === 'direct')).toMatchObject({ status: 'skipped' });
    for (const mode of ['buffered', 'dontcache'] as const) {
      const m = s.modes.find((x) => x.mode === mode)!;
      expect(m.implementation).toMatch(mode === 'buffered' ? /fs\.createWriteStream/ : /DontcacheWriteStream/);
      const neighbour = m.trials[0].neighbour!;
      expect(neighbour.role).toMatch(/readFile/);
      expect(neighbour.throughputMBps).toBeGreaterThan(0);
      expect(neighbour.syscallUs!.p99).toBeGreaterThanOrEqual(neighbour.syscallUs!.p50);
      expect(neighbour.syscallUs!.p50).toBeGreaterThan(0);
      expect(m.metrics!.neighbourThroughputMBps!.median).toBeGreaterThan(0);
    }
    expect(metricsOf(report, 'threadpool-neighbour', 'dontcache').residencyPct.median).toBeLessThanOrEqual(1);
    // The small file goes with the run directory.
    expect((await import('node:fs')).readdirSync(dir).filter((n) => n.startsWith('.dontcache-lab.'))).toEqual([]);
  });
});

describe.skipIf(!testFs('ext4').dir)("the inline-flush model, the verdict's reference", () => {
  const dir = testFs('ext4').dir!;
  const MiB = 1024 * 1024;
  beforeAll(ensureCliBuilt, 120_000);

  it('runs only in the verdict scenarios, and the verdict places dontcache between it and buffered, trial by trial', async () => {
    const report = await runLab({ dir, sizeBytes: 8 * MiB, trials: 3, warmup: false, scenarios: ['seq-write', 'small-write'], modes: ['buffered', 'dontcache', 'inline-model'] });
    expect(validateLabReport(report)).toEqual([]);
    const seq = report.scenarios.find((s) => s.name === 'seq-write')!.modes.find((m) => m.mode === 'inline-model')!;
    expect(seq.status).toBe('skipped');
    expect(seq.reason).toMatch(/a reference for the writeback verdict: runs in small-write and rand-write only/);
    expect(report.verdict.notMeasured!.join()).not.toMatch(/inline-model/);
    expect(report.verdict.ratios.map((r) => r.mode)).not.toContain('inline-model');
    if (!report.probe?.dontcacheWrite) return void console.warn(`[latency tests] ${dir} refuses RWF_DONTCACHE: calibration not checked`);
    const [c] = report.verdict.calibration!;
    const p50s = (mode: string) => report.scenarios.find((s) => s.name === 'small-write')!.modes.find((m) => m.mode === mode)!.trials.map((t) => t.syscallUs!.p50);
    expect(c).toMatchObject({ scenario: 'small-write', bufferedP50Us: p50s('buffered'), dontcacheP50Us: p50s('dontcache'), modelP50Us: p50s('inline-model') });
    expect(c.modelP50Us).toHaveLength(3);
    expect(['inline-flush', 'flusher-kick', 'inconclusive']).toContain(c.says);
    expect(['inline-flush', 'flusher-kick', 'inconclusive']).toContain(report.verdict.measured);
  });

  it.skipIf(straceUnavailableReason())('submits writeback of exactly each range it wrote, right after writing it (strace)', async () => {
    const traced = async (modes: string) => {
      const out = path.join(os.tmpdir(), `dontcache-model-strace-${process.pid}-${modes}.txt`);
      try {
        const r = await cli(['bench', dir, '--scenarios', 'rand-write', '--modes', modes, '--size', '8M', '--trials', '1', '--no-warmup', '--quiet'],
          { prefix: ['strace', '-f', '-qq', '-s', '0', '-o', out, '-e', 'trace=pwritev2,sync_file_range'] });
        expect(r.code, r.stderr).toBe(0);
        const lines = readFileSync(out, 'utf8').split('\n');
        const match = (re: RegExp) => lines.map((l) => re.exec(l)).filter((m) => m !== null).map((m) => `${m[1]}@${m[2]}`);
        // Call starts only: calls on other threads may split a line into "<unfinished ...>" and "resumed".
        return {
          writes: match(/^\d+\s+pwritev2\((\d+), \[.*?\], 1, (\d+), 0[) ]/),
          submits: match(/^\d+\s+sync_file_range\((\d+), (\d+), 4096, SYNC_FILE_RANGE_WRITE[) ]/),
        };
      } finally {
        rmSync(out, { force: true });
      }
    };
    // rand-write at --size 8M: 1 MiB in 256 writes of 4 KiB.
    const model = await traced('inline-model');
    expect(model.submits).toHaveLength(256);
    expect(new Set(model.submits).size).toBe(256);
    for (const s of model.submits) expect(model.writes).toContain(s);
    expect((await traced('buffered')).submits).toEqual([]);
  }, 120_000);
});

describe('schema validator', () => {
  it('finds what is wrong in a broken report', () => {
    expect(validateLabReport({})).toContain('$.schema: is required');
    expect(validateLabReport({ schema: 'x' }).some((e) => e.startsWith('$.schema: must be'))).toBe(true);
  });
});

