// Memory of a write stream fed many tiny chunks, in child Node processes (dist/): a
// producer that waits for 'drain' holds about 2 x highWaterMark + a fixed amount,
// whatever the chunk size (the queue is bounded by chunk count as well as by bytes).
// RSS is sampled right after forced GCs: what the stream holds, not GC laziness.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distUnavailableReason, runNodeChildOk } from '../helpers/faults';
import { testFs } from '../helpers/fs';
import { guardLeaks, tempDir } from './leaks';
import { MiB } from './support';

guardLeaks();

interface TinyOutcome { peak: number; falses: number; bytes: number }

const ext4 = testFs('ext4');
const work = tempDir(ext4.dir);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

// RSS a Node process keeps after a GC once it made a million write() calls (heap
// pages it grew into and has not returned), with a 1 MiB highWaterMark: 22-29 MiB
// on Node 20 and 26, ~42 MiB on Node 24, against 327 MiB before the chunk bound.
const FIXED = 48 * MiB;

// Under AddressSanitizer (npm run test:asan) freed memory waits in ASan's quarantine,
// so RSS says nothing about what the stream holds.
const skip = process.env.DONTCACHE_ASAN ? 'RSS is not meaningful under AddressSanitizer' : distUnavailableReason();
if (skip) console.warn(`[stream-memory] skipping: ${skip}`);
describe.skipIf(skip !== undefined)(`many tiny writes${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const [count, size] of [[1_000_000, 1], [1_000_000, 100], [300_000, 1000]] as const) {
    it(`${count} writes of ${size} B with backpressure: RSS held < 2 x highWaterMark + ${FIXED / MiB} MiB`, () => {
      const output = path.join(work, `tiny.${size}`);
      const highWaterMark = MiB;
      const r = runNodeChildOk<TinyOutcome>('tiny-writes.js', [JSON.stringify({ output, count, size, kind: 'dontcache', options: { highWaterMark } })], {
        execArgv: ['--expose-gc'],
        timeoutMs: 120_000,
      });
      fs.rmSync(output);
      expect(r.bytes).toBe(count * size);
      expect(r.falses).toBeGreaterThan(0);
      expect(r.peak).toBeLessThan(2 * highWaterMark + FIXED);
    });
  }
});
