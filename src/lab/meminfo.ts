import fs from 'node:fs';

/** The /proc/meminfo fields the lab watches, in bytes. */
export interface MemSample {
  dirty: number;
  writeback: number;
  cached: number;
}

const FIELDS: Record<string, keyof MemSample> = { Dirty: 'dirty', Writeback: 'writeback', Cached: 'cached' };

/** Reads Dirty, Writeback and Cached from /proc/meminfo (zeros where there is none). */
export function readMeminfo(text: string = readText()): MemSample {
  const sample: MemSample = { dirty: 0, writeback: 0, cached: 0 };
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    const field = match && FIELDS[match[1]];
    if (field) sample[field] = Number(match[2]) * 1024;
  }
  return sample;
}

function readText(): string {
  try {
    return fs.readFileSync('/proc/meminfo', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Samples /proc/meminfo every `intervalMs` from `start()` until `stop()`, which
 * returns the peak growth of each field over the first sample. Machine-wide numbers:
 * other processes' writes show up too, which is why trials are repeated.
 */
export class MeminfoPeaks {
  private base: MemSample = readMeminfo();
  private peak: MemSample = { ...this.base };
  private timer?: NodeJS.Timeout;

  constructor(private readonly intervalMs = 20) {}

  start(): void {
    this.base = readMeminfo();
    this.peak = { ...this.base };
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const now = readMeminfo();
    for (const key of Object.keys(now) as (keyof MemSample)[]) this.peak[key] = Math.max(this.peak[key], now[key]);
  }

  /** Stops sampling; peak minus start of each field, bytes (never negative). */
  stop(): MemSample {
    clearInterval(this.timer);
    this.sample();
    return {
      dirty: Math.max(0, this.peak.dirty - this.base.dirty),
      writeback: Math.max(0, this.peak.writeback - this.base.writeback),
      cached: Math.max(0, this.peak.cached - this.base.cached),
    };
  }
}
