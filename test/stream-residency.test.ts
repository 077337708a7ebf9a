// The streams' own pages, measured with cachestat on real ext4, XFS and btrfs mounts,
// where the kernel leaves pages behind (issue 11): in-place rewrites (ext4 skips the
// RWF_DONTCACHE drop for overwrites), pages someone else had cached before (kept),
// concurrent appenders (each settles where its own bytes landed), and the read stream's
// 'writeback' strategy (drops what it brought in, keeps what was cached before it).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachestatSync, fadviseSync, fdatasyncSync, pwritev2Sync } from '../src/io';
import { constants } from '../src/constants';
import { pagesIn, type ByteRange } from '../src/page-ranges';
import { cachedRangesSync } from '../src/prior-residency';
import { createDontcacheReadStream } from '../src/read-stream';
import { createDontcacheWriteStream, type DontcacheWriteStreamOptions } from '../src/write-stream';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';

const MiB = 1024 * 1024;
const PAGE = constants.PAGE_SIZE;
const ROOT = path.resolve(__dirname, '..');
const APPENDER = path.join(__dirname, 'fixtures', 'appender.js');
const distMissing = fs.existsSync(path.join(ROOT, 'dist', 'index.js')) ? undefined : 'dist/ is not built: run `npm run compile:ts` first';
afterAll(cleanupTempFiles);

/** sha256 of the buffers one after the other. */
const sha = (...parts: Buffer[]) => parts.reduce((hash, part) => hash.update(part), crypto.createHash('sha256')).digest('hex');

/** A random 64 KiB block repeated, each 4 KiB stamped with its index and `seed`: a misplaced or lost page shows in the hash. */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size).fill(crypto.randomBytes(64 * 1024));
  for (let at = 0; at + 8 <= size; at += PAGE) {
    out.writeUInt32LE(at / PAGE, at);
    out.writeUInt32LE(seed, at + 4);
  }
  return out;
}

// Fresh memory is slow to touch in these VMs (the host backs it lazily): two buffers for
// the whole file, the old content of a file and the new, sliced by every test.
// Made on first use (nothing is allocated when every test skips).
const buffers: Buffer[] = [];
const OLD = { subarray: (start: number, end: number) => (buffers[1] ??= pattern(256 * MiB, 1)).subarray(start, end) };
const NEW = { subarray: (start: number, end: number) => (buffers[2] ??= pattern(256 * MiB, 2)).subarray(start, end) };

/** sha256 of a file, read in pieces into one buffer. */
function fileSha(file: string): string {
  const hash = crypto.createHash('sha256');
  const piece = Buffer.allocUnsafe(8 * MiB);
  withFd(file, (fd) => {
    for (let n; (n = fs.readSync(fd, piece, 0, piece.length, null)) > 0;) hash.update(piece.subarray(0, n));
  });
  return hash.digest('hex');
}

