/** Turns worker outcomes into report trials, and trials into medians with spreads. */
import type { LatencySummary } from '../latency';
import type { LabLatency, LabModeMetrics, LabPercentiles, LabStat, LabTrial } from './report-types';
import type { LatencyOutcome } from './job-types';
import type { TrialOutcome } from './trial';
import { READ_NEIGHBOUR_ROLE } from './threadpool-neighbour';

const MiB = 1024 * 1024;

/** Median (mean of the middle two for an even count), smallest and largest. */
export function stat(values: number[]): LabStat {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: 0, min: 0, max: 0 };
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { median, min: sorted[0], max: sorted[n - 1] };
}

function percentiles(s: LatencySummary): LabPercentiles {
  return { p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max };
}

/** One trial as the report shows it. */
export function toLabTrial(outcome: TrialOutcome, neighbourRole?: string): LabTrial {
  const m = outcome.main;
  const seconds = m.elapsedNs / 1e9;
  const trial: LabTrial = {
    syscallUs: m.syscall ? percentiles(m.syscall.summary) : null,
    callbackUs: percentiles(m.callback.summary),
    eventLoopDelayP99Us: m.eventLoopDelayP99Us,
    throughputMBps: seconds > 0 ? m.bytes / 1e6 / seconds : 0,
    cpuMs: m.cpuUs / 1000,
    syncMs: m.syncNs / 1e6,
    residencyPct: m.writtenPages > 0 ? Math.min(100, (100 * m.residentPages) / m.writtenPages) : 0,
    peakDirtyMiB: outcome.memory.dirty / MiB,
    peakWritebackMiB: outcome.memory.writeback / MiB,
    peakCachedMiB: outcome.memory.cached / MiB,
  };
  const c = outcome.companion;
  const reads = m.readNeighbour;
  if (reads) {
    trial.neighbour = {
      role: READ_NEIGHBOUR_ROLE,
      throughputMBps: reads.elapsedNs > 0 ? reads.bytes / 1e6 / (reads.elapsedNs / 1e9) : 0,
      syscallUs: percentiles(reads.latency.summary),
    };
  } else if (c && neighbourRole) {
    trial.neighbour = {
      role: neighbourRole,
      throughputMBps: c.elapsedNs > 0 ? c.bytes / 1e6 / (c.elapsedNs / 1e9) : 0,
      syscallUs: c.syscall ? percentiles(c.syscall.summary) : null,
    };
  }
  return trial;
}

function latency(list: LabPercentiles[]): LabLatency {
  const of = (k: keyof LabPercentiles) => stat(list.map((p) => p[k]));
  return { p50: of('p50'), p90: of('p90'), p99: of('p99'), p999: of('p999'), max: of('max') };
}

/** Medians and spreads over the trials of one mode. */
export function aggregateTrials(trials: LabTrial[]): LabModeMetrics {
  const of = (f: (t: LabTrial) => number) => stat(trials.map(f));
  const syscalls = trials.map((t) => t.syscallUs);
  const metrics: LabModeMetrics = {
    syscallUs: syscalls.every((s) => s !== null) ? latency(syscalls as LabPercentiles[]) : null,
    callbackUs: latency(trials.map((t) => t.callbackUs)),
    eventLoopDelayP99Us: of((t) => t.eventLoopDelayP99Us),
    throughputMBps: of((t) => t.throughputMBps),
    cpuMs: of((t) => t.cpuMs),
    syncMs: of((t) => t.syncMs),
    residencyPct: of((t) => t.residencyPct),
    peakDirtyMiB: of((t) => t.peakDirtyMiB),
    peakWritebackMiB: of((t) => t.peakWritebackMiB),
    peakCachedMiB: of((t) => t.peakCachedMiB),
  };
  const neighbours = trials.map((t) => t.neighbour).filter((n) => n !== undefined);
  if (neighbours.length === trials.length && trials.length > 0) {
    metrics.neighbourThroughputMBps = stat(neighbours.map((n) => n.throughputMBps));
    if (neighbours.every((n) => n.syscallUs)) metrics.neighbourSyscallP999Us = stat(neighbours.map((n) => n.syscallUs!.p999));
  }
  return metrics;
}

/** Point-wise median of the trials' latency curves (same fractions in each). */
export function medianCurve(curves: LatencyOutcome['curve'][]): [number, number][] {
  if (curves.length === 0) return [];
  return curves[0].map(([fraction], i) => [fraction, stat(curves.map((c) => c[i]?.[1] ?? 0)).median]);
}
