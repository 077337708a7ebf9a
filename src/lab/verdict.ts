/**
 * The verdict: the probe's writeback behaviour, the behaviour the measurements show on
 * their own, whether the two agree, the dontcache/buffered and writeback/buffered
 * ratios, what was not measured, and one sentence of advice that follows from what ran.
 */
import {
  REFERENCE_MODES, VERDICT_SCENARIOS,
  type LabCalibration, type LabLatency, type LabModeMetrics, type LabModeResult, type LabProbe, type LabRatio, type LabRegime,
  type LabScenarioResult, type LabStat, type LabVerdict, type ModeName,
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
  seen: string;
}

const factor = (n: number) => `${fmt(n)}x`;
const spreadOf = (s: LabStat, f: (n: number) => string) => (s.max > s.min ? `${f(s.median)} (${f(s.min)}-${f(s.max)})` : f(s.median));

/** Positions between the references, "median (smallest to largest)" ("to": they may be negative). */
export function positionsText(position: number[]): string {
  const s = stat(position);
  const f = (x: number) => x.toFixed(2);
  return s.max > s.min ? `${f(s.median)} (${f(s.min)} to ${f(s.max)})` : f(s.median);
}

/**
 * Trials a scenario needs before it may decide. Its rule is a sign test: every trial must put dontcache
 * on the same side of the midpoint between the references. If dontcache really sat at the midpoint,
 * n trials would all fall on one side with probability 2^(1-n): 1 in 4 at 3 trials, certainty at 1.
 */
export const MIN_VERDICT_TRIALS = 3;

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
 * model (1). The scenario decides only when it ran at least {@link MIN_VERDICT_TRIALS} trials, the
 * references' ranges over the trials do not overlap (every model trial slower than every buffered one),
 * and every trial puts dontcache on the same side of the midpoint: nearer buffered = flusher kick, nearer
 * the model = inline flush. No fixed ratio: both references are measured on this machine, in this run.
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
  const cal = {
    scenario: s.name,
    bufferedP50Us: b,
    dontcacheP50Us: d,
    modelP50Us: m,
    toBuffered: stat(d.map((x, i) => distance(x, b[i]))),
    toModel: stat(d.map((x, i) => distance(x, m[i]))),
    position,
  };
  const us = (list: number[]) => spreadOf(stat(list), ms);
  const n = d.length;
  const placed = apart ? `; dontcache sat at ${positionsText(position)} of the way from buffered (0) to the model (1)` : '';
  const figures = `syscall p50 over ${n} trial${n === 1 ? '' : 's'}, median (spread): buffered ${us(b)}, dontcache ${us(d)}, inline-flush model ${us(m)}${placed}`;
  let says: LabCalibration['says'] = 'inconclusive';
  let why: string;
  if (!apart) {
    why = "the references' ranges overlap (submitting writeback in the writer costs no more than the spread here): inconclusive";
  } else if (n < MIN_VERDICT_TRIALS) {
    why = `${n} trial${n === 1 ? '' : 's'} cannot show a spread (the verdict needs ${MIN_VERDICT_TRIALS}): inconclusive`;
  } else if (position.every((x) => x < 0.5)) {
    says = 'flusher-kick';
    why = 'nearer buffered in every trial: the writer does not pay for writeback submission';
  } else if (position.every((x) => x > 0.5)) {
    says = 'inline-flush';
    why = 'nearer the inline-flush model in every trial: the writer pays for writeback submission';
  } else {
    why = 'nearer one reference in some trials and the other in others: inconclusive';
  }
  return { ...cal, says, text: `${s.name}: ${figures}; ${why}` };
}

/**
 * What the figures alone say, from the verdict scenarios: dontcache against buffered and the
 * inline-flush model. A scenario that cannot tell does not count; the ones that decide must agree.
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
  const said = [...new Set(calibration.map((c) => c.says).filter((x) => x !== 'inconclusive'))];
  const measured = said.length === 1 ? said[0] : 'inconclusive';
  const conflict = said.length > 1 ? ` The scenarios disagree (${calibration.map((c) => `${c.scenario} ${c.says}`).join(', ')}): inconclusive` : '';
  return { measured, calibration, seen: `${calibration.map((c) => c.text).join('. ')}.${conflict}` };
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
  };
}
