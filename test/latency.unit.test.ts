import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/latency';

/** The exact percentile by sorting, as the histogram defines it (nearest rank). */
function exact(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(fraction * sorted.length)) - 1];
}

describe('LatencyHistogram', () => {
  it('summarises nothing as zeros', () => {
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });

  it('matches exact percentiles within 0.8%, never below them, over six decades', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = Array.from({ length: 20000 }, () => 10 ** (random() * 6));
    const h = new LatencyHistogram();
    values.forEach((v) => h.record(v));
    const s = h.summary();
    expect(s.count).toBe(values.length);
    expect(s.max).toBe(Math.max(...values));
    expect(s.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
    for (const [key, fraction] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99], ['p999', 0.999]] as const) {
      const want = exact(values, fraction);
      expect(s[key]).toBeGreaterThanOrEqual(want - 0.0005); // recorded in whole nanoseconds
      expect((s[key] - want) / want).toBeLessThan(0.008);
    }
  });

  it('finds a rare tail: one slow sample in a thousand is the p99.9, never above max', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 999; i++) h.record(5);
    h.record(90_000);
    const s = h.summary();
    expect(s.p50).toBeGreaterThanOrEqual(5);
    expect(s.p50).toBeLessThan(6);
    expect(s.p99).toBeLessThan(6);
    expect(s.p999).toBeLessThan(6);
    expect(h.percentile(1)).toBe(90_000);
    h.record(90_000);
    expect(h.summary().p999).toBeGreaterThan(88_000);
    expect(h.summary().p999).toBeLessThanOrEqual(90_000);
  });

  it('counts negative and NaN samples as zero, and huge ones in the last bucket', () => {
    const h = new LatencyHistogram();
    h.record(-3);
    h.record(Number.NaN);
    h.record(2 ** 60);
    expect(h.count).toBe(3);
    expect(h.percentile(0.5)).toBeLessThan(1);
    expect(h.summary().max).toBe(2 ** 60);
  });

  it('keeps sub-microsecond precision and counts samples past an hour at an hour', () => {
    const h = new LatencyHistogram();
    for (const us of [0.25, 0.5, 0.75, 1.5]) h.record(us);
    expect(h.percentile(0.25)).toBeCloseTo(0.25, 3);
    expect(h.percentile(0.5)).toBeCloseTo(0.5, 2);
    expect(h.percentile(0.75)).toBeCloseTo(0.75, 2);
    h.record(7200e6);
    h.record(7200e6);
    expect(h.count).toBe(6);
    expect(h.summary().max).toBe(7200e6);
    expect(h.percentile(0.8)).toBeGreaterThanOrEqual(3600e6);
    expect(h.percentile(0.8)).toBeLessThan(3600e6 * 1.008);
  });

  it('merges and resets', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) (i % 2 ? a : b).record(i * 10);
    a.merge(b);
    expect(a.count).toBe(100);
    expect(a.summary().max).toBe(1000);
    expect(Math.abs(a.percentile(0.5) - 500) / 500).toBeLessThan(0.008);
    a.reset();
    expect(a.summary().count).toBe(0);
  });
});
