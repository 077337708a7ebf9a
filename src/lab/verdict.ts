/**
 * The verdict: the probe's writeback behaviour, the behaviour the measurements show on
 * their own, whether the two agree, the dontcache/buffered and writeback/buffered
 * ratios, what was not measured, and one sentence of advice that follows from what ran.
 */
import {
  REFERENCE_MODES, VERDICT_SCENARIOS,
  type LabCalibration, type LabLatency, type LabModeMetrics, type LabModeResult, type LabProbe, type LabRatio, type LabRegime,
  type LabScenarioResult, type LabSignTest, type LabStat, type LabVerdict, type ModeName,
} from './report-types';
import { stat } from './aggregate';

/** Scenarios whose blocks are small enough that per-write writeback submission shows at p50. */
const SMALL_BLOCK_SCENARIOS = new Set(['small-write', 'rand-write', 'temp-file', 'many-files', 'stream']);
/** Errors that mean "this kernel or file system refuses the flag". */
const REFUSED = /\b(ENOTSUP|EOPNOTSUPP)\b/;

const ok = (m: LabModeResult | undefined) => (m?.status === 'ok' && m.metrics ? m : undefined);
const fmt = (n: number) => (n >= 10 ? n.toFixed(0) : n.toFixed(2));
const ms = (us: number) => (us >= 1000 ? `${fmt(us / 1000)} ms` : `${fmt(us)} us`);

