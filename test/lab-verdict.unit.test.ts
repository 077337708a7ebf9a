// The lab's verdict and advice from given figures (no I/O): the measured behaviour, agreement with
// the probe, advice that follows from what ran, sustained figures with their spread, the regime.
import { describe, expect, it } from 'vitest';
import { labVerdict, signTest } from '../src/lab/verdict';
import { dirtyLimits, labRegime, sustainedBytes } from '../src/lab/regime';
import { renderReportHtml } from '../src/lab/html';
import { formatReportTable } from '../src/lab/table';
import { validateLabReport } from './helpers/lab-schema';
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

type Trials = { buffered: number[]; dontcache: number[]; model: number[] };
type Boot = { small: Trials; rand: Trials };

/**
 * Recorded per-trial syscall p50s (µs) of the A/B run of 2026-12-02 (`node kernels/run.mjs --ab-only`): each boot
 * ran 3 interleaved trials of the 64 MiB-unit lab on ext4 in the same qemu guest under TCG (2 vCPUs, 2 GiB).
 */
const AB: Record<'inline618' | 'kick72' | 'kick73', Boot[]> = {
  /** Debian 6.18.15+deb13 (inline flush): dontcache pays what the model pays. */
  inline618: [
    { small: { buffered: [177, 183, 239], dontcache: [1368, 1256, 1128], model: [1112, 1960, 1048] }, rand: { buffered: [175, 120.5, 107.5], dontcache: [470, 604, 358], model: [700, 668, 310] } },
    { small: { buffered: [185, 243, 229], dontcache: [1512, 1992, 1560], model: [1688, 1432, 2192] }, rand: { buffered: [117.5, 187, 129], dontcache: [430, 644, 836], model: [884, 588, 516] } },
    { small: { buffered: [189, 221, 266], dontcache: [1848, 1304, 2384], model: [1224, 1256, 1848] }, rand: { buffered: [103.5, 102.5, 72.5], dontcache: [418, 478, 502], model: [828, 668, 844] } },
  ],
  /** Debian 7.2.13+deb14 (flusher kick). */
  kick72: [
    { small: { buffered: [141, 270, 203], dontcache: [422, 402, 167], model: [2192, 1480, 1880] }, rand: { buffered: [79.5, 85.5, 159], dontcache: [143, 157, 147], model: [580, 1012, 700] } },
    { small: { buffered: [215, 215, 290], dontcache: [286, 394, 306], model: [1640, 2448, 980] }, rand: { buffered: [137, 107.5, 137], dontcache: [298, 87.5, 199], model: [572, 716, 1064] } },
    { small: { buffered: [173, 155, 169], dontcache: [115.5, 239, 155], model: [1512, 612, 652] }, rand: { buffered: [71.5, 83.5, 80.5], dontcache: [143, 203, 207], model: [700, 660, 442] } },
  ],
  /** Debian 7.3.4+deb13 (flusher kick); in the third boot dontcache sat near the midpoint. */
  kick73: [
    { small: { buffered: [422, 233, 556], dontcache: [173, 652, 326], model: [3824, 2384, 1784] }, rand: { buffered: [131, 123.5, 83.5], dontcache: [370, 213, 193], model: [740, 740, 828] } },
    { small: { buffered: [245, 247, 229], dontcache: [197, 358, 366], model: [2256, 2008, 1704] }, rand: { buffered: [161, 82.5, 94.5], dontcache: [223, 241, 153], model: [988, 820, 868] } },
    { small: { buffered: [191, 177, 183], dontcache: [430, 370, 422], model: [964, 820, 844] }, rand: { buffered: [74.5, 114.5, 66.5], dontcache: [229, 255, 213], model: [382, 510, 310] } },
  ],
};

/** The boots' trials one after the other, as kernels/lib/ab.mjs pools them. */
function pooled(boots: Boot[]): Boot {
  const join = (k: 'small' | 'rand') => ({
    buffered: boots.flatMap((b) => b[k].buffered), dontcache: boots.flatMap((b) => b[k].dontcache), model: boots.flatMap((b) => b[k].model),
  });
  return { small: join('small'), rand: join('rand') };
}

function recordedRun(boot: Boot): LabScenarioResult[] {
  return [
    scenario('seq-write', [mode('buffered', 6500, 25000), mode('dontcache', 9000, 25000, 800)]),
    calibrated('small-write', boot.small),
    calibrated('rand-write', boot.rand),
  ];
}