function withFd<T>(file: string, fn: (fd: number) => T): T {
  const fd = fs.openSync(file, 'r');
  try {
    return fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Cached pages of `[offset, offset + length)` of a file (length 0: to the end). */
const cachedPages = (file: string, offset = 0, length = 0) => withFd(file, (fd) => cachestatSync(fd, offset, length).cache);

/** A file of `data`, on disk and out of the page cache (its blocks allocated: later writes overwrite). */
function coldFile(dir: string, data: Buffer): string {
  const file = tempPath(dir);
  const fd = fs.openSync(file, 'w');
  try {
    for (let at = 0; at < data.length; at += 64 * MiB) pwritev2Sync(fd, data.subarray(at, at + 64 * MiB), at, 0);
    fdatasyncSync(fd);
    fadviseSync(fd, 0, 0, constants.POSIX_FADV_DONTNEED);
  } finally {
    fs.closeSync(fd);
  }
  expect(cachedPages(file)).toBe(0);
  return file;
}

/** Brings exactly these ranges into the page cache (no readahead), as another user of the file would. */
function cacheRanges(file: string, ranges: ByteRange[]): void {
  withFd(file, (fd) => {
    fadviseSync(fd, 0, 0, constants.POSIX_FADV_RANDOM);
    for (const [start, end] of ranges) fs.readSync(fd, Buffer.alloc(end - start), 0, end - start, start);
  });
  const expected = ranges.reduce((n, [start, end]) => n + Math.ceil(end / PAGE) - Math.floor(start / PAGE), 0);
  expect(cachedPages(file)).toBe(expected);
}

/** The file's cached pages, as page-aligned ranges. */
const cachedRanges = (file: string) => withFd(file, (fd) => cachedRangesSync(fd, 0, fs.fstatSync(fd).size, 10_000));

/**
 * The pages cached now are the pages cached `before` (and maybe some of `mayStay`), and
 * nothing else. This machine runs DAMON with a 'pageout' scheme for unmapped page cache
 * (kdamond; sampled regions that look cold are reclaimed), which evicts a few pages of a
 * file now and then whatever the stream does (up to 8 of 2048 seen here): up to 2% of
 * `before` may be gone.
 */
function expectOnly(file: string, before: ByteRange[], mayStay: ByteRange[] = []): void {
  const now = cachedRanges(file);
  const allowed = [...before, ...mayStay];
  for (const [start, end] of now) {
    expect(allowed.some(([a, b]) => a <= start && end <= b), `cached ${start}..${end} was not before`).toBe(true);
  }
  const kept = pagesIn(now.filter(([start, end]) => before.some(([a, b]) => a <= start && end <= b)));
  expect(kept).toBeGreaterThanOrEqual(pagesIn(before) - Math.floor(pagesIn(before) * 0.02));
}

/**
 * Writes `data` in `chunk`-byte writes through the stream with backpressure and samples
 * the file's cached pages on every write callback and every millisecond; resolves on
 * 'close' with the peak and the final residency.
 */
async function rewrite(file: string, data: Buffer, chunk: number, options: DontcacheWriteStreamOptions) {
  const stream = createDontcacheWriteStream(file, { flags: 'r+', ...options });
  const probe = fs.openSync(file, 'r');
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, cachestatSync(probe, 0, 0).cache);
  };
  const timer = setInterval(sample, 1);
  try {
    const closed = new Promise<void>((resolve, reject) => {
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    for (let at = 0; at < data.length; at += chunk) {
      if (!stream.write(data.subarray(at, at + chunk), sample)) await new Promise((r) => stream.once('drain', r));
    }
    stream.end();
    await closed;
    sample();
    return { peak, final: cachestatSync(probe, 0, 0).cache, strategy: stream.stats.strategy };
  } finally {
    clearInterval(timer);
    fs.closeSync(probe);
  }
}

for (const kind of ['ext4', 'xfs'] as const) {
  const mount = testFs(kind);
  if (!mount.dir) console.warn(`[stream-residency] skipping ${kind}: ${mount.skip}`);
  describe.skipIf(!mount.dir)(`write stream residency on ${kind}${mount.dir ? '' : ` (skipped: ${mount.skip})`}`, () => {
    const dir = () => mount.dir as string;
    const size = 256 * MiB;
    const windowSize = 4 * MiB;
    // Three windows, and the two edge pages a window boundary inside a page adds.
    const bound = (3 * windowSize) / PAGE + 2;

    for (const [cache, chunk] of [['dontcache', MiB], ['auto', 1000 * 1000], ['writeback', 64 * 1024 + 100]] as const) {
      it(`in-place rewrite of ${size / MiB} MiB, cache '${cache}', ${chunk}-byte writes: peak <= 3 windows, <= 1% at the end, exact bytes`, async () => {
        const file = coldFile(dir(), OLD.subarray(0, size));
        const data = NEW.subarray(0, size);
        const { peak, final, strategy } = await rewrite(file, data, chunk, { cache, windowSize });
        console.info(`[stream-residency] ${kind} rewrite '${cache}' ${chunk} B writes: peak ${peak} pages (${(peak * PAGE / windowSize).toFixed(2)} windows), final ${final} of ${size / PAGE}`);
        expect(strategy).toBe(cache === 'writeback' ? 'writeback' : 'dontcache');
        expect(peak).toBeGreaterThan(0);
        expect(peak).toBeLessThanOrEqual(bound);
        expect(final).toBeLessThanOrEqual(size / PAGE / 100);
        expect(fileSha(file)).toBe(sha(data));
      });
    }

    it("windows smaller than the writes' folios still settle (large folios are dropped whole)", async () => {
      const file = coldFile(dir(), OLD.subarray(0, 64 * MiB));
      const { peak, final } = await rewrite(file, NEW.subarray(0, 64 * MiB), 2 * MiB, { cache: 'writeback', windowSize: 768 * 1024 });
      expect(final).toBe(0);
      expect(peak).toBeLessThanOrEqual((4 * MiB) / PAGE);
    });

    for (const cache of ['dontcache', 'writeback'] as const) {
      it(`'${cache}' keeps exactly the pages someone else had cached before it overwrote them`, async () => {
        const file = coldFile(dir(), OLD.subarray(0, 64 * MiB));
        const theirs: ByteRange[] = [[16 * MiB, 24 * MiB], [40 * MiB + PAGE, 40 * MiB + 2 * PAGE], [63 * MiB + 100, 63 * MiB + 200]];
        cacheRanges(file, theirs);
        const before = cachedRanges(file);
        expect(before).toEqual([[16 * MiB, 24 * MiB], [40 * MiB + PAGE, 40 * MiB + 2 * PAGE], [63 * MiB, 63 * MiB + PAGE]]);
        const data = NEW.subarray(0, 64 * MiB);
        await rewrite(file, data, 1000 * 1000, { cache, windowSize: 4 * MiB });
        expectOnly(file, before);
        expect(fileSha(file)).toBe(sha(data));
      });
    }

    it("a rewrite that starts and ends inside the file drops only its own range's pages", async () => {
      const file = coldFile(dir(), OLD.subarray(0, 32 * MiB));
      cacheRanges(file, [[0, MiB], [20 * MiB, 32 * MiB]]);
      const part = NEW.subarray(0, 10 * MiB + 12345);
      const start = 5 * MiB + 7;
      const stream = createDontcacheWriteStream(file, { flags: 'r+', start, windowSize: MiB });
      await new Promise<void>((resolve, reject) => {
        stream.on('close', resolve).on('error', reject);
        stream.end(part);
      });
      expectOnly(file, [[0, MiB], [20 * MiB, 32 * MiB]]);
      expect(fileSha(file)).toBe(sha(OLD.subarray(0, start), part, OLD.subarray(start + part.length, 32 * MiB)));
    });
  });

  describe.skipIf(!mount.dir || distMissing !== undefined)(
    `two processes appending to one file on ${kind}${distMissing ? ` (skipped: ${distMissing})` : ''}`,
    () => {
      const dir = () => mount.dir as string;
      for (const [cache, recordSize, records] of [
        ['writeback', 64 * 1024, 1024], ['auto', 64 * 1024, 1024], ['writeback', 200, 64 * 1024],
      ] as const) {
        it(`cache '${cache}', ${recordSize}-byte records: every record whole, <= 1% cached at the end`, async () => {
          const file = tempPath(dir(), 'appended');
          fs.writeFileSync(file, '');
          const results = await runAppenders([1, 2].map((id) => ({ file, id, records, recordSize, cache })));
          for (const result of results) {
            expect(result).toMatchObject({ strategy: cache === 'auto' ? 'dontcache' : cache, bytes: records * recordSize });
          }
          // Residency first: reading the content back caches it.
          const total = 2 * records * recordSize;
          const final = cachedPages(file);
          console.info(`[stream-residency] ${kind} two appenders '${cache}' ${recordSize} B records: final ${final} of ${total / PAGE} pages`);
          expect(final).toBeLessThanOrEqual(total / PAGE / 100);
          const content = fs.readFileSync(file);
          expect(content.length).toBe(total);
          const next = [0, 0, 0];
          let switches = 0;
          for (let at = 0; at < content.length; at += recordSize) {
            const id = content[at];
            expect(id === 1 || id === 2).toBe(true);
            expect(content.readUInt32LE(at + 1)).toBe(next[id]++);
            if (at > 0 && content[at - recordSize] !== id) switches++;
          }
          expect(next).toEqual([0, records, records]);
          // The writers did interleave (else this would test one appender).
          expect(switches).toBeGreaterThan(2);
        });
      }
    },
  );
}

type AppenderSpec = { file: string; id: number; records: number; recordSize: number; cache: string };

/** Runs the appender fixtures, starts them together once each has its stream open, and resolves with their results. */
async function runAppenders(specs: AppenderSpec[]): Promise<unknown[]> {
  const children = specs.map((spec) => {
    const child = spawn(process.execPath, [APPENDER, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('READY\n')) onReady();
    });
    child.stderr.on('data', (d) => (err += d));
    const done = new Promise<unknown>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        onReady();
        const line = out.split('\n').find((l) => l.startsWith('RESULT '));
        if (code !== 0 || !line) reject(new Error(`appender ${spec.id} ended with ${code}\n${out}\n${err}`));
        else resolve(JSON.parse(line.slice('RESULT '.length)));
      });
    });
    return { child, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const { child } of children) child.stdin.end('go\n');
  return Promise.all(children.map((c) => c.done));
}

