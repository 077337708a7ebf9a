/**
 * The lab's scenarios (issue 5, after the kernel developers' workloads in
 * kernel.md): what each one writes, which modes make sense in it, and the plan of
 * one trial of one mode.
 */
import path from 'node:path';
import { memcgUnavailableReason } from './memcg';
import { REFERENCE_MODES, VERDICT_SCENARIOS, type ModeName, type ScenarioName } from './report-types';
import type { TrialPlan } from './trial';
import type { WriterApi, WriterJob } from './job-types';
import { THREADPOOL_NEIGHBOUR } from './threadpool-neighbour';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Sizes a run works with. */
export interface LabProfile {
  /** The scenario size unit (seq-write writes this much). */
  sizeBytes: number;
  full: boolean;
  /** Userspace writeback window. */
  windowBytes: number;
  /** What the sustained scenario writes (past the dirty limits), with the limits it was sized from. */
  sustained?: { bytes: number; dirtyLimitBytes: number; backgroundLimitBytes: number };
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  /** Why the scenario cannot run here (memcg without root), or undefined. */
  unavailable(): string | undefined;
  /** Why `mode` does not apply to this scenario, or undefined. */
  skipMode(mode: ModeName): string | undefined;
  /** How `mode` writes here, for the report. */
  implementation(mode: ModeName): string;
  params(profile: LabProfile): Record<string, number | string>;
  /** The trial of `mode`, writing under `dir`. */
  plan(mode: ModeName, dir: string, profile: LabProfile): TrialPlan;
}

const RAW_IMPLEMENTATION: Record<ModeName, string> = {
  buffered: 'pwritev2, flags 0',
  dontcache: 'pwritev2, RWF_DONTCACHE',
  writeback: 'pwritev2 + sync_file_range/fadvise window',
  auto: "DontcacheWriteStream, cache 'auto'",
  direct: 'pwritev2, O_DIRECT, aligned buffers',
  'inline-model': 'pwritev2, flags 0, then sync_file_range(SYNC_FILE_RANGE_WRITE) of the range written, timed together',
};

const REFERENCE_ONLY_THERE = `a reference for the writeback verdict: runs in ${VERDICT_SCENARIOS.join(' and ')} only`;

/** Skips the reference modes outside the verdict's scenarios. */
function withReferences(s: Scenario): Scenario {
  return { ...s, skipMode: (mode) => (REFERENCE_MODES.includes(mode) && !VERDICT_SCENARIOS.includes(s.name) ? REFERENCE_ONLY_THERE : s.skipMode(mode)) };
}

const STREAM_IMPLEMENTATION: Partial<Record<ModeName, string>> = {
  buffered: 'fs.createWriteStream (Node)',
  dontcache: "DontcacheWriteStream, cache 'dontcache'",
  writeback: "DontcacheWriteStream, cache 'writeback'",
  auto: "DontcacheWriteStream, cache 'auto'",
};

/** Sequential modes write through the stream for 'auto' (the stream's own choice). */
function apiFor(mode: ModeName): WriterApi {
  return mode === 'auto' ? 'stream' : 'pwritev2';
}

function writer(mode: ModeName, files: string[], bytesPerFile: number, blockSize: number, profile: LabProfile, extra: Partial<WriterJob> = {}): WriterJob {
  return {
    kind: 'writer',
    mode,
    api: apiFor(mode),
    files,
    bytesPerFile,
    blockSize,
    pattern: 'seq',
    fileSize: bytesPerFile,
    pipelined: false,
    keepFiles: false,
    windowBytes: profile.windowBytes,
    ...extra,
  };
}

const file = (dir: string, name: string) => path.join(dir, name);
const floorTo = (n: number, unit: number) => Math.max(unit, Math.floor(n / unit) * unit);

const rawScenario = {
  unavailable: () => undefined,
  skipMode: () => undefined,
  implementation: (mode: ModeName) => RAW_IMPLEMENTATION[mode],
};

function manyFilesCount(profile: LabProfile): number {
  return profile.full ? 32 : 8;
}

function tempFileBytes(profile: LabProfile): number {
  return Math.min(GiB, Math.max(16 * MiB, floorTo(profile.sizeBytes * 4, MiB)));
}

function memcgLimit(profile: LabProfile): number {
  return Math.max(16 * MiB, floorTo(profile.sizeBytes / 4, MiB));
}

