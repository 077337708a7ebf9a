/**
 * Runs the lab: probe, warm-up, then per scenario the modes interleaved
 * (A B C A B C ...) for `trials` rounds, each trial in fresh worker processes;
 * medians, spreads and the verdict at the end. A failing mode is recorded and
 * dropped from the later rounds; the rest still runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { probe } from '../probe';
import { aggregateTrials, medianCurve, toLabTrial } from './aggregate';
import { LabResources } from './resources';
import { scenarioByName, type LabProfile } from './scenarios';
import { runTrial } from './trial';
import { labVerdict } from './verdict';
import { dirtyLimits, freeBytes, labRegime, sustainedBytes } from './regime';
import {
  DEFAULT_SCENARIOS, LAB_REPORT_VERSION, MODE_NAMES,
  type LabModeResult, type LabProbe, type LabReport, type LabScenarioResult, type LabTrial, type ModeName, type ScenarioName,
} from './report-types';
import type { LatencyOutcome } from './job-types';

const MiB = 1024 * 1024;

/** Default scenario size: about 2 minutes for the whole default profile on the reference VM. */
export const DEFAULT_SIZE_BYTES = 256 * MiB;
export const DEFAULT_TRIALS = 3;
/** Trials when the sustained scenario runs: its tails swing widely from trial to trial. */
export const DEFAULT_SUSTAINED_TRIALS = 5;

/** What the runner tells while it works. */
export type LabProgress =
  | { type: 'probe'; probe: LabProbe | null; error?: string }
  | { type: 'warmup' }
  | { type: 'scenario'; scenario: ScenarioName; skipped?: string }
  | { type: 'trial'; scenario: ScenarioName; mode: ModeName; trial: number; trials: number; done: number; total: number; result?: LabTrial; error?: string };

export interface LabOptions {
  /** Where the files are written (a directory on the file system to measure). */
  dir: string;
  /** Scenario size unit, bytes (seq-write writes this much). Default 256 MiB; `full` makes it 2x RAM. */
  sizeBytes?: number;
  trials?: number;
  scenarios?: ScenarioName[];
  modes?: ModeName[];
  /** The kernel developers' scale: files of 2x RAM, 32 files in many-files. */
  full?: boolean;
  /**
   * Add the `sustained` scenario: 1 MiB sequential writes past the dirty limits (twice the
   * dirty limit, at most half the free space), where buffered writers get throttled. Default
   * trials become {@link DEFAULT_SUSTAINED_TRIALS}.
   */
  sustained?: boolean;
  /** Bytes the sustained scenario writes instead of the size from the dirty limits. */
  sustainedBytes?: number;
  /** Drop the page cache (machine-wide, root) before every trial. Default false. */
  dropCaches?: boolean;
  /** Untimed buffered write first, to touch fresh memory. Default true. */
  warmup?: boolean;
  onProgress?: (event: LabProgress) => void;
  /** Abort: the run stops after cleaning up, and rejects with an AbortError. */
  signal?: AbortSignal;
}

function toLabProbe(p: Awaited<ReturnType<typeof probe>>): LabProbe {
  const result: LabProbe = {
    kernel: p.kernel,
    fsType: p.fsType,
    dontcacheWrite: p.dontcacheWrite,
    dontcacheRead: p.dontcacheRead,
    writeback: p.writeback,
    overwriteDropped: p.overwriteDropped,
    overwriteEvidence: p.overwriteEvidence.detail,
    evidence: p.evidence.map((e) => `${e.source} (${e.weight}): ${e.says}: ${e.detail}`),
    verdictReason: p.verdictReason,
  };
  if (p.refusedWith !== undefined) result.refusedWith = p.refusedWith;
  return result;
}