for (const kind of ['ext4', 'xfs', 'btrfs'] as const) {
  const mount = testFs(kind);
  if (!mount.dir) console.warn(`[stream-residency] skipping ${kind}: ${mount.skip}`);
  describe.skipIf(!mount.dir)(`read stream 'writeback' on ${kind}${mount.dir ? '' : ` (skipped: ${mount.skip})`}`, () => {
    const dir = () => mount.dir as string;
    const size = 64 * MiB;

    async function readThrough(file: string, options: { start?: number; end?: number } = {}) {
      const stream = createDontcacheReadStream(file, { cache: 'writeback', highWaterMark: MiB, ...options });
      const closed = new Promise((r) => stream.once('close', r));
      const hash = crypto.createHash('sha256');
      for await (const part of stream) hash.update(part as Buffer);
      await closed;
      expect(stream.stats.strategy).toBe('writeback');
      return hash.digest('hex');
    }

    for (const [name, ranges] of [
      ['its last page', [[size - PAGE, size]]],
      ['8 MiB in the middle', [[20 * MiB, 28 * MiB]]],
      ['scattered pages', [[PAGE * 3, PAGE * 4], [33 * MiB + 5, 33 * MiB + 12345], [50 * MiB, 50 * MiB + 3 * PAGE]]],
      ['nothing', []],
    ] as [string, ByteRange[]][]) {
      it(`a ${size / MiB} MiB file with ${name} cached ends with exactly that cached`, async () => {
        const data = OLD.subarray(0, size);
        const file = coldFile(dir(), data);
        cacheRanges(file, ranges);
        const before = cachedRanges(file);
        expect(await readThrough(file)).toBe(sha(data));
        expectOnly(file, before);
      });
    }

    for (const cached of [[[20 * MiB, 28 * MiB]], []] as ByteRange[][]) {
    it(`a range inside the file${cached.length ? ', 8 MiB of it cached' : ''}: the pages cached before stay, the rest goes (+- one readahead window)`, async () => {
      const data = OLD.subarray(0, size);
      const file = coldFile(dir(), data);
      cacheRanges(file, cached);
      const start = 5 * MiB + 17;
      const end = 40 * MiB;
      expect(await readThrough(file, { start, end })).toBe(sha(data.subarray(start, end + 1)));
      // Readahead past `end` still in flight when the stream drops it cannot be dropped:
      // up to one readahead window after `end` may stay.
      const after = end + 1 + 16 * MiB;
      expectOnly(file, cached, [[end + 1 - ((end + 1) % PAGE), after]]);
    });
    }
  });
}
