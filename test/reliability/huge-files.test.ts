// Files larger than 2^53 bytes (issue 13, item 6): sparse files up to 2^63 - 1 bytes on
// XFS, btrfs and tmpfs. pageCacheState, dropCache and the CLI's stat and drop must give
// exact sizes (bigints above Number.MAX_SAFE_INTEGER), never an internal RangeError;
// only an offset or length that is itself out of range may be refused, and then the
// message's range must exclude it.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropCache, pageCacheState, type ByteCount, type PageCacheState } from '../../src/page-cache';
import { pwritev2Sync } from '../../src/io';
import { constants as C } from '../../src/constants';
import { distUnavailableReason, PACKAGE_ROOT } from '../helpers/faults';
import { cleanupTempFiles, tempPath, testFs } from '../helpers/fs';

const CLI = path.join(PACKAGE_ROOT, 'dist', 'cli.js');
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_OFFSET = 2n ** 63n - 1n;
const PAGE = BigInt(C.PAGE_SIZE);
/** Sizes around the places where a number stops being exact, up to the largest file. */
const SIZES = [MAX_SAFE, MAX_SAFE + 1n, MAX_SAFE + 2n, 2n ** 62n + 12345n, MAX_OFFSET];
const KINDS = ['xfs', 'btrfs', 'tmpfs'] as const;

afterAll(cleanupTempFiles);

/** The exact form the API promises: a number when safe, else a bigint. */
const exact = (value: bigint): ByteCount => (value <= MAX_SAFE ? Number(value) : value);

