/**
 * When each queued chunk of a write stream was handed to `write()`, kept in order:
 * chunks land in the order they were queued, so a batch that lands records the
 * latencies of the oldest chunks. One clock read per chunk and one per batch, and no
 * closure per chunk, where wrapping every callback cost both.
 */
import { performance } from 'node:perf_hooks';
import type { LatencyHistogram } from './latency';

export class ChunkClock {
  // A ring of performance.now() readings, grown by doubling: it holds one entry per
  // chunk queued and not yet landed (bounded by the stream's backpressure unless its
  // user ignores it, and then the chunks themselves weigh far more).
  private times = new Float64Array(64);
  private head = 0;
  private size = 0;

  constructor(private readonly latency: LatencyHistogram) {}

  /** A chunk was queued now. */
  queued(): void {
    if (this.size === this.times.length) this.grow();
    this.times[(this.head + this.size) % this.times.length] = performance.now();
    this.size++;
  }

  /** Takes back the last {@link queued} (the write threw before queueing its chunk). */
  unqueue(): void {
    if (this.size > 0) this.size--;
  }

  /** The oldest `count` chunks are done: their latencies are recorded when `written`, else only forgotten. */
  landed(count: number, written: boolean): void {
    const now = written ? performance.now() : 0;
    for (let n = Math.min(count, this.size); n > 0; n--) {
      if (written) this.latency.record((now - this.times[this.head]) * 1000);
      this.head = (this.head + 1) % this.times.length;
      this.size--;
    }
  }

  private grow(): void {
    const next = new Float64Array(this.times.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = this.times[(this.head + i) % this.times.length];
    this.times = next;
    this.head = 0;
  }
}
