// The lab's verdict and advice from given figures (no I/O): the measured behaviour, agreement with
// the probe, advice that follows from what ran, sustained figures with their spread, the regime.
import { describe, expect, it } from 'vitest';
import { labVerdict } from '../src/lab/verdict';
import { dirtyLimits, labRegime, sustainedBytes } from '../src/lab/regime';
import { renderReportHtml } from '../src/lab/html';
import { formatReportTable } from '../src/lab/table';
import { validateLabReport } from '../src/lab/schema';
import type { LabModeResult, LabProbe, LabReport, LabScenarioResult, LabStat, ModeName, ScenarioName } from '../src/lab/report-types';

const MiB = 1024 * 1024;
const stat = (median: number, min = median, max = median): LabStat => ({ median, min, max });

/**
 * A mode that ran: syscall p50 and p99.9 in µs ([median, min, max] for spreads), MB/s, and per-trial
 * syscall p50s (the calibrated verdict reads these; default: the median in every trial).
 */
function mode(name: ModeName, p50: number, p999: number | [number, number, number], mbps = 1000, trials: number | number[] = 3): LabModeResult {
  const tail = Array.isArray(p999) ? stat(...p999) : stat(p999);
  const lat = { p50: stat(p50), p90: stat(p50), p99: stat(tail.median), p999: tail, max: stat(tail.max) };
  const p50s = Array.isArray(trials) ? trials : Array.from({ length: trials }, () => p50);
  return {
    mode: name,
    implementation: name,
    status: 'ok',
    metrics: {
      syscallUs: lat, callbackUs: lat, eventLoopDelayP99Us: stat(1), throughputMBps: stat(mbps), cpuMs: stat(1), syncMs: stat(1),
      residencyPct: stat(0), peakDirtyMiB: stat(0), peakWritebackMiB: stat(0), peakCachedMiB: stat(0),
    },
    trials: p50s.map((x) => ({ syscallUs: { p50: x, p90: x, p99: tail.median, p999: tail.median, max: tail.max } }) as never),
  };
}

function scenario(name: ScenarioName, modes: LabModeResult[], params: Record<string, number> = { bytes: 64 * MiB }): LabScenarioResult {
  return { name, description: name, status: 'ok', params, modes };
}

const probe = (writeback: LabProbe['writeback'], dontcacheWrite = writeback !== 'unsupported'): LabProbe => ({
  kernel: '6.18.0', fsType: 'ext4', dontcacheWrite, dontcacheRead: dontcacheWrite, writeback, evidence: [], verdictReason: 'test',
  ...(dontcacheWrite ? {} : { refusedWith: 'ENOTSUP' }),
});

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** A verdict scenario from per-trial syscall p50s (µs) of buffered, dontcache and the inline-flush model. */
function calibrated(name: ScenarioName, t: { buffered: number[]; dontcache: number[]; model: number[] }): LabScenarioResult {
  const m = (n: ModeName, p50s: number[]) => mode(n, median(p50s), 10 * median(p50s), 10, p50s);
  return scenario(name, [m('buffered', t.buffered), m('dontcache', t.dontcache), m('inline-model', t.model)]);
}

/**
 * Recorded per-trial syscall p50s (µs), 3 interleaved trials of 64 MiB-unit lab runs on ext4 in qemu guests under
 * TCG (2 vCPUs, 2 GiB), 2026-12-02 (kernels/lib/ab.mjs boots, `npm run test:kernels:ab` profile).
 */
const RECORDED = {
  /** Debian 6.18.15+deb13 (inline flush): dontcache pays like the model does. */
  inline: {
    small: { buffered: [157, 129, 203], dontcache: [588, 780, 532], model: [868, 596, 932] },
    rand: { buffered: [139, 255, 89], dontcache: [604, 1176, 932], model: [1208, 668, 564] },
  },
  /** Debian 7.2.13+deb14 (flusher kick): small writes cost what buffered ones do; at 4 KiB random the trials straddle. */
  kick: {
    small: { buffered: [195, 205, 258], dontcache: [118, 191, 223], model: [1816, 1544, 1960] },
    rand: { buffered: [157, 78, 135], dontcache: [129, 270, 330], model: [374, 390, 1128] },
  },
};