function sparse(dir: string, size: bigint, name: string): string {
  const file = tempPath(dir, name);
  fs.writeFileSync(file, '');
  execFileSync('truncate', ['-s', String(size), file]);
  return file;
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** What every known state must satisfy for a request of (offset, length) on a file of `size`. */
function expectConsistent(s: PageCacheState, size: bigint, offset: bigint, length: bigint): void {
  const start = offset < size ? offset : size;
  const end = length === 0n || offset + length > size ? size : offset + length;
  expect(s.size).toEqual(exact(size));
  expect(s.offset).toEqual(exact(start));
  expect(s.length).toEqual(exact(end - start));
  expect(s.pages.total).toBe(end === start ? 0 : Number((end + PAGE - 1n) / PAGE - start / PAGE));
  expect(s.bytes.total).toEqual(exact(end - start));
  for (const value of [s.size, s.offset, s.length, s.bytes.total]) expect(typeof value === 'bigint' ? value > MAX_SAFE : Number.isSafeInteger(value)).toBe(true);
}

describe.each(KINDS)('files beyond 2^53 bytes on %s', (kind) => {
  const mount = testFs(kind);
  if (!mount.dir) console.warn(`[huge-files] skipping ${kind}: ${mount.skip}`);

  it.skipIf(!mount.dir).each(SIZES.map((s) => [String(s), s] as const))('%s bytes: exact state, a dirty page at the end, dropCache after it', async (_, size) => {
    const file = sparse(mount.dir!, size, `huge-${size}`);
    const whole = await pageCacheState(file);
    expect(whole.status).toBe('known');
    expectConsistent(whole, size, 0n, 0n);
    expect(whole.residentFraction).toBe(0);

    // One page written just before the end: the range at the end shows it, cached and dirty.
    const fd = fs.openSync(file, 'r+');
    try {
      const at = ((size - 1n) / PAGE) * PAGE;
      pwritev2Sync(fd, Buffer.alloc(Number(size - at), 0x61), at);
      const tail = await pageCacheState(fd, { offset: at, length: PAGE * 4n });
      expectConsistent(tail, size, at, PAGE * 4n);
      expect(tail.pages).toMatchObject({ total: 1, cached: 1 });
      expect(tail.bytes.cached).toEqual(exact(size - at));

      const after = await dropCache(fd);
      expect(after.status).toBe('known');
      expectConsistent(after, size, 0n, 0n);
      // tmpfs keeps its data in the page cache: nothing to drop there.
      expect(after.pages).toMatchObject({ cached: kind === 'tmpfs' ? 1 : 0, dirty: 0, writeback: 0 });
      // mincore on a small range at the end works, except where mmap(2) cannot reach
      // (a range ending within a page of 2^63); on the whole file it says why not.
      const tailMincore = await pageCacheState(fd, { offset: at, method: 'mincore' });
      expect(tailMincore.pages.total).toBe(1);
      if (at + PAGE > MAX_OFFSET) expect(tailMincore).toMatchObject({ status: 'unknown', code: 'ERANGE', method: 'mincore' });
      else expect(tailMincore).toMatchObject({ status: 'known', method: 'mincore', pages: { cached: kind === 'tmpfs' ? 1 : 0 } });
      const wholeMincore = await pageCacheState(fd, { method: 'mincore' });
      expect(wholeMincore).toMatchObject({ status: 'unknown', code: 'ERANGE', method: 'mincore' });
      expect(wholeMincore.size).toEqual(exact(size));
    } finally {
      fs.closeSync(fd);
    }
  });

  it.skipIf(!mount.dir)('offsets and lengths at every boundary, as numbers and bigints: consistent states, or a RangeError that excludes the value', async () => {
    const size = MAX_OFFSET;
    const file = sparse(mount.dir!, size, 'huge-ranges');
    const points = [0n, 1n, PAGE - 1n, PAGE, MAX_SAFE - 1n, MAX_SAFE, MAX_SAFE + 1n, 2n ** 62n, size - PAGE, size - 1n, size, size + 1n, 2n ** 64n, -1n];
    let checked = 0;
    for (const offset of points) {
      for (const length of points) {
        for (const asNumber of [false, true]) {
          const o = asNumber ? Number(offset) : offset;
          const l = asNumber ? Number(length) : length;
          const valid = (v: bigint, n: number | bigint) => v >= 0n && (typeof n === 'number' ? Number.isSafeInteger(n) : v <= MAX_OFFSET);
          try {
            const s = await pageCacheState(file, { offset: o, length: l });
            expect(valid(offset, o) && valid(length, l), `accepted offset ${o}, length ${l}`).toBe(true);
            expectConsistent(s, size, offset, length);
          } catch (error) {
            const e = error as RangeError & { code: string };
            expect(e, `offset ${o}, length ${l}: ${e.message}`).toBeInstanceOf(RangeError);
            expect(e.code).toBe('ERR_OUT_OF_RANGE');
            expect(valid(offset, o) && valid(length, l), `refused offset ${o}, length ${l}: ${e.message}`).toBe(false);
            // The stated upper bound is below the refused value (written as Node writes
            // them, with _ separators past 2^32).
            const bound = /<= ([\d_]+)n?/.exec(e.message)?.[1]?.replace(/_/g, '');
            const refused = /Received (-?[\d_]+)n?$/.exec(e.message)?.[1]?.replace(/_/g, '');
            expect(bound && refused, e.message).toBeTruthy();
            expect(BigInt(refused!) < 0n || BigInt(refused!) > BigInt(bound!), e.message).toBe(true);
          }
          checked++;
        }
      }
    }
    expect(checked).toBe(points.length ** 2 * 2);
  });

  it.skipIf(!mount.dir || distUnavailableReason() !== undefined)('the CLI: stat and drop exit 0; text says EiB; --json has the exact integers; totals beyond 2^64', async () => {
    const a = sparse(mount.dir!, MAX_OFFSET, 'cli-a');
    const b = sparse(mount.dir!, MAX_SAFE + 2n, 'cli-b');
    const stat = await cli(['stat', a, b]);
    expect(stat, stat.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(stat.stdout.split('\n').find((l) => l.endsWith(a))).toMatch(/^\s*8\.0 EiB\s+0 B\s+0\.0%/);
    expect(stat.stdout.split('\n').find((l) => l.includes('total (2 files)'))).toMatch(/^\s*8\.0 EiB/);
    const json = await cli(['stat', '--json', a, b]);
    expect(json.code).toBe(0);
    expect(json.stdout).toContain(`"size": ${MAX_OFFSET}`);
    expect(json.stdout).toContain(`"size": ${MAX_SAFE + 2n}`);
    expect(json.stdout).toContain(`"size": ${MAX_OFFSET + MAX_SAFE + 2n}`);
    expect(() => JSON.parse(json.stdout)).not.toThrow();
    const drop = await cli(['drop', a, b]);
    expect(drop, drop.stderr).toMatchObject({ code: 0, stderr: '' });
    const dropJson = await cli(['drop', '--json', a]);
    expect(dropJson.code).toBe(0);
    expect(dropJson.stdout).toContain(`"size": ${MAX_OFFSET}`);
    const mincore = await cli(['stat', '--method', 'mincore', a]);
    expect(mincore.code).toBe(0);
    expect(mincore.stdout).toMatch(/unknown: mincore\(2\) walks every page/);
  });
});