function dropCaches(): void {
  execFileSync('sync');
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

function abortError(): Error {
  const error = new Error('The lab run was aborted');
  error.name = 'AbortError';
  (error as NodeJS.ErrnoException).code = 'ABORT_ERR';
  return error;
}

/** Runs the lab and resolves with its report. Files, workers and cgroups are gone when it settles. */
export async function runLab(options: LabOptions): Promise<LabReport> {
  const started = Date.now();
  const dir = options.dir;
  const full = options.full ?? false;
  const sizeBytes = options.sizeBytes ?? (full ? 2 * os.totalmem() : DEFAULT_SIZE_BYTES);
  const scenarioNames = [...(options.scenarios ?? DEFAULT_SCENARIOS)];
  if (options.sustained && !scenarioNames.includes('sustained')) scenarioNames.push('sustained');
  const sustained = scenarioNames.includes('sustained');
  const trials = options.trials ?? (sustained ? DEFAULT_SUSTAINED_TRIALS : DEFAULT_TRIALS);
  const modes = options.modes ?? [...MODE_NAMES];
  const dropping = options.dropCaches ?? false;
  const warmup = options.warmup ?? true;
  const emit = options.onProgress ?? (() => {});
  const profile: LabProfile = { sizeBytes, full, windowBytes: 8 * MiB };
  const limits = dirtyLimits();
  if (sustained) {
    const bytes = options.sustainedBytes ?? sustainedBytes(limits, freeBytes(dir));
    profile.sustained = { bytes, dirtyLimitBytes: limits.dirtyBytes, backgroundLimitBytes: limits.backgroundBytes };
  }
  if (dropping && process.getuid?.() !== 0) throw new Error('--drop-caches needs root');

  let probed: LabProbe | null = null;
  try {
    probed = toLabProbe(await probe(dir));
    emit({ type: 'probe', probe: probed });
  } catch (error) {
    emit({ type: 'probe', probe: null, error: (error as Error).message });
  }

  const resources = new LabResources(dir);
  const aborted = () => options.signal?.aborted === true;
  const onAbort = () => void resources.release();
  options.signal?.addEventListener('abort', onAbort);
  const results: LabScenarioResult[] = [];
  try {
    if (warmup) {
      emit({ type: 'warmup' });
      const plan = scenarioByName('seq-write').plan('buffered', resources.runDir, { ...profile, sizeBytes: Math.min(2 * sizeBytes, 2048 * MiB) });
      await runTrial(plan, resources).catch(() => undefined);
    }
    const scenarios = scenarioNames.map(scenarioByName);
    const total = scenarios.reduce((n, s) => n + (s.unavailable() ? 0 : modes.filter((m) => !s.skipMode(m)).length * trials), 0);
    let done = 0;
    for (const scenario of scenarios) {
      if (aborted()) throw abortError();
      const base = { name: scenario.name, description: scenario.description, params: scenario.params(profile) };
      const unavailable = scenario.unavailable();
      emit({ type: 'scenario', scenario: scenario.name, skipped: unavailable });
      if (unavailable) {
        results.push({ ...base, status: 'skipped', reason: unavailable, modes: [] });
        continue;
      }
      const modeResults: LabModeResult[] = modes.map((mode) => {
        const skip = scenario.skipMode(mode);
        return { mode, implementation: scenario.implementation(mode), status: skip ? 'skipped' : 'ok', ...(skip ? { reason: skip } : {}), trials: [] };
      });
      const curves = new Map<ModeName, { syscall: LatencyOutcome['curve'][]; callback: LatencyOutcome['curve'][] }>();
      for (let trial = 1; trial <= trials; trial++) {
        for (const result of modeResults) {
          if (result.status !== 'ok') continue;
          if (aborted()) throw abortError();
          if (dropping) dropCaches();
          let event: LabProgress;
          try {
            const outcome = await runTrial(scenario.plan(result.mode, resources.runDir, profile), resources);
            const labTrial = toLabTrial(outcome, scenario.name === 'temp-file' ? 'temp-file churner (buffered, 1 MiB blocks)' : scenario.name === 'noisy-neighbour' ? 'buffered writer (1 MiB blocks)' : undefined);
            result.trials.push(labTrial);
            if (outcome.main.strategy) result.strategy = outcome.main.strategy;
            const c = curves.get(result.mode) ?? { syscall: [], callback: [] };
            if (outcome.main.syscall) c.syscall.push(outcome.main.syscall.curve);
            c.callback.push(outcome.main.callback.curve);
            curves.set(result.mode, c);
            event = { type: 'trial', scenario: scenario.name, mode: result.mode, trial, trials, done: ++done, total, result: labTrial };
          } catch (error) {
            if (aborted()) throw abortError();
            result.status = 'failed';
            result.reason = (error as Error).message;
            done += trials - trial + 1;
            event = { type: 'trial', scenario: scenario.name, mode: result.mode, trial, trials, done, total, error: result.reason };
          }
          emit(event);
        }
      }
      for (const result of modeResults) {
        if (result.status !== 'ok' || result.trials.length === 0) continue;
        result.metrics = aggregateTrials(result.trials);
        const c = curves.get(result.mode)!;
        result.curves = { syscallUs: c.syscall.length === result.trials.length ? medianCurve(c.syscall) : null, callbackUs: medianCurve(c.callback) };
      }
      results.push({ ...base, status: 'ok', modes: modeResults });
      // The rand-write file is kept across trials; drop each scenario's leftovers now.
      resources.clearRunDir();
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await resources.release();
  }

  const regime = labRegime(results, limits);
  return {
    schema: 'dontcache-lab-report',
    version: LAB_REPORT_VERSION,
    createdAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: { kernel: os.release(), cpus: os.cpus().length, memoryBytes: os.totalmem(), node: process.version, uid: process.getuid?.() ?? -1 },
    dir: fs.realpathSync(dir),
    options: { sizeBytes, trials, warmup, scenarios: scenarioNames, modes, full, dropCaches: dropping, ...(sustained ? { sustained: true } : {}) },
    probe: probed,
    scenarios: results,
    ...(regime ? { regime } : {}),
    verdict: labVerdict(probed, results, regime),
  };
}