function recordedRun(k: keyof typeof RECORDED): LabScenarioResult[] {
  return [
    scenario('seq-write', [mode('buffered', 6500, 25000), mode('dontcache', 9000, 25000, 800)]),
    calibrated('small-write', RECORDED[k].small),
    calibrated('rand-write', RECORDED[k].rand),
  ];
}

describe('measured behaviour: dontcache placed between buffered and the inline-flush model of the same run', () => {
  it('reads inline flush from the recorded 6.18 figures and agrees with its probe', () => {
    const v = labVerdict(probe('inline-flush'), recordedRun('inline'));
    expect(v.measured).toBe('inline-flush');
    expect(v.agrees).toBe(true);
    const [small, rand] = v.calibration!;
    expect(small).toMatchObject({ scenario: 'small-write', says: 'inline-flush' });
    expect(small.position.map((x) => +x.toFixed(2))).toEqual([0.77, 1.18, 0.63]);
    expect(rand).toMatchObject({ scenario: 'rand-write', says: 'inline-flush' });
    expect(v.reason).toMatch(/small-write: syscall p50 over 3 trials, median \(spread\): buffered 157 us \(129 us-203 us\), dontcache 588 us \(532 us-780 us\), inline-flush model 868 us \(596 us-932 us\); dontcache sat at 0.77 \(0.63 to 1.18\)/);
    expect(v.reason).toMatch(/The probe says inline-flush; the measurements say inline-flush$/);
  });

  it('reads the flusher kick from the recorded 7.2 figures, where rand-write alone cannot tell', () => {
    const v = labVerdict(probe('flusher-kick'), recordedRun('kick'));
    expect(v.measured).toBe('flusher-kick');
    expect(v.agrees).toBe(true);
    const [small, rand] = v.calibration!;
    expect(small.says).toBe('flusher-kick');
    expect(small.position.every((x) => x < 0)).toBe(true);
    expect(rand.says).toBe('inconclusive');
    expect(rand.text).toMatch(/nearer one reference in some trials and the other in others: inconclusive/);
  });

  it('disagrees with a probe that says the other behaviour', () => {
    expect(labVerdict(probe('flusher-kick'), recordedRun('inline'))).toMatchObject({ measured: 'inline-flush', agrees: false });
    expect(labVerdict(probe('inline-flush'), recordedRun('kick'))).toMatchObject({ measured: 'flusher-kick', agrees: false });
  });

  it('takes no fixed ratio: 1.4x buffered reads as flusher kick when the model costs 10x, as inline flush when it costs 1.6x', () => {
    const run = (model: number) => [calibrated('small-write', { buffered: [100, 105, 95], dontcache: [140, 145, 138], model: [model, model * 1.05, model * 0.95] })];
    expect(labVerdict(probe('flusher-kick'), run(1000)).measured).toBe('flusher-kick');
    expect(labVerdict(probe('flusher-kick'), run(160)).measured).toBe('inline-flush');
  });

  it('is inconclusive, with the figures, when the trials straddle the midpoint, and then neither agrees nor disagrees', () => {
    const v = labVerdict(probe('flusher-kick'), [calibrated('small-write', RECORDED.kick.rand)]);
    expect(v.measured).toBe('inconclusive');
    expect(v.agrees).toBeNull();
    expect(v.reason).toMatch(/dontcache sat at 0.42 \(-0.23 to 0.77\).*inconclusive. The probe says flusher-kick; the measurements cannot tell$/);
  });

  it('is inconclusive when the references overlap over the trials', () => {
    const v = labVerdict(probe('inline-flush'), [calibrated('small-write', { buffered: [100, 180, 120], dontcache: [150, 160, 170], model: [170, 200, 190] })]);
    expect(v.measured).toBe('inconclusive');
    expect(v.calibration![0].position).toEqual([]);
    expect(v.calibration![0].text).toMatch(/ranges overlap/);
  });

  it('does not decide from fewer than 3 trials (no spread)', () => {
    const one = { buffered: [157], dontcache: [588], model: [868] };
    const v = labVerdict(probe('inline-flush'), [calibrated('small-write', one)]);
    expect(v.measured).toBe('inconclusive');
    expect(v.calibration![0].text).toMatch(/1 trial cannot show a spread \(the verdict needs 3\)/);
  });

  it('is inconclusive when the scenarios that decide disagree', () => {
    const v = labVerdict(probe('inline-flush'), [calibrated('small-write', RECORDED.inline.small), calibrated('rand-write', RECORDED.kick.small)]);
    expect(v.measured).toBe('inconclusive');
    expect(v.reason).toMatch(/The scenarios disagree \(small-write inline-flush, rand-write flusher-kick\)/);
  });

  it('has nothing to judge without the inline-flush model, and says so', () => {
    const v = labVerdict(probe('flusher-kick'), [scenario('small-write', [mode('buffered', 200, 600), mode('dontcache', 210, 900)])]);
    expect(v.measured).toBeNull();
    expect(v.agrees).toBeNull();
    expect(v.calibration).toBeUndefined();
    expect(v.notMeasured!.join()).toMatch(/no inline-model reference was measured/);
  });

  it('leaves the reference out of the ratios against buffered', () => {
    expect(labVerdict(probe('inline-flush'), recordedRun('inline')).ratios.map((r) => r.mode)).not.toContain('inline-model');
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
    expect(labVerdict(probe('flusher-kick'), recordedRun('kick'), regime).advice).toMatch(/under the dirty limits: add --sustained/);
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
    options: { sizeBytes: MiB, trials: 3, warmup: false, scenarios: ['seq-write', 'small-write', 'rand-write'], modes: ['buffered', 'dontcache', 'inline-model'], full: false, dropCaches: false },
    probe: probe('inline-flush'),
    scenarios: recordedRun('inline'),
    verdict: labVerdict(probe('inline-flush'), recordedRun('inline')),
  } as unknown as LabReport;

  it('HTML says per ratio which direction is better, explains the callback basis and how the verdict placed dontcache', () => {
    const html = renderReportHtml(report);
    expect(html).toMatch(/p50 \(lower is better\)/);
    expect(html).toMatch(/MB\/s \(higher is better\)/);
    expect(html).toMatch(/Basis <i>callback<\/i>/);
    expect(html).toMatch(/On their own the measurements say <b>inline-flush<\/b>/);
    expect(html).toMatch(/<td>small-write<\/td><td>157us \(129us-203us\)<\/td><td>588us \(532us-780us\)<\/td><td>868us \(596us-932us\)<\/td>.*<td>0.77 \(0.63 to 1.18\)<\/td><td>inline-flush<\/td>/);
    expect(html).toMatch(/How the measurements decide/);
  });

  it('the terminal table shows the measured behaviour and the placement per scenario', () => {
    const table = formatReportTable(report);
    expect(table).toMatch(/measurements alone say inline-flush/);
    expect(table).toMatch(/rand-write +139us \(89.0us-255us\) +932us \(604us-1.18ms\) +668us \(564us-1.21ms\) .* 1.27 \(0.68 to 1.59\) +inline-flush/);
  });

  it('the verdict with its calibration fits the report schema', () => {
    const errors = validateLabReport(report).filter((e) => e.startsWith('$.verdict'));
    expect(errors).toEqual([]);
    const bad = { ...report, verdict: { ...report.verdict, measured: 'maybe' } };
    expect(validateLabReport(bad).filter((e) => e.startsWith('$.verdict'))).not.toEqual([]);
  });
});
