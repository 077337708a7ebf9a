// Concurrency: many direct calls and streams at once, on one file and on several,
// with gc() running between completions, in children with a threadpool of 1 and 16
// threads (UV_THREADPOOL_SIZE is read once per process). Every file must be byte-exact.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { distUnavailableReason, runNodeChildOk } from '../helpers/faults';
import { testFs } from '../helpers/fs';
import { guardLeaks, tempDir } from './leaks';

guardLeaks();

interface ConcurrencyResult {
  writes: number;
  streams: number;
  mismatches: string[];
}

const ROUNDS = 3;
const noDist = distUnavailableReason();

describe.each(['ext4', 'xfs'] as const)('concurrent writers on %s', (kind) => {
  const mount = testFs(kind);
  const skip = noDist ?? (mount.dir ? undefined : mount.skip);
  it.skipIf(skip !== undefined).each([1, 16])(`UV_THREADPOOL_SIZE=%i: direct calls and streams at once, every file byte-exact${skip ? ` (skipped: ${skip})` : ''}`, (threads) => {
    const dir = tempDir(mount.dir, 'concurrency');
    try {
      const result = runNodeChildOk<ConcurrencyResult>('concurrency.js', [dir, String(ROUNDS)], {
        execArgv: ['--expose-gc'],
        env: { UV_THREADPOOL_SIZE: String(threads) },
        timeoutMs: 240_000, // minutes under ASan on a loaded machine
      });
      expect(result.mismatches).toEqual([]);
      expect(result.writes).toBe(ROUNDS * (64 + 6 * 12));
      expect(result.streams).toBe(ROUNDS * 8);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
