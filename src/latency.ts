/**
 * A small latency histogram: constant memory whatever the number of samples,
 * percentiles within about 1.6% of the true value (64 sub-buckets per power of two,
 * the HDR histogram layout), exact count, mean and max.
 */

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

// Values below SUB_BUCKETS microseconds get one bucket per microsecond; above, each
// power of two [2^e, 2^(e+1)) is cut into SUB_BUCKETS equal buckets.
const SUB_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BITS;
// Up to 2^52 us (about 140 years): anything larger lands in the last bucket.
const MAX_EXPONENT = 52;
const BUCKETS = SUB_BUCKETS + (MAX_EXPONENT - SUB_BITS + 1) * SUB_BUCKETS;

function bucketOf(us: number): number {
  if (us < SUB_BUCKETS) return Math.floor(us);
  const exponent = Math.min(Math.floor(Math.log2(us)), MAX_EXPONENT);
  const width = 2 ** (exponent - SUB_BITS);
  const sub = Math.min(Math.floor(us / width) - SUB_BUCKETS, SUB_BUCKETS - 1);
  return SUB_BUCKETS + (exponent - SUB_BITS) * SUB_BUCKETS + sub;
}

/** The middle of a bucket's value range: what a percentile in that bucket reports. */
function valueOf(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket + 0.5;
  const exponent = Math.floor((bucket - SUB_BUCKETS) / SUB_BUCKETS) + SUB_BITS;
  const sub = (bucket - SUB_BUCKETS) % SUB_BUCKETS;
  const width = 2 ** (exponent - SUB_BITS);
  return (SUB_BUCKETS + sub + 0.5) * width;
}

/** Records latencies in microseconds and summarises them as percentiles. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sum = 0;
  private largest = 0;

  /** Adds one sample of `us` microseconds (negative or NaN samples count as 0). */
  record(us: number): void {
    const value = us > 0 ? us : 0;
    this.counts[bucketOf(value)]++;
    this.total++;
    this.sum += value;
    if (value > this.largest) this.largest = value;
  }

  /** Adds every sample of `other` to this histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    this.sum += other.sum;
    if (other.largest > this.largest) this.largest = other.largest;
  }

  /** Forgets every sample. */
  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
    this.largest = 0;
  }

  /** Samples recorded so far. */
  get count(): number {
    return this.total;
  }

  /** The latency below which `fraction` (0..1) of the samples fall, in microseconds. */
  percentile(fraction: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(Math.min(Math.max(fraction, 0), 1) * this.total));
    // The top-ranked sample is the max, known exactly.
    if (rank >= this.total) return this.largest;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(valueOf(i), this.largest);
    }
    return this.largest;
  }

  /** count, mean, p50, p90, p99, p99.9 and max, in microseconds. */
  summary(): LatencySummary {
    return {
      count: this.total,
      mean: this.total === 0 ? 0 : this.sum / this.total,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.largest,
    };
  }
}
