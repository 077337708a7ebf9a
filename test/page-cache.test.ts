// pageCacheState and dropCache against what the kernel really holds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { dropCache, pageCacheState } from '../src/page-cache';
import { FOLIO_MAX, PAGE_SIZE, pagesOutside } from '../src/page-ranges';
import { PriorResidency, cachedRangesSync } from '../src/prior-residency';
import { PositionReader } from '../src/fd-position';
import { fadviseSync, fdatasyncSync, pwritev2Sync } from '../src/io';
import { constants as C } from '../src/constants';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';
import { cachestatMissing } from './helpers/residency';

const MiB = 1024 * 1024;
const ext4 = testFs('ext4');
if (!ext4.dir) console.warn(`[page-cache] skipping ext4 tests: ${ext4.skip}`);

afterAll(cleanupTempFiles);

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

/** A new file of `size` bytes written with pwritev2 `flags`, then fdatasync'ed. */
function written(size: number, flags: number, name: string): string {
  const file = tempPath(ext4.dir, name);
  const fd = fs.openSync(file, 'w');
  try {
    pwritev2Sync(fd, pattern(size, 7), 0, flags);
    fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

describe.skipIf(!ext4.dir)('pageCacheState', () => {
  it('a file just written buffered is fully resident; after dropCache it is not', async () => {
    const file = tempPath(ext4.dir, 'buffered');
    fs.writeFileSync(file, pattern(8 * MiB, 1));
    const before = await pageCacheState(file);
    const method = cachestatMissing ? 'mincore' : 'cachestat';
    expect(before).toMatchObject({ method, pageSize: C.PAGE_SIZE, size: 8 * MiB, offset: 0, length: 8 * MiB });
    expect(before.pages.total).toBe((8 * MiB) / C.PAGE_SIZE);
    expect(before.residentFraction).toBeGreaterThan(0.95);
    // Nothing synced yet: the pages are dirty or being written back (only cachestat can tell).
    if (!cachestatMissing) expect(before.pages.dirty! + before.pages.writeback!).toBeGreaterThan(0);
    expect(before.status).toBe('known');
    expect(before.bytes.cached).toBe(before.pages.cached! * C.PAGE_SIZE);

    const after = await dropCache(file);
    expect(after.residentFraction).toBeLessThan(0.05);
    if (!cachestatMissing) expect(after.pages).toMatchObject({ dirty: 0, writeback: 0 });
    // Dropping lost no byte: the data reads back from the device.
    expect(fs.readFileSync(file).equals(pattern(8 * MiB, 1))).toBe(true);
  });

  it.skipIf(cachestatMissing)(`mincore gives the same residency as cachestat on the same file ${cachestatMissing ?? ''}`, async () => {
    const file = written(4 * MiB, 0, 'both');
    for (const expected of ['resident', 'dropped'] as const) {
      if (expected === 'dropped') await dropCache(file);
      const viaCachestat = await pageCacheState(file, { method: 'cachestat' });
      const viaMincore = await pageCacheState(file, { method: 'mincore' });
      expect(viaMincore.method).toBe('mincore');
      expect(viaMincore.pages.total).toBe(viaCachestat.pages.total);
      expect(Math.abs(viaMincore.pages.cached! - viaCachestat.pages.cached!)).toBeLessThanOrEqual(2);
      expect(viaMincore.pages).toMatchObject({ dirty: null, writeback: null, evicted: null, recentlyEvicted: null });
      expect(viaMincore.bytes.dirty).toBeNull();
      expect(viaCachestat.residentFraction).toBeCloseTo(expected === 'resident' ? 1 : 0, 1);
    }
  });

  it('shows the difference between a buffered and an RWF_DONTCACHE write', async () => {
    const buffered = await pageCacheState(written(8 * MiB, 0, 'plain'));
    const uncached = await pageCacheState(written(8 * MiB, C.RWF_DONTCACHE, 'dontcache'));
    expect(buffered.residentFraction).toBeGreaterThan(0.9);
    expect(uncached.residentFraction).toBeLessThan(0.1);
  });

  it('looks at a range only', async () => {
    const file = written(4 * MiB, 0, 'range');
    await dropCache(file);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, Buffer.alloc(MiB), 0, MiB, 2 * MiB);
      const read = await pageCacheState(fd, { offset: 2 * MiB, length: MiB });
      const untouched = await pageCacheState(fd, { offset: 0, length: MiB });
      expect(read).toMatchObject({ offset: 2 * MiB, length: MiB });
      expect(read.pages.total).toBe(MiB / C.PAGE_SIZE);
      expect(read.residentFraction).toBe(1);
      expect(untouched.residentFraction).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('counts partial pages and clips ranges to the file', async () => {
    const file = tempPath(ext4.dir, 'odd');
    fs.writeFileSync(file, pattern(10_000, 3));
    const s = await pageCacheState(file, { offset: 0, length: 1 << 30 });
    expect(s.length).toBe(10_000);
    expect(s.pages.total).toBe(Math.ceil(10_000 / C.PAGE_SIZE));
    expect(s.bytes.total).toBe(10_000);
    expect(s.bytes.cached).toBe(10_000);
    const beyond = await pageCacheState(file, { offset: 20_000 });
    expect(beyond).toMatchObject({ offset: 10_000, length: 0, residentFraction: 0 });
    expect(beyond.pages.total).toBe(0);
  });

  it('an empty file has nothing to count', async () => {
    const file = tempPath(ext4.dir, 'empty');
    fs.writeFileSync(file, '');
    for (const method of cachestatMissing ? (['mincore'] as const) : (['cachestat', 'mincore'] as const)) {
      const s = await pageCacheState(file, { method });
      expect(s).toMatchObject({ method, size: 0, residentFraction: 0 });
      expect(s.pages.total).toBe(0);
    }
  });
});

describe('pageCacheState and dropCache errors', () => {
  it('a missing file: ENOENT with the path', async () => {
    await expect(pageCacheState('/nonexistent/file')).rejects.toMatchObject({ code: 'ENOENT', path: '/nonexistent/file' });
    await expect(dropCache('/nonexistent/file')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a directory: EISDIR', async () => {
    await expect(pageCacheState(__dirname)).rejects.toMatchObject({ code: 'EISDIR', path: __dirname });
  });

  it('a FIFO: opening does not wait for a writer; dropCache fails with the path', async () => {
    const fifo = tempPath(undefined, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(pageCacheState(fifo)).resolves.toMatchObject({ size: 0, residentFraction: 0 });
    const error = await dropCache(fifo).catch((e: Error) => e);
    expect(error).toMatchObject({ path: fifo, syscall: expect.any(String) });
    expect((error as Error).message).toContain(`'${fifo}'`);
  });

  it('a bad fd: EBADF', async () => {
    await expect(pageCacheState(2 ** 30)).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('bad arguments: TypeError / RangeError with Node codes', async () => {
    await expect(pageCacheState({} as unknown as string)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(pageCacheState(__filename, { offset: -1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(pageCacheState(__filename, { length: 1.5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(pageCacheState(__filename, { offset: '1' as unknown as number })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(pageCacheState(__filename, { method: 'x' as 'auto' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe('page ranges', () => {
  it('pagesOutside widens to whole pages (or folios) and leaves the kept ranges out', () => {
    const P = PAGE_SIZE;
    expect(pagesOutside(100, 2 * P + 1)).toEqual([[0, 3 * P]]);
    expect(pagesOutside(0, 10 * P, [[2 * P, 3 * P], [5 * P, 7 * P]])).toEqual([[0, 2 * P], [3 * P, 5 * P], [7 * P, 10 * P]]);
    expect(pagesOutside(2 * P, 3 * P, [[0, 4 * P]])).toEqual([]);
    expect(pagesOutside(3 * P, 4 * P, [[0, P]])).toEqual([[3 * P, 4 * P]]);
    expect(pagesOutside(FOLIO_MAX + 5, FOLIO_MAX + 7, [], FOLIO_MAX)).toEqual([[FOLIO_MAX, 2 * FOLIO_MAX]]);
    expect(FOLIO_MAX).toBe(PAGE_SIZE === 4096 ? 2 * MiB : FOLIO_MAX);
  });
});

describe.skipIf(!ext4.dir)('cachedRangesSync and PriorResidency', () => {
  const P = C.PAGE_SIZE;
  /** A 16 MiB file on disk, out of the cache, with exactly `ranges` read back in (no readahead). */
  function partlyCached(ranges: [number, number][]): { file: string; fd: number } {
    const file = written(16 * MiB, 0, 'ranges');
    const fd = fs.openSync(file, 'r');
    fadviseSync(fd, 0, 0, C.POSIX_FADV_DONTNEED);
    fadviseSync(fd, 0, 0, C.POSIX_FADV_RANDOM);
    for (const [start, end] of ranges) fs.readSync(fd, Buffer.alloc(end - start), 0, end - start, start);
    return { file, fd };
  }

  it('finds exactly the cached pages, merged, by bisection', () => {
    const { fd } = partlyCached([[P, 2 * P], [5 * MiB, 7 * MiB], [7 * MiB, 7 * MiB + P], [16 * MiB - P, 16 * MiB]]);
    try {
      expect(cachedRangesSync(fd, 0, 16 * MiB, 1000)).toEqual([[P, 2 * P], [5 * MiB, 7 * MiB + P], [16 * MiB - P, 16 * MiB]]);
      expect(cachedRangesSync(fd, 8 * MiB, 12 * MiB, 1000)).toEqual([]);
      // Out of budget, what is undecided counts as cached: a superset, never a page less.
      const coarse = cachedRangesSync(fd, 0, 16 * MiB, 4);
      expect(coarse.length).toBeGreaterThan(0);
      for (const [start, end] of [[P, 2 * P], [5 * MiB, 7 * MiB + P], [16 * MiB - P, 16 * MiB]]) {
        expect(coarse.some(([a, b]) => a <= start && end <= b)).toBe(true);
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('PriorResidency measures ahead of the I/O, within the size at open, and forgets settled ranges', () => {
    const { fd } = partlyCached([[3 * MiB, 3 * MiB + P], [9 * MiB, 10 * MiB]]);
    try {
      const prior = new PriorResidency(fd, 12 * MiB, 4 * MiB);
      prior.measure(0, MiB);
      // Measured [0, 4 MiB) only: what lies later is measured when the I/O gets there.
      expect(prior.keptWithin(0, 16 * MiB, P)).toEqual([[3 * MiB, 3 * MiB + P]]);
      prior.measure(8 * MiB + 5, 9 * MiB);
      expect(prior.keptWithin(8 * MiB, 10 * MiB, P)).toEqual([[9 * MiB, 10 * MiB]]);
      expect(prior.keptWithin(9 * MiB + 5, 9 * MiB + 7, P)).toEqual([[9 * MiB, 9 * MiB + P]]);
      prior.forgetBelow(4 * MiB);
      expect(prior.keptWithin(0, 16 * MiB, P)).toEqual([[9 * MiB, 10 * MiB]]);
      expect(prior.known).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe.skipIf(!ext4.dir)('PositionReader', () => {
  it('tells where appended bytes ended, also after another descriptor appended', () => {
    const file = tempPath(ext4.dir, 'position');
    fs.writeFileSync(file, 'abc');
    const mine = fs.openSync(file, 'a');
    const theirs = fs.openSync(file, 'a');
    const reader = new PositionReader(mine);
    try {
      expect(reader.read()).toBe(0);
      fs.writeSync(mine, Buffer.alloc(100));
      expect(reader.read()).toBe(103);
      fs.writeSync(theirs, Buffer.alloc(1000));
      fs.writeSync(mine, Buffer.alloc(10));
      expect(reader.read()).toBe(1113);
      reader.close();
      expect(reader.read()).toBe(1113);
    } finally {
      reader.close();
      fs.closeSync(mine);
      fs.closeSync(theirs);
    }
    const closed = new PositionReader(mine);
    expect(closed.read()).toBeUndefined();
  });
});
