/**
 * The verdict: the probe's writeback behaviour, the behaviour the measurements show on
 * their own, whether the two agree, the dontcache/buffered and writeback/buffered
 * ratios, what was not measured, and one sentence of advice that follows from what ran.
 */
import type {
  LabLatency, LabModeMetrics, LabModeResult, LabProbe, LabRatio, LabRegime, LabScenarioResult, LabVerdict, ModeName,
} from './report-types';

/** Scenarios whose blocks are small enough that per-write writeback submission shows at p50. */
const SMALL_BLOCK_SCENARIOS = new Set(['small-write', 'rand-write', 'temp-file', 'many-files', 'stream']);
/** p50 ratio above which dontcache writes are taken to pay for writeback inline. */
const INLINE_P50_RATIO = 1.15;
/** p50 ratio below which a flusher-kick kernel is taken to keep the writer free of it. */
const KICK_P50_RATIO = 1.5;
/** Errors that mean "this kernel or file system refuses the flag". */
const REFUSED = /\b(ENOTSUP|EOPNOTSUPP)\b/;

const ok = (m: LabModeResult | undefined) => (m?.status === 'ok' && m.metrics ? m : undefined);
const fmt = (n: number) => (n >= 10 ? n.toFixed(0) : n.toFixed(2));
const ms = (us: number) => (us >= 1000 ? `${fmt(us / 1000)} ms` : `${fmt(us)} us`);

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
      const bl = latencyOf(b, basis);
      const xl = latencyOf(x, basis);
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

function latencyOf(m: LabModeMetrics, basis: LabRatio['basis']): LabLatency {
  return basis === 'syscall' && m.syscallUs ? m.syscallUs : m.callbackUs;
}

interface Measured {
  measured: LabVerdict['measured'];
  /** The small-block ratios looked at ([] when none). */
  used: LabRatio[];
  seen: string;
}

/**
 * What the figures alone say: most small-block dontcache/buffered p50 ratios above
 * KICK_P50_RATIO -> the writer pays (inline flush); most below INLINE_P50_RATIO -> it
 * does not (flusher kick); in between, p50 alone cannot tell.
 */
function measuredBehaviour(scenarios: LabScenarioResult[], ratios: LabRatio[]): Measured {
  const dontcacheModes = scenarios.flatMap((s) => s.modes.filter((m) => m.mode === 'dontcache'));
  const refused = dontcacheModes.filter((m) => m.status === 'failed' && REFUSED.test(m.reason ?? '')).length;
  const ran = dontcacheModes.filter((m) => m.status === 'ok').length;
  if (ran === 0 && refused > 0) return { measured: 'unsupported', used: [], seen: `dontcache refused in ${refused} scenario(s), worked in none` };
  const small = ratios.filter((r) => r.mode === 'dontcache' && SMALL_BLOCK_SCENARIOS.has(r.scenario));
  const syscall = small.filter((r) => r.basis === 'syscall');
  const used = syscall.length > 0 ? syscall : small;
  if (used.length === 0) return { measured: null, used, seen: 'no small-block scenario with both buffered and dontcache results' };
  const seen = `dontcache/buffered p50 at small blocks: ${used.map((r) => `${r.scenario} ${fmt(r.p50)}x`).join(', ')}`;
  const paying = used.filter((r) => r.p50 > KICK_P50_RATIO).length;
  const free = used.filter((r) => r.p50 < INLINE_P50_RATIO).length;
  const measured = paying * 2 > used.length ? 'inline-flush' : free * 2 > used.length ? 'flusher-kick' : null;
  return { measured, used, seen };
}

