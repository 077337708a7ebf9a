// How much of a file the page cache holds, for tests: cachestat(2) where the kernel has it,
// mincore(2) where it answers ENOSYS (Linux before 6.5, and qemu-user, which runs the arm64
// suite and does not know the syscall).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cachestatSync, mincoreResidencySync } from '../../src/io';

function probeCachestat(): string | undefined {
  const file = path.join(os.tmpdir(), `dontcache-test.${process.pid}.cachestat-probe`);
  const fd = fs.openSync(file, 'w');
  try {
    cachestatSync(fd);
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOSYS') return 'cachestat(2) answers ENOSYS here (Linux before 6.5, or qemu-user)';
    throw error;
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

/** Why cachestat(2) cannot be used here, or undefined when it can. */
export const cachestatMissing = probeCachestat();

/** Cached pages of an open file (pages of `constants.PAGE_SIZE`). */
export function residentPages(fd: number): number {
  return cachestatMissing ? mincoreResidencySync(fd).resident : cachestatSync(fd, 0, 0).cached;
}

/** Cached pages of a file right now, through a fresh descriptor. */
export function cachedPages(file: fs.PathLike): number {
  const fd = fs.openSync(file, 'r');
  try {
    return residentPages(fd);
  } finally {
    fs.closeSync(fd);
  }
}
