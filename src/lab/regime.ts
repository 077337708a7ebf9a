/**
 * The kernel's dirty limits, the size of the sustained scenario, and the regime a run
 * was in. Under the dirty limits buffered writes land in memory and never wait for the
 * disk, which hides what the kernel developers measured (writers throttled in
 * balance_dirty_pages); past them, buffered writers are throttled.
 */
import fs from 'node:fs';
import type { LabRegime, LabScenarioResult, ScenarioName } from './report-types';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The global dirty limits, bytes, as mm/page-writeback.c derives them (without memory cgroups). */
export interface DirtyLimits {
  /** Above this much dirty memory writers block in balance_dirty_pages (vm.dirty_bytes or dirty_ratio). */
  dirtyBytes: number;
  /** Above this the flusher starts background writeback (vm.dirty_background_*). */
  backgroundBytes: number;
  /** Memory the ratios apply to: free pages plus the file LRU lists. */
  dirtyableBytes: number;
}

type Reader = (file: string) => string;
const readProc: Reader = (file) => fs.readFileSync(file, 'utf8');

/** Reads the limits from /proc (or `read`, for tests). */
export function dirtyLimits(read: Reader = readProc): DirtyLimits {
  const meminfo = read('/proc/meminfo');
  const kb = (field: string) => Number(new RegExp(`^${field.replace(/[()]/g, '\\$&')}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  const dirtyable = kb('MemFree') + kb('Active(file)') + kb('Inactive(file)');
  const vm = (name: string) => {
    try {
      return Number(read(`/proc/sys/vm/${name}`).trim()) || 0;
    } catch {
      return 0;
    }
  };
  // A *_bytes setting, when non-zero, replaces its ratio (sysctl vm.txt).
  const limit = (bytes: string, ratio: string, fallbackPct: number) => vm(bytes) || (dirtyable * (vm(ratio) || fallbackPct)) / 100;
  return { dirtyBytes: limit('dirty_bytes', 'dirty_ratio', 20), backgroundBytes: limit('dirty_background_bytes', 'dirty_background_ratio', 10), dirtyableBytes: dirtyable };
}

/** Free bytes of the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Bytes the sustained scenario writes: twice the dirty limit (so buffered writes spend
 * most of the trial throttled), at least 1 GiB, at most half the free space of `dir`
 * (one file exists at a time), whole MiB.
 */
export function sustainedBytes(limits: DirtyLimits, free: number): number {
  const wanted = Math.max(GiB, 2 * limits.dirtyBytes);
  return Math.max(MiB, Math.floor(Math.min(wanted, free / 2) / MiB) * MiB);
}

const size = (bytes: number) => (bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`);

/** Bytes one trial of `scenario` wrote (all files), from its params. */
function writtenBytes(s: LabScenarioResult): number {
  const p = s.params;
  const num = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : 0);
  return num('bytes') || num('bytesPerFile') * (num('files') || 1);
}

/** Which regime the run was in: judged on the sustained scenario when it ran, else on the biggest writer. */
export function labRegime(scenarios: LabScenarioResult[], limits: DirtyLimits): LabRegime | undefined {
  const ran = scenarios.filter((s) => s.status === 'ok' && s.modes.some((m) => m.status === 'ok'));
  if (ran.length === 0) return undefined;
  const sustained = ran.find((s) => s.name === 'sustained');
  const judged = sustained ?? ran.reduce((a, b) => (writtenBytes(b) > writtenBytes(a) ? b : a));
  const written = writtenBytes(judged);
  const past = written > limits.dirtyBytes;
  const buffered = judged.modes.find((m) => m.mode === 'buffered' && m.status === 'ok' && m.metrics)?.metrics?.peakDirtyMiB.median;
  const limitsText = `dirty limit ${size(limits.dirtyBytes)}, background ${size(limits.backgroundBytes)}`;
  const seen = buffered !== undefined ? `; buffered peak Dirty +${size(buffered * MiB)}` : '';
  const text = past
    ? `${judged.name} wrote ${size(written)} per trial, past the ${limitsText}: buffered writers were throttled by the kernel${seen}`
    : `${judged.name} wrote ${size(written)} per trial, under the ${limitsText}: buffered writes stayed in memory and never waited for the disk${seen}${sustained ? '' : '; add --sustained for the throttled regime'}`;
  const regime: LabRegime = {
    kind: past ? 'past-dirty-limits' : 'in-memory',
    scenario: judged.name as ScenarioName,
    writtenMiB: written / MiB,
    dirtyLimitMiB: limits.dirtyBytes / MiB,
    backgroundLimitMiB: limits.backgroundBytes / MiB,
    text,
  };
  if (buffered !== undefined) regime.bufferedPeakDirtyMiB = buffered;
  return regime;
}
