/**
 * The latency lab's report, as `dontcache bench --json` writes it. Versioned: a
 * field's meaning never changes within one `version`; new optional fields may appear.
 * The JSON Schema of the same shape is `LAB_REPORT_SCHEMA` (src/lab/schema.ts).
 */

/** Bumped when a field is removed or changes meaning. */
export const LAB_REPORT_VERSION = 1;

export const SCENARIO_NAMES = ['seq-write', 'small-write', 'rand-write', 'stream', 'many-files', 'noisy-neighbour', 'temp-file', 'memcg', 'sustained', 'threadpool-neighbour'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** What runs without `scenarios`: all but `sustained` (sized past the dirty limits: minutes; `--sustained` adds it). */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIO_NAMES.filter((name) => name !== 'sustained');

export const MODE_NAMES = ['buffered', 'dontcache', 'writeback', 'auto', 'direct', 'inline-model'] as const;
export type ModeName = (typeof MODE_NAMES)[number];

/**
 * Modes that are references for the verdict, not ways to write: `inline-model` is the inline flush
 * done in userspace (a buffered pwritev2, then sync_file_range(SYNC_FILE_RANGE_WRITE) of the range
 * just written, timed together), what an inline-flush kernel does inside a dontcache write.
 */
export const REFERENCE_MODES: readonly ModeName[] = ['inline-model'];

/**
 * The scenarios the writeback verdict reads: one writer, small blocks (where per-write writeback
 * submission shows at p50), nothing else running. The reference modes run only there.
 */
export const VERDICT_SCENARIOS: readonly ScenarioName[] = ['small-write', 'rand-write'];

/** A figure over the trials: the median and the spread (smallest, largest). */
export interface LabStat {
  median: number;
  min: number;
  max: number;
}

/** Latency percentiles in microseconds, each as median and spread over the trials. */
export interface LabLatency {
  p50: LabStat;
  p90: LabStat;
  p99: LabStat;
  p999: LabStat;
  max: LabStat;
}

/** What one trial of one mode measured (the medians in {@link LabModeMetrics} come from these). */
export interface LabTrial {
  /** Per-write syscall latency, µs, measured on the worker thread (null where the API hides it, e.g. fs.createWriteStream). */
  syscallUs: LabPercentiles | null;
  /** Per-write latency as the writing JavaScript sees it (call to callback), µs. */
  callbackUs: LabPercentiles;
  eventLoopDelayP99Us: number;
  /** Bytes written per second of the write phase (without the final fdatasync), MB/s (10^6). */
  throughputMBps: number;
  /** Writer process CPU time (user + system, all threads) during the write phase, ms. */
  cpuMs: number;
  /** The final fdatasync of the written files, ms. */
  syncMs: number;
  /** Percent of the written pages still in the page cache after the final fdatasync (cachestat). */
  residencyPct: number;
  /** Peak growth over the trial of /proc/meminfo Dirty, Writeback and Cached, MiB. */
  peakDirtyMiB: number;
  peakWritebackMiB: number;
  peakCachedMiB: number;
  /** The noisy neighbour / temp-file churner running at the same time, where there is one. */
  neighbour?: LabNeighbourTrial;
}

/** One set of percentiles, µs. */
export interface LabPercentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LabNeighbourTrial {
  /** What the neighbour did, e.g. "buffered seq-write 1 MiB blocks". */
  role: string;
  throughputMBps: number;
  syscallUs: LabPercentiles | null;
}

/** Medians and spreads of one mode in one scenario. */
export interface LabModeMetrics {
  syscallUs: LabLatency | null;
  callbackUs: LabLatency;
  eventLoopDelayP99Us: LabStat;
  throughputMBps: LabStat;
  cpuMs: LabStat;
  syncMs: LabStat;
  residencyPct: LabStat;
  peakDirtyMiB: LabStat;
  peakWritebackMiB: LabStat;
  peakCachedMiB: LabStat;
  neighbourThroughputMBps?: LabStat;
  neighbourSyscallP999Us?: LabStat;
}

export interface LabModeResult {
  mode: ModeName;
  /** How this mode writes in this scenario, e.g. "pwritev2 RWF_DONTCACHE" or "fs.createWriteStream". */
  implementation: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why the mode failed (the first failing trial's error) or was skipped. */
  reason?: string;
  /** The write stream's strategy, for `auto` (what 'auto' resolved to). */
  strategy?: string;
  metrics?: LabModeMetrics;
  /** Latency percentile curves, [fraction, µs] points, point-wise median over the trials (for plots). */
  curves?: { syscallUs: [number, number][] | null; callbackUs: [number, number][] };
  trials: LabTrial[];
}

export interface LabScenarioResult {
  name: ScenarioName;
  description: string;
  status: 'ok' | 'skipped';
  reason?: string;
  /** Workload parameters: block size, bytes per file, files, limits. */
  params: Record<string, number | string>;
  modes: LabModeResult[];
}

/** The probe's findings, as the verdict used them. */
export interface LabProbe {
  kernel: string;
  fsType: string;
  dontcacheWrite: boolean;
  dontcacheRead: boolean;
  refusedWith?: string;
  writeback: 'inline-flush' | 'flusher-kick' | 'unsupported' | 'unknown';
  /**
   * Whether dontcache overwrites of data on disk leave the page cache here (false: they
   * stay cached, as on ext4 up to at least 7.2, which is why a dontcache rand-write shows
   * its pages cached); null when unknown. Absent from reports of versions before it.
   */
  overwriteDropped?: boolean | null;
  /** The overwrite trial's figures, in words. */
  overwriteEvidence?: string;
  evidence: string[];
  verdictReason: string;
}

export interface LabVerdict {
  /** The probe's writeback behaviour. */
  writeback: LabProbe['writeback'];
  /**
   * The behaviour the measurements show on their own, without the probe: where dontcache's writes sit
   * between buffered and the inline-flush model of the same run ({@link LabVerdict.calibration},
   * {@link LabVerdict.placement}), or 'unsupported' when every dontcache mode was refused. 'inconclusive'
   * when the figures were there but could not tell (too few trials, references too close, trials on both
   * sides, or scenarios deciding different things). null when the figures it needs were not measured.
   */
  measured?: LabProbe['writeback'] | 'inconclusive' | null;
  /**
   * Do the measurements agree with the probe? null when they cannot say: `measured` inconclusive or
   * null, or the probe could not tell.
   */
  agrees: boolean | null;
  /** What the agreement check looked at. */
  reason: string;
  /** dontcache / buffered and writeback / buffered ratios of median syscall p50 and p99.9 (per scenario). */
  ratios: LabRatio[];
  /** What was not measured in this run (scenarios skipped, modes not run or failed), one sentence each. */
  notMeasured?: string[];
  /** One sentence: what to pick here, from what ran. */
  advice: string;
  /**
   * Where dontcache's writes sit between the two references measured in the same run, per scenario the
   * verdict reads (small-write, rand-write): buffered (the writer does not pay for writeback) and the
   * inline-flush model (it does). `measured` comes from these.
   */
  calibration?: LabCalibration[];
  /** The sign test of every calibrated trial together, the one `measured` comes from. */
  placement?: LabSignTest;
}

/**
 * A two-sided sign test of trial positions against the midpoint between buffered (0) and the inline-flush
 * model (1): how many trials fell nearer each, and the chance of a split at least this lopsided if
 * dontcache sat exactly midway.
 */
export interface LabSignTest {
  /** Trials placed. */
  trials: number;
  nearerBuffered: number;
  nearerModel: number;
  pValue: number;
}

/**
 * dontcache's syscall p50 against buffered's and the inline-flush model's in one scenario, trial by
 * trial (the modes run interleaved, so trial i of each ran side by side). Distances are factors on a
 * log scale: 3x means a factor of 3 either way.
 */
export interface LabCalibration {
  scenario: ScenarioName;
  /** Per-trial syscall p50, µs, in trial order. */
  bufferedP50Us: number[];
  dontcacheP50Us: number[];
  modelP50Us: number[];
  /** dontcache's distance to buffered per trial, as a factor (max(d/b, b/d)): median and spread. */
  toBuffered: LabStat;
  /** dontcache's distance to the inline-flush model per trial, as a factor: median and spread. */
  toModel: LabStat;
  /**
   * Where dontcache sits on the log scale from buffered (0) to the model (1), per trial, in trial order
   * (below 0 it is faster than buffered, above 1 slower than the model). Below 0.5: nearer buffered.
   */
  position: number[];
  /** The sign test of this scenario's positions. */
  test: LabSignTest;
  /** What this scenario says on its own: a behaviour only when its sign test is significant (p <= 0.05). */
  says: 'inline-flush' | 'flusher-kick' | 'inconclusive';
  /** One sentence with the figures and why. */
  text: string;
}

/**
 * Whether a run's writes stayed under the kernel's dirty limits (buffered writes then land in memory
 * and never wait for the disk) or went past them (the writer is throttled: the regime the kernel
 * developers measured).
 */
export interface LabRegime {
  kind: 'in-memory' | 'past-dirty-limits';
  /** The scenario the regime was judged on (the sustained one when it ran, else the biggest writer). */
  scenario: ScenarioName;
  /** Bytes that scenario wrote per trial, MiB. */
  writtenMiB: number;
  /** The kernel's dirty limits when the run started, MiB (vm.dirty_* of the dirtyable memory). */
  dirtyLimitMiB: number;
  backgroundLimitMiB: number;
  /** Peak Dirty growth of its buffered mode (median over trials), MiB, when buffered ran. */
  bufferedPeakDirtyMiB?: number;
  /** One sentence. */
  text: string;
}

export interface LabRatio {
  scenario: ScenarioName;
  mode: ModeName;
  /** Which latency the ratios compare: syscall where both modes have it, else write callback. */
  basis: 'syscall' | 'callback';
  /** Against buffered: mode p50 / buffered p50. */
  p50: number;
  p999: number;
  throughput: number;
}

export interface LabReport {
  schema: 'dontcache-lab-report';
  version: typeof LAB_REPORT_VERSION;
  createdAt: string;
  /** Wall time of the whole run, seconds. */
  durationS: number;
  machine: { kernel: string; cpus: number; memoryBytes: number; node: string; uid: number };
  dir: string;
  options: {
    sizeBytes: number;
    trials: number;
    warmup: boolean;
    scenarios: ScenarioName[];
    modes: ModeName[];
    full: boolean;
    dropCaches: boolean;
    /** The sustained scenario was asked for (`--sustained`). */
    sustained?: boolean;
  };
  probe: LabProbe | null;
  scenarios: LabScenarioResult[];
  /** Under or past the dirty limits: see {@link LabRegime}. */
  regime?: LabRegime;
  verdict: LabVerdict;
  /** Set when the run stopped early (SIGINT): the report holds what finished. */
  interrupted?: boolean;
}
