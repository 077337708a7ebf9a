// Trying RWF_DONTCACHE for real on a temporary file in the probed directory.
import { closeSync } from 'node:fs';
import { cachestat, cachestatSync, fadvise, fdatasync, preadv2, pwritev2, pwritev2Sync, type CacheStat } from '../io';
import type { SystemError } from '../errors';
import { constants } from '../constants';
import {
  cachestatEvidence, overwriteEvidence, overwriteNotRun, unavailable, type CachestatReading, type OverwriteReading,
} from './evidence';
import type { Evidence, OverwriteEvidence } from './types';
import { openScratchFile } from './scratch';

const MiB = 1024 * 1024;
const { RWF_DONTCACHE } = constants;

/** The empirical test: this many dontcache writes of `EMPIRICAL_BLOCK` bytes. */
export const EMPIRICAL_WRITES = 8;
export const EMPIRICAL_BLOCK = MiB;

/** The overwrite trial: this many bytes, after the empirical test's blocks. */
export const OVERWRITE_BYTES = 4 * MiB;
// Kernels that defer the drop to a workqueue (the fix posted in Feb 2026) drop the pages
// shortly after writeback ends, not before fdatasync returns: look again a few times.
const OVERWRITE_LOOKS = 5;
const OVERWRITE_LOOK_INTERVAL_MS = 20;

export interface TrialResult {
  dontcacheWrite: boolean;
  dontcacheRead: boolean;
  refusedWith?: string;
  cachestat: Evidence;
  overwriteDropped: boolean | null;
  overwriteEvidence: OverwriteEvidence;
}

/**
 * Runs `flagged`; when it fails, runs `plain` (the same call without the flag). If the
 * plain call works the flag was refused: resolves with the flagged call's error code.
 * If the plain call fails too, the failure is not about the flag: rethrows it.
 */
async function refusal(flagged: () => Promise<unknown>, plain: () => Promise<unknown>, file: string): Promise<string | undefined> {
  try {
    await flagged();
    return undefined;
  } catch (error) {
    try {
      await plain();
    } catch (plainError) {
      (plainError as SystemError).path ??= file;
      throw plainError;
    }
    return (error as SystemError).code;
  }
}

/**
 * Dontcache-writes `EMPIRICAL_WRITES` blocks after `start` and reads cachestat(2) of each
 * block right after its write returns. Synchronous on purpose: no event-loop turn
 * between the write and the reading, so a flusher thread gets no head start.
 */
export function empiricalReadings(fd: number, start: number): CachestatReading[] {
  const block = Buffer.alloc(EMPIRICAL_BLOCK, 0x5a);
  // cachestat counts pages of the system's size (4, 16 or 64 KiB on arm64).
  const pages = EMPIRICAL_BLOCK / constants.PAGE_SIZE;
  const readings: CachestatReading[] = [];
  for (let i = 0; i < EMPIRICAL_WRITES; i++) {
    const offset = start + i * EMPIRICAL_BLOCK;
    pwritev2Sync(fd, block, offset, RWF_DONTCACHE);
    const stat: CacheStat = cachestatSync(fd, offset, EMPIRICAL_BLOCK);
    readings.push({ pages, stat });
  }
  return readings;
}

function empiricalEvidence(fd: number, start: number): Evidence {
  try {
    return cachestatEvidence(empiricalReadings(fd, start));
  } catch (error) {
    const e = error as SystemError;
    if (e.code === 'ENOSYS') return unavailable('cachestat', 'cachestat(2) is missing (Linux older than 6.5)');
    return unavailable('cachestat', `test failed: ${e.message}`);
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The overwrite trial on `[offset, offset + OVERWRITE_BYTES)`: written plainly, synced and
 * dropped (so the blocks are allocated and nothing is cached), then overwritten with
 * RWF_DONTCACHE and synced; how much of it is cached then.
 */
export async function overwriteReading(fd: number, offset: number): Promise<OverwriteReading> {
  const length = OVERWRITE_BYTES;
  await pwritev2(fd, Buffer.alloc(length, 0x4f), offset, 0);
  await fdatasync(fd);
  await fadvise(fd, offset, length, constants.POSIX_FADV_DONTNEED);
  const cachedBefore = (await cachestat(fd, offset, length)).cached;
  await pwritev2(fd, Buffer.alloc(length, 0x57), offset, RWF_DONTCACHE);
  await fdatasync(fd);
  let cachedAfter = (await cachestat(fd, offset, length)).cached;
  for (let look = 1; look < OVERWRITE_LOOKS && cachedAfter > 0; look++) {
    await delay(OVERWRITE_LOOK_INTERVAL_MS);
    cachedAfter = (await cachestat(fd, offset, length)).cached;
  }
  return { pages: length / constants.PAGE_SIZE, cachedBefore, cachedAfter };
}

async function overwriteTrial(fd: number, offset: number): Promise<ReturnType<typeof overwriteEvidence>> {
  try {
    return overwriteEvidence(await overwriteReading(fd, offset));
  } catch (error) {
    const e = error as SystemError;
    const why = e.code === 'ENOSYS' ? 'cachestat(2) is missing (Linux older than 6.5)' : `trial failed: ${e.message}`;
    return overwriteNotRun(OVERWRITE_BYTES / constants.PAGE_SIZE, why);
  }
}

/**
 * Tries a dontcache write and read on a new temporary file in `dir`, then, when the write
 * was accepted, the empirical cachestat test and the overwrite trial. The file has no
 * name (scratch.ts).
 */
export async function tryDontcache(dir: string): Promise<TrialResult> {
  const { fd } = openScratchFile(dir);
  try {
    const page = Buffer.alloc(constants.PAGE_SIZE, 0x33);
    const writeRefused = await refusal(
      () => pwritev2(fd, page, 0, RWF_DONTCACHE),
      () => pwritev2(fd, page, 0, 0),
      dir,
    );
    const readRefused = await refusal(
      () => preadv2(fd, page, 0, RWF_DONTCACHE),
      () => preadv2(fd, page, 0, 0),
      dir,
    );
    const notRun = `not run: the dontcache write was refused (${writeRefused})`;
    const cachestat = writeRefused ? unavailable('cachestat', notRun) : empiricalEvidence(fd, EMPIRICAL_BLOCK);
    const overwrite = writeRefused
      ? overwriteNotRun(OVERWRITE_BYTES / constants.PAGE_SIZE, notRun)
      : await overwriteTrial(fd, EMPIRICAL_BLOCK * (1 + EMPIRICAL_WRITES));
    return {
      dontcacheWrite: !writeRefused,
      dontcacheRead: !readRefused,
      refusedWith: writeRefused ?? readRefused,
      cachestat,
      overwriteDropped: overwrite.dropped,
      overwriteEvidence: overwrite.evidence,
    };
  } finally {
    closeSync(fd);
  }
}
