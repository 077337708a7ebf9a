// The A/B summary (kernels/lib/ab.mjs) from given boots, no qemu: spreads over the boots, the lab's verdict
// on the pooled figures, and whether the inline-flush -> flusher-kick move went the way the kernel change says.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

interface Spread { median: number; min: number; max: number; n: number }
interface Row {
  id: string; fs: string; status?: string; boots: number; measured: string | null; agrees: boolean | null; expected: string | null;
  ratios: Record<string, { p50: Spread; p999: Spread }>; scenarios: Record<string, Record<string, { p50: Spread }>>;
  perBoot: { round: number; measured: string | null }[];
  calibration: { scenario: string; position: number[]; says: string }[];
}
interface Movement { fs: string; scenario?: string; figure?: string; status: string }
interface Ab {
  spread(v: number[]): Spread | null;
  summarizeAb(config: unknown, r: unknown): { rows: Row[]; movement: Movement[] };
  runAbRounds(matrix: unknown, o?: { rounds?: number }): Promise<{ boots: unknown[] }>;
  abConclusion(s: unknown): string;
}

let ab: Ab;
beforeAll(async () => {
  ab = (await import(pathToFileURL(path.join(__dirname, '..', '..', 'kernels', 'lib', 'ab.mjs')).href)) as Ab;
});

const stat = (v: number) => ({ median: v, min: v, max: v });
function metrics(p50: number) {
  const lat = { p50: stat(p50), p90: stat(p50), p99: stat(p50 * 3), p999: stat(p50 * 10), max: stat(p50 * 20) };
  return {
    syscallUs: lat, callbackUs: lat, eventLoopDelayP99Us: stat(1), throughputMBps: stat(100), cpuMs: stat(1), syncMs: stat(1),
    residencyPct: stat(0), peakDirtyMiB: stat(4), peakWritebackMiB: stat(1), peakCachedMiB: stat(4),
  };
}

/**
 * One boot's lab report where dontcache's p50 is `ratio` x buffered's (buffered p50 = 10 us) and the inline-flush
 * model's is 10x, in 3 trials: dontcache sits at log(ratio)/log(10) between buffered (0) and the model (1).
 */
function report(writeback: string, ratio: number) {
  const mode = (name: string, p50: number) => ({
    mode: name, implementation: name, status: 'ok', metrics: metrics(p50),
    trials: [1, 2, 3].map(() => ({ syscallUs: { p50, p90: p50, p99: p50 * 3, p999: p50 * 10, max: p50 * 20 } })),
  });
  const scenario = (name: string, r: number) => ({
    name, description: name, status: 'ok', params: { bytes: 1 },
    modes: [mode('buffered', 10), mode('dontcache', 10 * r), mode('inline-model', 100)],
  });
  const scenarios = [scenario('small-write', ratio), scenario('rand-write', ratio)];
  const ratios = ['small-write', 'rand-write'].map((s) => ({ scenario: s, mode: 'dontcache', basis: 'syscall', p50: ratio, p999: ratio, throughput: 1 }));
  return {
    probe: { kernel: 'k', fsType: 'ext4', dontcacheWrite: true, dontcacheRead: true, writeback, evidence: [], verdictReason: '' },
    scenarios, durationS: 1,
    verdict: { writeback, measured: null, agrees: true, reason: '', ratios, advice: '' },
  };
}

function boot(id: string, round: number, writeback: string, ratio: number) {
  return {
    id, round, status: 'ok', release: `${id}-rel`, failedBoots: [],
    expect: { ext4: { writeback }, xfs: { writeback } },
    labs: [{ fs: 'ext4', report: report(writeback, ratio) }, { fs: 'xfs', report: report(writeback, ratio) }],
  };
}