function agreement(probe: LabProbe | null, scenarios: LabScenarioResult[], m: Measured): { agrees: boolean | null; reason: string } {
  const writeback = probe?.writeback ?? 'unknown';
  if (writeback === 'unsupported') {
    const dontcacheModes = scenarios.flatMap((s) => s.modes.filter((x) => x.mode === 'dontcache'));
    const refused = dontcacheModes.filter((x) => x.status === 'failed').length;
    const ran = dontcacheModes.filter((x) => x.status === 'ok').length;
    if (refused + ran === 0) return { agrees: null, reason: 'no dontcache mode ran' };
    return { agrees: ran === 0, reason: `dontcache refused in ${refused} scenario(s), worked in ${ran}` };
  }
  if (m.used.length === 0) return { agrees: null, reason: m.seen };
  const looks = m.measured ? `they look like ${m.measured}` : `they sit between ${INLINE_P50_RATIO}x and ${KICK_P50_RATIO}x, where p50 alone cannot tell`;
  if (writeback === 'inline-flush') {
    const higher = m.used.filter((r) => r.p50 > INLINE_P50_RATIO).length;
    return { agrees: higher * 2 > m.used.length, reason: `${m.seen}; an inline-flush kernel makes the writer pay (expected > ${INLINE_P50_RATIO}x in most); ${looks}` };
  }
  if (writeback === 'flusher-kick') {
    const lower = m.used.filter((r) => r.p50 < KICK_P50_RATIO).length;
    return { agrees: lower * 2 > m.used.length, reason: `${m.seen}; a flusher-kick kernel should not make the writer pay (expected < ${KICK_P50_RATIO}x in most); ${looks}` };
  }
  return { agrees: null, reason: `${m.seen}; the probe could not tell the behaviour; ${looks}` };
}

/** What this run did not measure: skipped scenarios, modes that did not run or failed. */
function notMeasured(scenarios: LabScenarioResult[]): string[] {
  const out: string[] = [];
  for (const s of scenarios) {
    if (s.status === 'skipped') out.push(`${s.name}: skipped (${s.reason ?? 'no reason given'})`);
    for (const m of s.modes) if (m.status !== 'ok') out.push(`${s.name} ${m.mode}: ${m.status}${m.reason ? ` (${m.reason})` : ''}`);
  }
  const ranModes = new Set(scenarios.flatMap((s) => s.modes.filter((m) => m.status === 'ok').map((m) => m.mode)));
  for (const mode of ['buffered', 'dontcache'] as const) if (!ranModes.has(mode)) out.push(`no ${mode} writes were measured`);
  return out;
}

/** The scenario whose figures the advice rests on: sustained when it ran, else seq-write, else the first with ratios. */
function adviceScenario(ratios: LabRatio[], mode: ModeName): LabRatio | undefined {
  return ratios.find((r) => r.mode === mode && r.scenario === 'sustained') ?? ratios.find((r) => r.mode === mode && r.scenario === 'seq-write') ?? ratios.find((r) => r.mode === mode);
}

function spreadText(m: LabModeMetrics, basis: LabRatio['basis']): string {
  const p = latencyOf(m, basis).p999;
  return `${ms(p.median)} (${ms(p.min)}-${ms(p.max)})`;
}

/** Sustained figures: name a winner at p99.9 only when its spread over the trials clears the others'. */
function sustainedAdvice(s: LabScenarioResult, regime: LabRegime | undefined, ratios: LabRatio[]): string | undefined {
  const modes = s.modes.filter((m) => ok(m));
  const buffered = modes.find((m) => m.mode === 'buffered');
  const candidates = modes.filter((m) => m.mode !== 'buffered' && m.mode !== 'direct');
  if (!buffered || candidates.length === 0) return undefined;
  const basis: LabRatio['basis'] = modes.every((m) => m.metrics!.syscallUs) ? 'syscall' : 'callback';
  const p999 = (m: LabModeResult) => latencyOf(m.metrics!, basis).p999;
  const best = candidates.reduce((a, b) => (p999(b).median < p999(a).median ? b : a));
  const others = modes.filter((m) => m !== best);
  const clear = others.every((m) => p999(best).max < p999(m).min);
  const trials = best.trials.length;
  const where = regime?.kind === 'past-dirty-limits' ? 'Past the dirty limits' : 'In the sustained scenario (which did not get past the dirty limits here)';
  const list = modes.map((m) => `${m.mode} ${spreadText(m.metrics!, basis)}`).join(', ');
  const r = ratios.find((x) => x.scenario === 'sustained' && x.mode === best.mode);
  const tput = r ? `, ${fmt(r.throughput)}x buffered throughput` : '';
  if (clear) {
    return `${where} (${trials} trials, ${basis} p99.9 median (spread)): use cache: '${best.mode}' for big sequential writes: ${list}${tput}, page cache left clean.`;
  }
  return `${where} (${trials} trials, ${basis} p99.9 median (spread): ${list}) no mode's p99.9 clearly beat the others: the spreads overlap. cache: '${best.mode}' had the lowest median${tput} and keeps the page cache clean; run more --trials to separate them.`;
}

