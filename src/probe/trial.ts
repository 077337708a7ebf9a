// Trying RWF_DONTCACHE for real on a temporary file in the probed directory.
import { closeSync } from 'node:fs';
import { cachestatSync, preadv2, pwritev2, pwritev2Sync, type CacheStat } from '../io';
import type { SystemError } from '../errors';
import { RWF_DONTCACHE, constants } from '../constants';
import { cachestatEvidence, unavailable, type CachestatReading } from './evidence';
import type { Evidence } from './types';
import { openScratchFile } from './scratch';

const MiB = 1024 * 1024;

/** The empirical test: this many dontcache writes of `EMPIRICAL_BLOCK` bytes. */
export const EMPIRICAL_WRITES = 8;
export const EMPIRICAL_BLOCK = MiB;

export interface TrialResult {
  dontcacheWrite: boolean;
  dontcacheRead: boolean;
  refusedWith?: string;
  cachestat: Evidence;
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

/**
 * Tries a dontcache write and read on a new temporary file in `dir`, then the empirical
 * cachestat test when the write was accepted. The file has no name (scratch.ts).
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
    const cachestat = writeRefused
      ? unavailable('cachestat', `not run: the dontcache write was refused (${writeRefused})`)
      : empiricalEvidence(fd, EMPIRICAL_BLOCK);
    return {
      dontcacheWrite: !writeRefused,
      dontcacheRead: !readRefused,
      refusedWith: writeRefused ?? readRefused,
      cachestat,
    };
  } finally {
    closeSync(fd);
  }
}
