/**
 * Latency percentiles in constant memory: Node's own HDR histogram
 * (perf_hooks.createHistogram), with exact count, mean and max beside it.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Percentiles of recorded latencies, in microseconds (0 when nothing was recorded). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  /** The 99.9th percentile. */
  p999: number;
  max: number;
}

// createHistogram records integers >= 1, so samples go in as nanoseconds: sub-microsecond
// latencies keep their precision. Two significant figures put 128 buckets in each power
// of two (percentiles within 1/128 = 0.8%); up to an hour that is 4,608 counters (36 KiB
// per histogram). Longer samples are counted at an hour; max stays exact.
const NS_PER_US = 1000;
const HIGHEST_NS = 3600 * 1e9;
const FIGURES = 2;

/** Records latencies in microseconds and summarises them as percentiles. */
export class LatencyHistogram {
  private readonly histogram: RecordableHistogram = createHistogram({ lowest: 1, highest: HIGHEST_NS, figures: FIGURES });
  private sum = 0;
  private largest = 0;

  /** Adds one sample of `us` microseconds (negative or NaN samples count as 0). */
  record(us: number): void {
    const value = us > 0 ? us : 0;
    this.histogram.record(Math.min(Math.max(Math.round(value * NS_PER_US), 1), HIGHEST_NS));
    this.sum += value;
    if (value > this.largest) this.largest = value;
  }

  /** Adds every sample of `other` to this histogram. */
  merge(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
    this.sum += other.sum;
    if (other.largest > this.largest) this.largest = other.largest;
  }

  /** Forgets every sample. */
  reset(): void {
    this.histogram.reset();
    this.sum = 0;
    this.largest = 0;
  }

  /** Samples recorded so far. */
  get count(): number {
    return this.histogram.count;
  }

  /**
   * The latency below which `fraction` (0..1) of the samples fall, in microseconds: the
   * upper end of the bucket holding the sample of that rank, never above the max.
   */
  percentile(fraction: number): number {
    const total = this.count;
    if (total === 0) return 0;
    const rank = Math.max(1, Math.ceil(Math.min(Math.max(fraction, 0), 1) * total));
    // The top-ranked sample is the max, known exactly.
    if (rank >= total) return this.largest;
    // Node's percentile takes (0, 100] and rounds the rank it gives to the nearest
    // integer: asking for exactly our rank's percentile keeps ours (ceil, nearest rank).
    const ns = this.histogram.percentile((rank / total) * 100);
    return Math.min(ns / NS_PER_US, this.largest);
  }

  /** count, mean, p50, p90, p99, p99.9 and max, in microseconds. */
  summary(): LatencySummary {
    const count = this.count;
    return {
      count,
      mean: count === 0 ? 0 : this.sum / count,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.largest,
    };
  }
}