/** Ratios of each way to write (not the reference modes) against buffered in every scenario where both ran. */
export function labRatios(scenarios: LabScenarioResult[]): LabRatio[] {
  const ratios: LabRatio[] = [];
  for (const s of scenarios) {
    const base = ok(s.modes.find((m) => m.mode === 'buffered'));
    if (!base) continue;
    for (const m of s.modes) {
      const mode = ok(m);
      if (!mode || mode.mode === 'buffered' || REFERENCE_MODES.includes(mode.mode)) continue;
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
  /** The verdict scenarios with all three modes ([] when none). */
  calibration: LabCalibration[];
  /** The sign test of all their trials together. */
  placement?: LabSignTest;
  seen: string;
}

const spreadOf = (s: LabStat, f: (n: number) => string) => (s.max > s.min ? `${f(s.median)} (${f(s.min)}-${f(s.max)})` : f(s.median));

/** Positions between the references, "median (smallest to largest)" ("to": they may be negative). */
export function positionsText(position: number[]): string {
  const s = stat(position);
  const f = (x: number) => x.toFixed(2);
  return s.max > s.min ? `${f(s.median)} (${f(s.min)} to ${f(s.max)})` : f(s.median);
}

/**
 * How lopsided the trials must be before the verdict decides: a two-sided sign test at the conventional 5%
 * level. If dontcache sat exactly midway between the references, each trial would fall on either side with
 * even odds; the verdict names a side only when so many trials fell on it that this would happen by chance
 * at most this often. So it needs at least 6 placed trials (6 of 6: 3%; 5 of 6: 22%), 8 of 9, 16 of 18.
 */
export const VERDICT_SIGNIFICANCE = 0.05;

/** The sign test of trial positions against the midpoint 0.5 (a position of exactly 0.5 counts for neither side). */
export function signTest(position: number[]): LabSignTest {
  const nearerBuffered = position.filter((x) => x < 0.5).length;
  const nearerModel = position.filter((x) => x > 0.5).length;
  const n = nearerBuffered + nearerModel;
  const k = Math.max(nearerBuffered, nearerModel);
  // P(X >= k) for X ~ Binomial(n, 1/2), doubled for the two sides.
  let tail = 0;
  let choose = 1;
  for (let i = 0; i <= n; i++) {
    if (i >= k) tail += choose;
    choose = (choose * (n - i)) / (i + 1);
  }
  return { trials: position.length, nearerBuffered, nearerModel, pValue: n === 0 ? 1 : Math.min(1, (2 * tail) / 2 ** n) };
}

function decision(t: LabSignTest): LabCalibration['says'] {
  if (t.pValue > VERDICT_SIGNIFICANCE) return 'inconclusive';
  return t.nearerBuffered > t.nearerModel ? 'flusher-kick' : 'inline-flush';
}

export const pValueText = (p: number) => (p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`);

const NEEDS = `deciding needs p <= ${VERDICT_SIGNIFICANCE}`;

/** "16 of 18 trials nearer buffered (sign test p = 0.001)". */
export function testText(t: LabSignTest): string {
  const side = t.nearerBuffered >= t.nearerModel ? ['nearer buffered', t.nearerBuffered] as const : ['nearer the model', t.nearerModel] as const;
  return `${side[1]} of ${t.trials} trial${t.trials === 1 ? '' : 's'} ${side[0]} (sign test ${pValueText(t.pValue)})`;
}

/** Per-trial syscall p50 of a mode that ran with syscall figures, or undefined. */
function trialP50s(m: LabModeResult | undefined): number[] | undefined {
  const mode = ok(m);
  if (!mode || mode.trials.length === 0 || !mode.trials.every((t) => t.syscallUs && t.syscallUs.p50 > 0)) return undefined;
  return mode.trials.map((t) => t.syscallUs!.p50);
}

/**
 * Where dontcache's writes sit between buffered (the writer pays nothing for writeback) and the
 * inline-flush model (it submits writeback of what it wrote), trial by trial, in one scenario; undefined
 * when the three modes did not all run with syscall figures. Trial i of each mode ran side by side (the
 * modes are interleaved), so each trial places dontcache on a log scale from its buffered (0) to its
 * model (1): nearer buffered = flusher kick, nearer the model = inline flush. Positions exist only when
 * the references' ranges over the trials do not overlap (every model trial slower than every buffered
 * one). The scenario says a behaviour when the sign test of its positions is significant
 * ({@link VERDICT_SIGNIFICANCE}). No fixed ratio: both references are measured on this machine, in this run.
 */
export function calibrate(s: LabScenarioResult): LabCalibration | undefined {
  const mode = (name: ModeName) => s.modes.find((m) => m.mode === name);
  const b = trialP50s(mode('buffered'));
  const d = trialP50s(mode('dontcache'));
  const m = trialP50s(mode('inline-model'));
  if (!b || !d || !m || b.length !== d.length || d.length !== m.length) return undefined;
  const distance = (x: number, y: number) => Math.exp(Math.abs(Math.log(x / y)));
  const apart = Math.max(...b) < Math.min(...m);
  const position = apart ? d.map((x, i) => Math.log(x / b[i]) / Math.log(m[i] / b[i])) : [];
  const test = signTest(position);
  const says = decision(test);
  const us = (list: number[]) => spreadOf(stat(list), ms);
  const n = d.length;
  const placed = apart ? `; dontcache sat at ${positionsText(position)} of the way from buffered (0) to the model (1), ${testText(test)}` : '';
  const figures = `syscall p50 over ${n} trial${n === 1 ? '' : 's'}, median (spread): buffered ${us(b)}, dontcache ${us(d)}, inline-flush model ${us(m)}${placed}`;
  const why = !apart
    ? "the references' ranges overlap (submitting writeback in the writer costs no more than the spread here): inconclusive"
    : says === 'flusher-kick'
      ? 'the writer does not pay for writeback submission'
      : says === 'inline-flush'
        ? 'the writer pays for writeback submission'
        : `inconclusive on its own (${NEEDS})`;
  return {
    scenario: s.name,
    bufferedP50Us: b,
    dontcacheP50Us: d,
    modelP50Us: m,
    toBuffered: stat(d.map((x, i) => distance(x, b[i]))),
    toModel: stat(d.map((x, i) => distance(x, m[i]))),
    position,
    test,
    says,
    text: `${s.name}: ${figures}; ${why}`,
  };
}

/**
 * What the figures alone say, from the verdict scenarios: dontcache placed between buffered and the
 * inline-flush model, every trial of every verdict scenario together in one sign test (two scenarios
 * that each decide, in opposite directions, make it inconclusive).
 */
function measuredBehaviour(scenarios: LabScenarioResult[]): Measured {
  const dontcacheModes = scenarios.flatMap((s) => s.modes.filter((m) => m.mode === 'dontcache'));
  const refused = dontcacheModes.filter((m) => m.status === 'failed' && REFUSED.test(m.reason ?? '')).length;
  const ran = dontcacheModes.filter((m) => m.status === 'ok').length;
  if (ran === 0 && refused > 0) return { measured: 'unsupported', calibration: [], seen: `dontcache refused in ${refused} scenario(s), worked in none` };
  const calibration = scenarios.filter((s) => VERDICT_SCENARIOS.includes(s.name)).map(calibrate).filter((c) => c !== undefined);
  if (calibration.length === 0) {
    return {
      measured: null,
      calibration,
      seen: `no ${VERDICT_SCENARIOS.join(' or ')} run with buffered, dontcache and ${REFERENCE_MODES.join(', ')} syscall figures (the verdict places dontcache between the two references)`,
    };
  }
  const placement = signTest(calibration.flatMap((c) => c.position));
  const said = new Set(calibration.map((c) => c.says).filter((x) => x !== 'inconclusive'));
  const conflict = said.size > 1;
  const measured = conflict ? 'inconclusive' : decision(placement);
  const together = conflict
    ? `The scenarios disagree (${calibration.map((c) => `${c.scenario} ${c.says}`).join(', ')}): inconclusive`
    : `All together: ${testText(placement)}: ${measured === 'inconclusive' ? `inconclusive (${NEEDS})` : measured}`;
  return { measured, calibration, placement, seen: `${calibration.map((c) => c.text).join('. ')}. ${together}.` };
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
  if (m.calibration.length === 0) return { agrees: null, reason: m.seen };
  const looks = m.measured === 'inconclusive' ? 'the measurements cannot tell' : `the measurements say ${m.measured}`;
  if ((writeback === 'inline-flush' || writeback === 'flusher-kick') && m.measured !== 'inconclusive') {
    return { agrees: m.measured === writeback, reason: `${m.seen} The probe says ${writeback}; ${looks}` };
  }
  // Figures that could not tell neither confirm nor contradict the probe.
  const probeSays = writeback === 'unknown' ? 'The probe could not tell the behaviour' : `The probe says ${writeback}`;
  return { agrees: null, reason: `${m.seen} ${probeSays}; ${looks}` };
}

/** What this run did not measure: skipped scenarios, modes that did not run or failed. */
function notMeasured(scenarios: LabScenarioResult[]): string[] {
  const out: string[] = [];
  for (const s of scenarios) {
    if (s.status === 'skipped') out.push(`${s.name}: skipped (${s.reason ?? 'no reason given'})`);
    for (const m of s.modes) {
      // A reference mode outside the verdict's scenarios is left out by design, not missing.
      if (m.status === 'skipped' && REFERENCE_MODES.includes(m.mode) && !VERDICT_SCENARIOS.includes(s.name)) continue;
      if (m.status !== 'ok') out.push(`${s.name} ${m.mode}: ${m.status}${m.reason ? ` (${m.reason})` : ''}`);
    }
  }
  const ranModes = new Set(scenarios.flatMap((s) => s.modes.filter((m) => m.status === 'ok').map((m) => m.mode)));
  for (const mode of ['buffered', 'dontcache'] as const) if (!ranModes.has(mode)) out.push(`no ${mode} writes were measured`);
  const verdictRan = scenarios.some((s) => VERDICT_SCENARIOS.includes(s.name) && s.status === 'ok');
  for (const mode of REFERENCE_MODES) {
    if (verdictRan && !ranModes.has(mode)) out.push(`no ${mode} reference was measured, so the lab could not place dontcache's writes (it runs in ${VERDICT_SCENARIOS.join(' and ')})`);
  }
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
  const candidates = modes.filter((m) => m.mode !== 'buffered' && m.mode !== 'direct' && !REFERENCE_MODES.includes(m.mode));
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

function advice(probe: LabProbe | null, scenarios: LabScenarioResult[], ratios: LabRatio[], regime: LabRegime | undefined, missing: string[], measured: LabVerdict['measured']): string {
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
  // The measurements decide; where they could not, the probe's word stands.
  const inline = measured === 'inline-flush' || (measured !== 'flusher-kick' && probe?.writeback === 'inline-flush');
  if (inline && smallP50.length && Math.max(...smallP50) > 1) {
    return `Use cache: 'dontcache' (or 'auto') for big sequential writes${regimeNote} (${fmt(dontcache.throughput)}x buffered throughput, ${fmt(dontcache.p999)}x its p99.9, page cache left clean), but keep latency-critical small writes buffered: on this inline-flush kernel they pay up to ${fmt(Math.max(...smallP50))}x at p50.`;
  }
  return `Use cache: 'dontcache' (or 'auto') for big writes here${regimeNote}: ${fmt(dontcache.throughput)}x buffered throughput and ${fmt(dontcache.p999)}x its p99.9 with the page cache left clean.`;
}

/** The verdict of a run. */
export function labVerdict(probe: LabProbe | null, scenarios: LabScenarioResult[], regime?: LabRegime): LabVerdict {
  const ratios = labRatios(scenarios);
  const m = measuredBehaviour(scenarios);
  const { agrees, reason } = agreement(probe, scenarios, m);
  const missing = notMeasured(scenarios);
  return {
    writeback: probe?.writeback ?? 'unknown',
    measured: m.measured,
    agrees,
    reason,
    ratios,
    notMeasured: missing,
    advice: advice(probe, scenarios, ratios, regime, missing, m.measured),
    ...(m.calibration.length ? { calibration: m.calibration } : {}),
    ...(m.placement ? { placement: m.placement } : {}),
  };
}
