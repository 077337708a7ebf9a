/**
 * The verdict: the probe's writeback behaviour, whether the measurements agree with
 * it, the dontcache/buffered and writeback/buffered ratios, and one sentence of advice.
 */
import type { LabModeResult, LabProbe, LabRatio, LabScenarioResult, LabVerdict, ModeName } from './report-types';

/** Scenarios whose blocks are small enough that per-write writeback submission shows at p50. */
const SMALL_BLOCK_SCENARIOS = new Set(['rand-write', 'temp-file', 'many-files', 'stream']);
/** p50 ratio above which dontcache writes are taken to pay for writeback inline. */
const INLINE_P50_RATIO = 1.15;
/** p50 ratio below which a flusher-kick kernel is taken to keep the writer free of it. */
const KICK_P50_RATIO = 1.5;

const ok = (m: LabModeResult | undefined) => (m?.status === 'ok' && m.metrics ? m : undefined);
const fmt = (n: number) => (n >= 10 ? n.toFixed(0) : n.toFixed(2));

/** Ratios of each mode against buffered in every scenario where both ran. */
export function labRatios(scenarios: LabScenarioResult[]): LabRatio[] {
  const ratios: LabRatio[] = [];
  for (const s of scenarios) {
    const base = ok(s.modes.find((m) => m.mode === 'buffered'));
    if (!base) continue;
    for (const m of s.modes) {
      const mode = ok(m);
      if (!mode || mode.mode === 'buffered') continue;
      const b = base.metrics!;
      const x = mode.metrics!;
      const basis = b.syscallUs && x.syscallUs ? 'syscall' : 'callback';
      const bl = basis === 'syscall' ? b.syscallUs! : b.callbackUs;
      const xl = basis === 'syscall' ? x.syscallUs! : x.callbackUs;
      const div = (a: number, c: number) => (c > 0 ? a / c : 0);
      ratios.push({
        scenario: s.name,
        mode: mode.mode,
        basis,
        p50: div(xl.p50.median, bl.p50.median),
        p999: div(xl.p999.median, bl.p999.median),
        throughput: div(x.throughputMBps.median, b.throughputMBps.median),
      });
    }
  }
  return ratios;
}

function agreement(probe: LabProbe | null, scenarios: LabScenarioResult[], ratios: LabRatio[]): { agrees: boolean | null; reason: string } {
  const writeback = probe?.writeback ?? 'unknown';
  const dontcacheModes = scenarios.flatMap((s) => s.modes.filter((m) => m.mode === 'dontcache'));
  if (writeback === 'unsupported') {
    const refused = dontcacheModes.filter((m) => m.status === 'failed').length;
    const ran = dontcacheModes.filter((m) => m.status === 'ok').length;
    if (refused + ran === 0) return { agrees: null, reason: 'no dontcache mode ran' };
    return { agrees: ran === 0, reason: `dontcache refused in ${refused} scenario(s), worked in ${ran}` };
  }
  const small = ratios.filter((r) => r.mode === 'dontcache' && SMALL_BLOCK_SCENARIOS.has(r.scenario));
  const syscall = small.filter((r) => r.basis === 'syscall');
  const used = syscall.length > 0 ? syscall : small;
  if (used.length === 0) return { agrees: null, reason: 'no small-block scenario with both buffered and dontcache results' };
  const higher = used.filter((r) => r.p50 > INLINE_P50_RATIO).length;
  const list = used.map((r) => `${r.scenario} ${fmt(r.p50)}x`).join(', ');
  const seen = `dontcache/buffered p50 at small blocks: ${list}`;
  if (writeback === 'inline-flush') {
    return { agrees: higher * 2 > used.length, reason: `${seen}; an inline-flush kernel makes the writer pay (expected > ${INLINE_P50_RATIO}x in most)` };
  }
  if (writeback === 'flusher-kick') {
    const free = used.filter((r) => r.p50 < KICK_P50_RATIO).length;
    return { agrees: free * 2 > used.length, reason: `${seen}; a flusher-kick kernel should not make the writer pay (expected < ${KICK_P50_RATIO}x in most)` };
  }
  const looks = higher * 2 > used.length ? 'inline-flush' : 'flusher-kick';
  return { agrees: null, reason: `${seen}; the probe could not tell the behaviour, the figures look like ${looks}` };
}

function ratioOf(ratios: LabRatio[], mode: ModeName, scenario = 'seq-write'): LabRatio | undefined {
  return ratios.find((r) => r.mode === mode && r.scenario === scenario) ?? ratios.find((r) => r.mode === mode);
}

function advice(probe: LabProbe | null, scenarios: LabScenarioResult[], ratios: LabRatio[]): string {
  const dontcache = ratioOf(ratios, 'dontcache');
  const window = ratioOf(ratios, 'writeback');
  const dontcacheRan = scenarios.some((s) => ok(s.modes.find((m) => m.mode === 'dontcache')));
  if (!dontcacheRan || probe?.writeback === 'unsupported') {
    const fs = probe ? ` on ${probe.fsType} with Linux ${probe.kernel}` : '';
    return window
      ? `RWF_DONTCACHE is not available${fs}: use cache: 'writeback' (or 'auto', which falls back to it) for big writes, at ${fmt(window.throughput)}x buffered throughput with the page cache kept clean.`
      : `RWF_DONTCACHE is not available${fs}: use cache: 'writeback' (or 'auto') for big writes.`;
  }
  if (!dontcache) return "Too few results for advice: run with the buffered and dontcache modes.";
  const windowBetter = window && window.throughput > dontcache.throughput * 1.1 && window.p999 <= dontcache.p999;
  if (windowBetter) {
    return `Use cache: 'writeback' for big sequential writes here: ${fmt(window!.throughput)}x buffered throughput and ${fmt(window!.p999)}x its p99.9, better than dontcache's ${fmt(dontcache.throughput)}x and ${fmt(dontcache.p999)}x.`;
  }
  const smallP50 = ratios.filter((r) => r.mode === 'dontcache' && SMALL_BLOCK_SCENARIOS.has(r.scenario) && r.basis === 'syscall').map((r) => r.p50);
  const smallCost = smallP50.length ? Math.max(...smallP50) : 1;
  if (probe?.writeback === 'inline-flush' && smallCost > INLINE_P50_RATIO) {
    return `Use cache: 'dontcache' (or 'auto') for big sequential writes (${fmt(dontcache.throughput)}x buffered throughput, ${fmt(dontcache.p999)}x its p99.9, page cache left clean), but keep latency-critical small writes buffered: on this inline-flush kernel they pay up to ${fmt(smallCost)}x at p50.`;
  }
  return `Use cache: 'dontcache' (or 'auto') for big writes here: ${fmt(dontcache.throughput)}x buffered throughput and ${fmt(dontcache.p999)}x its p99.9 with the page cache left clean.`;
}

/** The verdict of a run. */
export function labVerdict(probe: LabProbe | null, scenarios: LabScenarioResult[]): LabVerdict {
  const ratios = labRatios(scenarios);
  const { agrees, reason } = agreement(probe, scenarios, ratios);
  return { writeback: probe?.writeback ?? 'unknown', agrees, reason, ratios, advice: advice(probe, scenarios, ratios) };
}
