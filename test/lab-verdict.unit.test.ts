// The lab's verdict and advice from given figures (no I/O): the measured behaviour, agreement with
// the probe, advice that follows from what ran, sustained figures with their spread, the regime.
import { describe, expect, it } from 'vitest';
import { labVerdict } from '../src/lab/verdict';
import { dirtyLimits, labRegime, sustainedBytes } from '../src/lab/regime';
import { renderReportHtml } from '../src/lab/html';
import { formatReportTable } from '../src/lab/table';
import type { LabModeResult, LabProbe, LabReport, LabScenarioResult, LabStat, ModeName, ScenarioName } from '../src/lab/report-types';

const MiB = 1024 * 1024;
const stat = (median: number, min = median, max = median): LabStat => ({ median, min, max });

/** A mode that ran: syscall p50 and p99.9 in µs ([median, min, max] for spreads), MB/s. */
function mode(name: ModeName, p50: number, p999: number | [number, number, number], mbps = 1000, trials = 3): LabModeResult {
  const tail = Array.isArray(p999) ? stat(...p999) : stat(p999);
  const lat = { p50: stat(p50), p90: stat(p50), p99: stat(tail.median), p999: tail, max: stat(tail.max) };
  return {
    mode: name,
    implementation: name,
    status: 'ok',
    metrics: {
      syscallUs: lat, callbackUs: lat, eventLoopDelayP99Us: stat(1), throughputMBps: stat(mbps), cpuMs: stat(1), syncMs: stat(1),
      residencyPct: stat(0), peakDirtyMiB: stat(0), peakWritebackMiB: stat(0), peakCachedMiB: stat(0),
    },
    trials: Array.from({ length: trials }, () => ({}) as never),
  };
}

function scenario(name: ScenarioName, modes: LabModeResult[], params: Record<string, number> = { bytes: 64 * MiB }): LabScenarioResult {
  return { name, description: name, status: 'ok', params, modes };
}

const probe = (writeback: LabProbe['writeback'], dontcacheWrite = writeback !== 'unsupported'): LabProbe => ({
  kernel: '6.18.0', fsType: 'ext4', dontcacheWrite, dontcacheRead: dontcacheWrite, writeback, evidence: [], verdictReason: 'test',
  ...(dontcacheWrite ? {} : { refusedWith: 'ENOTSUP' }),
});

/** Small-block scenarios with the given dontcache/buffered p50 ratios, plus seq-write. */
function withSmallRatios(...ratios: number[]): LabScenarioResult[] {
  const names: ScenarioName[] = ['small-write', 'rand-write', 'many-files'];
  return [
    scenario('seq-write', [mode('buffered', 200, 600), mode('dontcache', 210, 900, 1100)]),
    ...ratios.map((r, i) => scenario(names[i], [mode('buffered', 10, 100), mode('dontcache', 10 * r, 150)])),
  ];
}

describe('measured behaviour and agreement', () => {
  it('reads inline flush from small-block p50 ratios above 1.5x, and agrees with an inline-flush probe', () => {
    const v = labVerdict(probe('inline-flush'), withSmallRatios(3, 2.5, 1.1));
    expect(v.measured).toBe('inline-flush');
    expect(v.agrees).toBe(true);
    expect(v.reason).toMatch(/small-write 3.00x, rand-write 2.50x, many-files 1.10x/);
  });

  it('reads the flusher kick from ratios below 1.15x and disagrees with an inline-flush probe', () => {
    const v = labVerdict(probe('inline-flush'), withSmallRatios(1.02, 0.98, 1.4));
    expect(v.measured).toBe('flusher-kick');
    expect(v.agrees).toBe(false);
    expect(labVerdict(probe('flusher-kick'), withSmallRatios(1.02, 0.98, 1.4)).agrees).toBe(true);
  });

  it('says nothing clear between the thresholds, and still judges agreement (never null with small-block figures)', () => {
    const v = labVerdict(probe('flusher-kick'), withSmallRatios(1.3, 1.3, 1.3));
    expect(v.measured).toBeNull();
    expect(v.agrees).toBe(true);
    expect(v.reason).toMatch(/between 1.15x and 1.5x/);
  });

  it('cannot tell without a small-block scenario', () => {
    const v = labVerdict(probe('flusher-kick'), [scenario('seq-write', [mode('buffered', 200, 600), mode('dontcache', 210, 900)])]);
    expect(v.agrees).toBeNull();
    expect(v.measured).toBeNull();
  });

  it('measures unsupported when every dontcache mode was refused', () => {
    const refused: LabModeResult = { mode: 'dontcache', implementation: 'x', status: 'failed', reason: 'ENOTSUP: operation not supported, pwritev2', trials: [] };
    const v = labVerdict(probe('unsupported'), [scenario('seq-write', [mode('buffered', 200, 600), refused, mode('writeback', 180, 500, 900)])]);
    expect(v.measured).toBe('unsupported');
    expect(v.agrees).toBe(true);
    expect(v.advice).toMatch(/^RWF_DONTCACHE is not available on ext4 with Linux 6.18.0 \(the dontcache writes were refused\): use cache: 'writeback'/);
  });
});