describe('A/B summary', () => {
  it('spreads: median, smallest, largest, count', () => {
    expect(ab.spread([3, 1, 2, NaN])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(ab.spread([4, 1])).toEqual({ median: 2.5, min: 1, max: 4, n: 2 });
    expect(ab.spread([])).toBeNull();
  });

  it('pools the boots, judges the pooled figures, and calls a clean separation "as said"', () => {
    const boots = [boot('old', 1, 'inline-flush', 10), boot('new', 1, 'flusher-kick', 1.05), boot('new', 2, 'flusher-kick', 1.1), boot('old', 2, 'inline-flush', 12)];
    const s = ab.summarizeAb({}, { boots, skipped: { gone: 'no modules' }, rounds: 2, kernels: ['old', 'gone', 'new'] });
    const old = s.rows.find((r) => r.id === 'old' && r.fs === 'ext4')!;
    expect(old).toMatchObject({ boots: 2, measured: 'inline-flush', agrees: true, expected: 'inline-flush' });
    expect(old.ratios["small-write dontcache"].p50).toEqual({ median: 11, min: 10, max: 12, n: 2, values: [10, 12] });
    expect(old.scenarios['small-write'].dontcache.p50).toMatchObject({ median: 110, min: 100, max: 120 });
    expect(s.rows.find((r) => r.id === 'new' && r.fs === 'xfs')).toMatchObject({ measured: 'flusher-kick', agrees: true });
    expect(s.rows.find((r) => r.id === 'gone')).toMatchObject({ status: 'skipped' });
    expect(s.movement.filter((m) => m.status === 'as said')).toHaveLength(8);
    expect(ab.abConclusion(s)).toMatch(/p50 fell as the change says in 4 of 4/);
  });

  it('calls overlapping boots "blurred" and a ratio that does not fall "not seen"; the verdict is inconclusive when the trials straddle', () => {
    // dontcache at 0.70 and 0.48 of the way to the model on the old kernel, 0.54 and 0.46 on the new one.
    const blurred = [boot('old', 1, 'inline-flush', 5), boot('old', 2, 'inline-flush', 3), boot('new', 1, 'flusher-kick', 3.5), boot('new', 2, 'flusher-kick', 2.9)];
    const s = ab.summarizeAb({}, { boots: blurred, skipped: {}, rounds: 2, kernels: ['old', 'new'] });
    expect(s.movement.every((m) => m.status === 'blurred')).toBe(true);
    expect(s.rows.find((r) => r.id === 'new')).toMatchObject({ measured: 'inconclusive', agrees: null });
    expect(s.rows.find((r) => r.id === 'new')!.calibration[0].position.map((x) => +x.toFixed(2))).toEqual([0.54, 0.54, 0.54, 0.46, 0.46, 0.46]);
    expect(ab.abConclusion(s)).toMatch(/new ext4: inconclusive \(expected flusher-kick, cannot tell\)/);
    const reversed = [boot('old', 1, 'inline-flush', 2), boot('new', 1, 'flusher-kick', 5)];
    const t = ab.summarizeAb({}, { boots: reversed, skipped: {}, rounds: 1, kernels: ['old', 'new'] });
    expect(t.movement.every((m) => m.status === 'not seen')).toBe(true);
    expect(t.rows.find((r) => r.id === 'new')).toMatchObject({ measured: 'inline-flush', agrees: false });
    expect(t.rows.find((r) => r.id === 'old')).toMatchObject({ measured: 'flusher-kick', agrees: false });
  });

  it('says what is missing when only one behaviour booted', () => {
    const s = ab.summarizeAb({}, { boots: [boot('old', 1, 'inline-flush', 3)], skipped: {}, rounds: 1, kernels: ['old'] });
    expect(s.movement[0]).toMatchObject({ status: 'not measured' });
    expect(ab.abConclusion(s)).toMatch(/nothing to compare/);
  });

  it('boots kernels of one architecture only, and only kernels that kernels.json lists', async () => {
    const booted: string[] = [];
    const matrix = (ids: string[]) => ({
      config: { ab: { kernels: ids, rounds: 1 }, kernels: [{ id: 'x' }, { id: 'y' }, { id: 'arm', arch: 'arm64' }] },
      run: async (k: { id: string }) => { booted.push(k.id); return { id: k.id, status: 'skipped', reason: 'test' }; },
    });
    await expect(ab.runAbRounds(matrix(['x', 'arm']))).rejects.toThrow(/mixes x64 and arm64 guests/);
    await expect(ab.runAbRounds(matrix(['x', 'nope']))).rejects.toThrow(/names nope, which is not in kernels/);
    expect(booted).toEqual([]);
    await ab.runAbRounds(matrix(['x', 'y']));
    expect(booted).toEqual(['x', 'y']);
  });
});
