/**
 * The in-process neighbour of the threadpool-neighbour scenario (runs in the writer's
 * worker process, and in bench:stream): a small file read in a loop with
 * `fs.promises.readFile`, one call at a time. Each call needs libuv threadpool threads
 * (open, fstat, read, close), as dns, crypto and zlib work does.
 */
import fs from 'node:fs';
import { LatencyHistogram } from '../latency';
import { SMALL_FILE_BYTES } from './threadpool-neighbour';

/** What the read loop did while the writer wrote. */
export interface ReadNeighbourResult {
  reads: number;
  bytes: number;
  elapsedNs: number;
  /** Latency of one readFile call, µs. */
  latency: LatencyHistogram;
}

/**
 * Creates `file` (one page) and reads it in a loop, one readFile at a time, until
 * `stop()`, which resolves with what the loop saw and removes the file.
 */
export function startReadNeighbour(file: string): { stop(): Promise<ReadNeighbourResult> } {
  fs.writeFileSync(file, Buffer.alloc(SMALL_FILE_BYTES, 0x6e));
  const latency = new LatencyHistogram();
  const start = process.hrtime.bigint();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = process.hrtime.bigint();
      await fs.promises.readFile(file);
      latency.record(Number(process.hrtime.bigint() - t) / 1000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const elapsedNs = Number(process.hrtime.bigint() - start);
      fs.rmSync(file, { force: true });
      return { reads: latency.count, bytes: latency.count * SMALL_FILE_BYTES, elapsedNs, latency };
    },
  };
}