export const SCENARIOS: readonly Scenario[] = ([
  {
    ...rawScenario,
    name: 'seq-write',
    description: 'one writer, 1 MiB blocks, sequential',
    params: (p) => ({ blockSize: MiB, bytes: floorTo(p.sizeBytes, MiB), files: 1 }),
    plan: (mode, dir, p) => ({ main: writer(mode, [file(dir, `seq-${mode}`)], floorTo(p.sizeBytes, MiB), MiB, p) }),
  },
  {
    ...rawScenario,
    name: 'small-write',
    description: 'one writer, 16 KiB blocks, sequential (where per-write writeback submission shows)',
    params: (p) => ({ blockSize: 16 * KiB, bytes: floorTo(p.sizeBytes / 4, MiB), files: 1 }),
    plan: (mode, dir, p) => ({ main: writer(mode, [file(dir, `small-${mode}`)], floorTo(p.sizeBytes / 4, MiB), 16 * KiB, p) }),
  },
  {
    ...rawScenario,
    name: 'rand-write',
    description: '4 KiB blocks at distinct random offsets of a preallocated file',
    skipMode: (mode) => (mode === 'auto' ? 'the write stream writes sequentially' : undefined),
    params: (p) => ({ blockSize: 4 * KiB, fileSize: floorTo(p.sizeBytes, MiB), bytes: floorTo(p.sizeBytes / 8, MiB), files: 1 }),
    plan: (mode, dir, p) => ({
      main: writer(mode, [file(dir, 'rand-file')], floorTo(p.sizeBytes / 8, MiB), 4 * KiB, p, {
        pattern: 'rand',
        fileSize: floorTo(p.sizeBytes, MiB),
        keepFiles: true,
      }),
    }),
  },
  {
    name: 'stream',
    description: '16 KiB writes through DontcacheWriteStream vs fs.createWriteStream, as fast as the stream accepts',
    unavailable: () => undefined,
    skipMode: (mode) => (mode === 'direct' ? 'the streams have no O_DIRECT mode' : undefined),
    implementation: (mode) => STREAM_IMPLEMENTATION[mode] ?? RAW_IMPLEMENTATION[mode],
    params: (p) => ({ blockSize: 16 * KiB, bytes: floorTo(p.sizeBytes / 2, MiB), files: 1 }),
    plan: (mode, dir, p) => ({
      main: writer(mode, [file(dir, `stream-${mode}`)], floorTo(p.sizeBytes / 2, MiB), 16 * KiB, p, {
        api: mode === 'buffered' ? 'node-fs' : 'stream',
        pipelined: true,
      }),
    }),
  },
  {
    ...rawScenario,
    name: 'many-files',
    description: 'N files written at once in 64 KiB blocks',
    params: (p) => ({ blockSize: 64 * KiB, files: manyFilesCount(p), bytesPerFile: floorTo(p.sizeBytes / manyFilesCount(p), 64 * KiB) }),
    plan: (mode, dir, p) => {
      const n = manyFilesCount(p);
      const files = Array.from({ length: n }, (_, i) => file(dir, `many-${mode}-${i}`));
      return { main: writer(mode, files, floorTo(p.sizeBytes / n, 64 * KiB), 64 * KiB, p) };
    },
  },
  {
    ...rawScenario,
    name: 'noisy-neighbour',
    description: 'two processes at once: the mode under test, and a buffered writer next to it (1 MiB blocks each)',
    params: (p) => ({ blockSize: MiB, bytes: floorTo(p.sizeBytes, MiB), neighbour: 'buffered seq-write, same size' }),
    plan: (mode, dir, p) => ({
      main: writer(mode, [file(dir, `noisy-${mode}`)], floorTo(p.sizeBytes, MiB), MiB, p),
      companion: writer('buffered', [file(dir, `noisy-neighbour-of-${mode}`)], floorTo(p.sizeBytes, MiB), MiB, p),
    }),
  },
  {
    ...rawScenario,
    name: 'temp-file',
    description: 'small (16 KiB) writes while another process creates and deletes big temporary files',
    params: (p) => ({ blockSize: 16 * KiB, bytes: floorTo(p.sizeBytes / 4, MiB), tempFileBytes: tempFileBytes(p) }),
    plan: (mode, dir, p) => ({
      main: writer(mode, [file(dir, `temp-writer-${mode}`)], floorTo(p.sizeBytes / 4, MiB), 16 * KiB, p),
      companion: { kind: 'churn', dir, fileBytes: tempFileBytes(p), blockSize: MiB },
    }),
  },
  {
    ...rawScenario,
    name: 'memcg',
    description: 'one writer (1 MiB blocks) inside a memory cgroup with a small limit',
    unavailable: memcgUnavailableReason,
    params: (p) => ({ blockSize: MiB, bytes: floorTo(p.sizeBytes, MiB), memoryLimit: memcgLimit(p) }),
    plan: (mode, dir, p) => ({
      main: writer(mode, [file(dir, `memcg-${mode}`)], floorTo(p.sizeBytes, MiB), MiB, p),
      memcgLimitBytes: memcgLimit(p),
    }),
  },
  {
    ...rawScenario,
    name: 'sustained',
    description: 'one writer, 1 MiB blocks, sequential, sized past the dirty limits (buffered writers get throttled)',
    params: (p) => ({
      blockSize: MiB,
      bytes: sustainedOf(p).bytes,
      files: 1,
      dirtyLimit: floorTo(sustainedOf(p).dirtyLimitBytes, MiB),
      backgroundLimit: floorTo(sustainedOf(p).backgroundLimitBytes, MiB),
    }),
    plan: (mode, dir, p) => ({ main: writer(mode, [file(dir, `sustained-${mode}`)], sustainedOf(p).bytes, MiB, p) }),
  },
  THREADPOOL_NEIGHBOUR,
] satisfies Scenario[]).map(withReferences);

function sustainedOf(p: LabProfile): NonNullable<LabProfile['sustained']> {
  if (!p.sustained) throw new Error('the sustained scenario needs its size (runLab sizes it from the dirty limits)');
  return p.sustained;
}

/** The scenario called `name`. */
export function scenarioByName(name: ScenarioName): Scenario {
  const found = SCENARIOS.find((s) => s.name === name);
  if (!found) throw new Error(`unknown scenario ${name}`);
  return found;
}
