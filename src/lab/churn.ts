/**
 * The temp-file neighbour (runs in a worker process): creates a temporary file,
 * fills it with buffered writes, deletes it, and again, until stopped. The case where
 * a flusher kick may write back someone else's dirty data (kernel.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LatencyHistogram } from '../latency';
import { pwritev2Timed } from '../io';
import { latencyOutcome, makeBlock } from './writer';
import type { ChurnJob, ChurnOutcome } from './job-types';

/** Runs `job` until `stopped()` says so; the file being filled is always removed. */
export async function runChurn(job: ChurnJob, stopped: () => boolean): Promise<ChurnOutcome> {
  const block = makeBlock(job.blockSize, false);
  const syscall = new LatencyHistogram();
  const start = process.hrtime.bigint();
  let bytes = 0;
  let files = 0;
  while (!stopped()) {
    const file = path.join(job.dir, `churn.${process.pid}.${files++}.tmp`);
    const fd = fs.openSync(file, 'w');
    try {
      for (let pos = 0; pos < job.fileBytes && !stopped(); pos += block.length) {
        const timing = await pwritev2Timed(fd, block, pos);
        syscall.record(timing.syscallNs / 1000);
        bytes += timing.bytes;
      }
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  }
  return { kind: 'churn', bytes, files, elapsedNs: Number(process.hrtime.bigint() - start), syscall: latencyOutcome(syscall) };
}