describe('measured behaviour: dontcache placed between buffered and the inline-flush model of the same run', () => {
  it('reads inline flush from a recorded 6.18 boot (6 of 6 trials nearer the model) and agrees with its probe', () => {
    const v = labVerdict(probe('inline-flush'), recordedRun(AB.inline618[0]));
    expect(v.measured).toBe('inline-flush');
    expect(v.agrees).toBe(true);
    expect(v.placement).toEqual({ trials: 6, nearerBuffered: 0, nearerModel: 6, pValue: 2 / 64 });
    const [small, rand] = v.calibration!;
    expect(small).toMatchObject({ scenario: 'small-write', says: 'inconclusive', test: { nearerModel: 3, pValue: 0.25 } });
    expect(small.position.map((x) => +x.toFixed(2))).toEqual([1.11, 0.81, 1.05]);
    expect(rand.scenario).toBe('rand-write');
    expect(v.reason).toMatch(/small-write: syscall p50 over 3 trials, median \(spread\): buffered 183 us \(177 us-239 us\), dontcache 1.26 ms \(1.13 ms-1.37 ms\), inline-flush model 1.11 ms \(1.05 ms-1.96 ms\); dontcache sat at 1.05 \(0.81 to 1.11\) of the way from buffered \(0\) to the model \(1\), 3 of 3 trials nearer the model \(sign test p = 0.250\); inconclusive on its own/);
    expect(v.reason).toMatch(/All together: 6 of 6 trials nearer the model \(sign test p = 0.031\): inline-flush. The probe says inline-flush; the measurements say inline-flush$/);
  });

  it('reads the flusher kick from a recorded 7.2 boot (6 of 6 nearer buffered)', () => {
    const v = labVerdict(probe('flusher-kick'), recordedRun(AB.kick72[0]));
    expect(v).toMatchObject({ measured: 'flusher-kick', agrees: true, placement: { nearerBuffered: 6, nearerModel: 0 } });
  });

  it('is inconclusive on a boot with 5 of 6, and then neither agrees nor disagrees', () => {
    const v = labVerdict(probe('flusher-kick'), recordedRun(AB.kick72[1]));
    expect(v).toMatchObject({ measured: 'inconclusive', agrees: null, placement: { nearerBuffered: 5, nearerModel: 1 } });
    expect(v.reason).toMatch(/All together: 5 of 6 trials nearer buffered \(sign test p = 0.219\): inconclusive \(deciding needs p <= 0.05\). The probe says flusher-kick; the measurements cannot tell$/);
  });

  it('does not call the 7.3 boot where dontcache sat near the midpoint inline flush (every rand-write trial nearer the model)', () => {
    const v = labVerdict(probe('flusher-kick'), recordedRun(AB.kick73[2]));
    expect(v.calibration!.find((c) => c.scenario === 'rand-write')!.test).toMatchObject({ nearerBuffered: 0, nearerModel: 3 });
    expect(v).toMatchObject({ measured: 'inconclusive', agrees: null });
  });

  it('decides on the pooled boots: 6.18 inline flush (18 of 18), 7.2 flusher kick (16 of 18); 7.3 stays inconclusive (12 of 18)', () => {
    expect(labVerdict(probe('inline-flush'), recordedRun(pooled(AB.inline618)))).toMatchObject({ measured: 'inline-flush', agrees: true, placement: { nearerModel: 18 } });
    const kick = labVerdict(probe('flusher-kick'), recordedRun(pooled(AB.kick72)));
    expect(kick).toMatchObject({ measured: 'flusher-kick', agrees: true, placement: { nearerBuffered: 16, nearerModel: 2 } });
    expect(kick.calibration!.map((c) => c.says)).toEqual(['flusher-kick', 'inconclusive']);
    const blurred = labVerdict(probe('flusher-kick'), recordedRun(pooled(AB.kick73)));
    expect(blurred).toMatchObject({ measured: 'inconclusive', agrees: null, placement: { nearerBuffered: 12, nearerModel: 6 } });
    expect(blurred.placement!.pValue).toBeGreaterThan(0.05);
  });

  it('disagrees with a probe that says the other behaviour', () => {
    expect(labVerdict(probe('flusher-kick'), recordedRun(AB.inline618[0]))).toMatchObject({ measured: 'inline-flush', agrees: false });
    expect(labVerdict(probe('inline-flush'), recordedRun(AB.kick72[0]))).toMatchObject({ measured: 'flusher-kick', agrees: false });
  });

  it('takes no fixed ratio: 1.4x buffered reads as flusher kick when the model costs 10x, as inline flush when it costs 1.6x', () => {
    const t = (model: number): Trials => ({ buffered: [100, 105, 95], dontcache: [140, 145, 138], model: [model, model * 1.05, model * 0.95] });
    const run = (model: number) => [calibrated('small-write', t(model)), calibrated('rand-write', t(model))];
    expect(labVerdict(probe('flusher-kick'), run(1000)).measured).toBe('flusher-kick');
    expect(labVerdict(probe('flusher-kick'), run(160)).measured).toBe('inline-flush');
  });

  it('the sign test: two-sided binomial tail, exact midpoints count for neither side', () => {
    expect(signTest([0.1, 0.2, 0.3])).toEqual({ trials: 3, nearerBuffered: 3, nearerModel: 0, pValue: 0.25 });
    expect(signTest(Array.from({ length: 9 }, (_, i) => (i < 8 ? 0.9 : 0.1))).pValue).toBeCloseTo((2 * 10) / 512);
    expect(signTest([0.5, 0.5]).pValue).toBe(1);
    expect(signTest([]).pValue).toBe(1);
  });

  it('is inconclusive when the references overlap over the trials (no positions)', () => {
    const t = { buffered: [100, 180, 120], dontcache: [150, 160, 170], model: [170, 200, 190] };
    const v = labVerdict(probe('inline-flush'), [calibrated('small-write', t), calibrated('rand-write', t)]);
    expect(v.measured).toBe('inconclusive');
    expect(v.calibration![0].position).toEqual([]);
    expect(v.calibration![0].text).toMatch(/ranges overlap/);
  });

  it('cannot decide from a single trial per scenario', () => {
    const one = { buffered: [157], dontcache: [588], model: [868] };
    expect(labVerdict(probe('inline-flush'), [calibrated('small-write', one), calibrated('rand-write', one)]).measured).toBe('inconclusive');
  });

  it('is inconclusive when two scenarios each decide, in opposite directions', () => {
    const both = pooled(AB.inline618);
    const v = labVerdict(probe('inline-flush'), [calibrated('small-write', both.small), calibrated('rand-write', pooled(AB.kick72).small)]);
    expect(v.measured).toBe('inconclusive');
    expect(v.reason).toMatch(/The scenarios disagree \(small-write inline-flush, rand-write flusher-kick\): inconclusive/);
  });

  it('has nothing to judge without the inline-flush model, and says so', () => {
    const v = labVerdict(probe('flusher-kick'), [scenario('small-write', [mode('buffered', 200, 600), mode('dontcache', 210, 900)])]);
    expect(v.measured).toBeNull();
    expect(v.agrees).toBeNull();
    expect(v.calibration).toBeUndefined();
    expect(v.notMeasured!.join()).toMatch(/no inline-model reference was measured/);
  });

  it('leaves the reference out of the ratios against buffered', () => {
    expect(labVerdict(probe('inline-flush'), recordedRun(AB.inline618[0])).ratios.map((r) => r.mode)).not.toContain('inline-model');
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
    expect(labVerdict(probe('flusher-kick'), recordedRun(AB.kick72[0]), regime).advice).toMatch(/under the dirty limits: add --sustained/);
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
    scenarios: recordedRun(AB.inline618[0]),
    verdict: labVerdict(probe('inline-flush'), recordedRun(AB.inline618[0])),
  } as unknown as LabReport;

  it('HTML says per ratio which direction is better, explains the callback basis and how the verdict placed dontcache', () => {
    const html = renderReportHtml(report);
    expect(html).toMatch(/p50 \(lower is better\)/);
    expect(html).toMatch(/MB\/s \(higher is better\)/);
    expect(html).toMatch(/Basis <i>callback<\/i>/);
    expect(html).toMatch(/On their own the measurements say <b>inline-flush<\/b>/);
    expect(html).toMatch(/<td>small-write<\/td><td>183us \(177us-239us\)<\/td><td>1.26ms \(1.13ms-1.37ms\)<\/td><td>1.11ms \(1.05ms-1.96ms\)<\/td>.*<td>1.05 \(0.81 to 1.11\)<\/td><td>0 \/ 3<\/td><td>p = 0.250<\/td><td>inconclusive<\/td>/);
    expect(html).toMatch(/<b>all together: 6 of 6 trials nearer the model \(sign test p = 0.031\): inline-flush<\/b>/);
    expect(html).toMatch(/How the measurements decide/);
  });

  it('the terminal table shows the measured behaviour and the placement per scenario', () => {
    const table = formatReportTable(report);
    expect(table).toMatch(/measurements alone say inline-flush/);
    expect(table).toMatch(/rand-write +121us \(108us-175us\) +470us \(358us-604us\) +668us \(310us-700us\) .* 0.94 \(0.71 to 1.14\) +0 \/ 3 +p = 0.250 +inconclusive/);
    expect(table).toMatch(/^  all together: 6 of 6 trials nearer the model \(sign test p = 0.031\): inline-flush$/m);
  });

  it('the verdict with its calibration fits the report schema', () => {
    const errors = validateLabReport(report).filter((e) => e.startsWith('$.verdict'));
    expect(errors).toEqual([]);
    const bad = { ...report, verdict: { ...report.verdict, measured: 'maybe' } };
    expect(validateLabReport(bad).filter((e) => e.startsWith('$.verdict'))).not.toEqual([]);
  });
});