describe('advice follows from what ran', () => {
  it('does not call RWF_DONTCACHE unavailable when dontcache simply did not run', () => {
    const v = labVerdict(probe('inline-flush'), [scenario('seq-write', [mode('buffered', 200, 600), mode('writeback', 180, 500, 900)])]);
    expect(v.advice).not.toMatch(/not available/);
    expect(v.advice).toMatch(/^dontcache writes were not measured in this run \(no dontcache writes were measured\); the probe says inline-flush, RWF_DONTCACHE accepted on ext4/);
    expect(v.advice).toMatch(/cache: 'writeback' gave 0.90x buffered throughput/);
    expect(v.notMeasured).toContain('no dontcache writes were measured');
  });

  it('says nothing was measured when every scenario was skipped (memcg without root)', () => {
    const skipped: LabScenarioResult = { name: 'memcg', description: 'memcg', status: 'skipped', reason: 'creating a memory cgroup needs root', params: {}, modes: [] };
    const v = labVerdict(probe('inline-flush'), [skipped]);
    expect(v.advice).toMatch(/^Nothing was measured \(memcg: skipped \(creating a memory cgroup needs root\)/);
    expect(v.advice).not.toMatch(/not available/);
  });

  it('says RWF_DONTCACHE is unavailable only when it was refused', () => {
    const v = labVerdict(probe('unsupported'), [scenario('seq-write', [mode('buffered', 200, 600)])]);
    expect(v.advice).toMatch(/not available on ext4 with Linux 6.18.0 \(the probe's write was refused with ENOTSUP\)/);
  });

  it('names a sustained winner only when its p99.9 spread clears the others', () => {
    const regime = { kind: 'past-dirty-limits', scenario: 'sustained', writtenMiB: 9000, dirtyLimitMiB: 4500, backgroundLimitMiB: 2250, text: 't' } as const;
    const clear = [
      scenario('seq-write', [mode('buffered', 200, 600), mode('dontcache', 210, 4300)]),
      scenario('sustained', [mode('buffered', 300, [31000, 20000, 40000], 420), mode('dontcache', 300, [2000, 1600, 2300], 900)]),
    ];
    expect(labVerdict(probe('inline-flush'), clear, regime).advice).toMatch(/^Past the dirty limits \(3 trials, syscall p99.9 median \(spread\)\): use cache: 'dontcache'.*buffered 31 ms \(20 ms-40 ms\), dontcache 2.00 ms \(1.60 ms-2.30 ms\), 2.14x buffered throughput/);
    const blurred = [
      scenario('sustained', [mode('buffered', 300, [31000, 3000, 40000]), mode('dontcache', 300, [26800, 3300, 73000])]),
    ];
    expect(labVerdict(probe('inline-flush'), blurred, regime).advice).toMatch(/no mode's p99.9 clearly beat the others: the spreads overlap/);
  });

  it('notes an in-memory run in the advice', () => {
    const regime = { kind: 'in-memory', scenario: 'seq-write', writtenMiB: 256, dirtyLimitMiB: 4500, backgroundLimitMiB: 2250, text: 't' } as const;
    expect(labVerdict(probe('flusher-kick'), withSmallRatios(1, 1, 1), regime).advice).toMatch(/under the dirty limits: add --sustained/);
  });
});

describe('regime and sizing', () => {
  const proc: Record<string, string> = {
    '/proc/meminfo': 'MemTotal: 24000000 kB\nMemFree: 20000000 kB\nActive(file): 1000000 kB\nInactive(file): 1000000 kB\n',
    '/proc/sys/vm/dirty_ratio': '20\n',
    '/proc/sys/vm/dirty_background_ratio': '10\n',
    '/proc/sys/vm/dirty_bytes': '0\n',
    '/proc/sys/vm/dirty_background_bytes': '0\n',
  };
  const read = (f: string) => {
    if (!(f in proc)) throw new Error(`ENOENT ${f}`);
    return proc[f];
  };

  it('derives the limits from the dirtyable memory, *_bytes overriding the ratios', () => {
    const l = dirtyLimits(read);
    expect(l.dirtyableBytes).toBe(22000000 * 1024);
    expect(l.dirtyBytes).toBeCloseTo(0.2 * 22000000 * 1024);
    expect(l.backgroundBytes).toBeCloseTo(0.1 * 22000000 * 1024);
    expect(dirtyLimits((f) => (f.endsWith('dirty_bytes') ? '1073741824' : read(f))).dirtyBytes).toBe(1024 * MiB);
  });

  it('sizes the sustained scenario at twice the dirty limit, capped by half the free space', () => {
    const l = { dirtyBytes: 4096 * MiB, backgroundBytes: 2048 * MiB, dirtyableBytes: 0 };
    expect(sustainedBytes(l, 1e12)).toBe(8192 * MiB);
    expect(sustainedBytes(l, 4096 * MiB)).toBe(2048 * MiB);
    expect(sustainedBytes({ ...l, dirtyBytes: 100 * MiB }, 1e12)).toBe(1024 * MiB);
  });

  it('judges the sustained scenario when it ran, else the biggest writer', () => {
    const l = { dirtyBytes: 4096 * MiB, backgroundBytes: 2048 * MiB, dirtyableBytes: 0 };
    const small = scenario('seq-write', [mode('buffered', 1, 1)], { bytes: 256 * MiB });
    expect(labRegime([small], l)).toMatchObject({ kind: 'in-memory', scenario: 'seq-write', writtenMiB: 256 });
    expect(labRegime([small], l)!.text).toMatch(/add --sustained/);
    const big = scenario('sustained', [mode('buffered', 1, 1)], { bytes: 8192 * MiB });
    expect(labRegime([small, big], l)).toMatchObject({ kind: 'past-dirty-limits', scenario: 'sustained' });
    expect(labRegime([], l)).toBeUndefined();
  });
});

describe('report forms', () => {
  const report = {
    schema: 'dontcache-lab-report', version: 1, createdAt: 'now', durationS: 1,
    machine: { kernel: '6.18.0', cpus: 2, memoryBytes: 2 ** 34, node: 'v20', uid: 0 }, dir: '/x',
    options: { sizeBytes: MiB, trials: 1, warmup: false, scenarios: ['seq-write'], modes: ['buffered'], full: false, dropCaches: false },
    probe: probe('inline-flush'),
    scenarios: withSmallRatios(3, 3, 3),
    verdict: labVerdict(probe('inline-flush'), withSmallRatios(3, 3, 3)),
  } as unknown as LabReport;

  it('HTML says per ratio which direction is better and explains the callback basis', () => {
    const html = renderReportHtml(report);
    expect(html).toMatch(/p50 \(lower is better\)/);
    expect(html).toMatch(/MB\/s \(higher is better\)/);
    expect(html).toMatch(/Basis <i>callback<\/i>/);
    expect(html).toMatch(/On their own the measurements say <b>inline-flush<\/b>/);
  });

  it('the terminal table shows the measured behaviour', () => {
    expect(formatReportTable(report)).toMatch(/measurements alone say inline-flush/);
  });
});