function advice(probe: LabProbe | null, scenarios: LabScenarioResult[], ratios: LabRatio[], regime: LabRegime | undefined, missing: string[]): string {
  const dontcacheModes = scenarios.flatMap((s) => s.modes.filter((m) => m.mode === 'dontcache'));
  const dontcacheRan = dontcacheModes.some((m) => ok(m));
  const refusedByRun = dontcacheModes.some((m) => m.status === 'failed' && REFUSED.test(m.reason ?? ''));
  const refused = !dontcacheRan && (refusedByRun || probe?.dontcacheWrite === false);
  const window = adviceScenario(ratios, 'writeback');
  const windowText = window ? `, at ${fmt(window.throughput)}x buffered throughput and ${fmt(window.p999)}x its p99.9 (${window.scenario}) with the page cache kept clean` : '';
  const fsText = probe ? ` on ${probe.fsType} with Linux ${probe.kernel}` : '';
  if (refused) {
    return `RWF_DONTCACHE is not available${fsText} (${refusedByRun ? 'the dontcache writes were refused' : `the probe's write was refused${probe?.refusedWith ? ` with ${probe.refusedWith}` : ''}`}): use cache: 'writeback' (or 'auto', which falls back to it) for big writes${windowText}.`;
  }
  const anyRan = scenarios.some((s) => s.modes.some((m) => ok(m)));
  if (!anyRan) return `Nothing was measured (${missing.join('; ') || 'no scenario ran'}): no advice.`;
  if (!dontcacheRan) {
    const why = missing.filter((t) => /dontcache|skipped/.test(t)).join('; ');
    const probeSays = probe ? `; the probe says ${probe.writeback}, RWF_DONTCACHE ${probe.dontcacheWrite ? 'accepted' : 'refused'}${fsText}` : '';
    const of = window
      ? ` Of what ran, cache: 'writeback'${windowText.replace(/^, at/, ' gave')}.`
      : ratios.length ? '' : ' Nothing ran that can be compared with buffered writes.';
    return `dontcache writes were not measured in this run (${why})${probeSays}.${of} Run with --modes buffered,dontcache,writeback to compare them.`;
  }
  const sustained = scenarios.find((s) => s.name === 'sustained' && s.status === 'ok');
  const fromSustained = sustained && sustainedAdvice(sustained, regime, ratios);
  if (fromSustained) return fromSustained;
  const dontcache = adviceScenario(ratios, 'dontcache');
  if (!dontcache) return "Too few results for advice: run with the buffered and dontcache modes.";
  const regimeNote = regime?.kind === 'in-memory' ? ' (under the dirty limits: add --sustained for the throttled regime)' : '';
  const windowBetter = window && window.throughput > dontcache.throughput * 1.1 && window.p999 <= dontcache.p999;
  if (windowBetter) {
    return `Use cache: 'writeback' for big sequential writes here${regimeNote}: ${fmt(window!.throughput)}x buffered throughput and ${fmt(window!.p999)}x its p99.9, better than dontcache's ${fmt(dontcache.throughput)}x and ${fmt(dontcache.p999)}x.`;
  }
  const smallP50 = ratios.filter((r) => r.mode === 'dontcache' && SMALL_BLOCK_SCENARIOS.has(r.scenario) && r.basis === 'syscall').map((r) => r.p50);
  const smallCost = smallP50.length ? Math.max(...smallP50) : 1;
  if (probe?.writeback === 'inline-flush' && smallCost > INLINE_P50_RATIO) {
    return `Use cache: 'dontcache' (or 'auto') for big sequential writes${regimeNote} (${fmt(dontcache.throughput)}x buffered throughput, ${fmt(dontcache.p999)}x its p99.9, page cache left clean), but keep latency-critical small writes buffered: on this inline-flush kernel they pay up to ${fmt(smallCost)}x at p50.`;
  }
  return `Use cache: 'dontcache' (or 'auto') for big writes here${regimeNote}: ${fmt(dontcache.throughput)}x buffered throughput and ${fmt(dontcache.p999)}x its p99.9 with the page cache left clean.`;
}

/** The verdict of a run. */
export function labVerdict(probe: LabProbe | null, scenarios: LabScenarioResult[], regime?: LabRegime): LabVerdict {
  const ratios = labRatios(scenarios);
  const m = measuredBehaviour(scenarios, ratios);
  const { agrees, reason } = agreement(probe, scenarios, m);
  const missing = notMeasured(scenarios);
  return {
    writeback: probe?.writeback ?? 'unknown',
    measured: m.measured,
    agrees,
    reason,
    ratios,
    notMeasured: missing,
    advice: advice(probe, scenarios, ratios, regime, missing),
  };
}
