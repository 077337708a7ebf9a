// DontcacheWriteStream on real ext4, XFS, btrfs and tmpfs mounts: exact bytes, strategy
// choice and fallback, append, fd/FileHandle input, destroy during a write, errors,
// pipeline, residency after finish.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { constants } from '../src/constants';
import type { FallbackEvent } from '../src/stream-options';
import { createDontcacheWriteStream, DontcacheWriteStream, type DontcacheWriteStreamOptions } from '../src/write-stream';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';
import { FS_KINDS, type FsKind } from './helpers/mounts';
import { cachedPages, cachestatMissing } from './helpers/residency';

const MiB = 1024 * 1024;
afterAll(cleanupTempFiles);

/** Deterministic bytes that differ at every offset and per seed (a misplaced block shows). */
function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
const fileSha = (file: string) => sha(fs.readFileSync(file));

function chunked(data: Buffer, chunk: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunk) parts.push(data.subarray(at, at + chunk));
  return parts;
}

/** Writes the parts with backpressure and resolves on 'close' with what happened. */
async function writeAll(stream: DontcacheWriteStream, parts: Buffer[], until: 'close' | 'finish' = 'close') {
  const fallbacks: FallbackEvent[] = [];
  const events: string[] = [];
  stream.on('fallback', (e: FallbackEvent) => fallbacks.push(e));
  for (const name of ['open', 'ready', 'finish', 'close']) stream.on(name, () => events.push(name));
  let residency: { cache: number } | undefined;
  stream.on('finish', () => {
    // cacheState() is cachestat(2); where that is missing, mincore of the same file.
    if (!cachestatMissing) residency = stream.cacheState();
    else if (stream.path !== undefined) residency = { cache: cachedPages(stream.path) };
  });
  const closed = new Promise<void>((resolve, reject) => {
    stream.on(until, resolve);
    stream.on('error', reject);
  });
  for (const part of parts) if (!stream.write(part)) await new Promise((r) => stream.once('drain', r));
  stream.end();
  await closed;
  return { fallbacks, events, residency, stats: stream.stats };
}

/** Resolves on 'close'; attach before anything can destroy the stream. */
const closeOf = (stream: NodeJS.EventEmitter) => new Promise((resolve) => stream.once('close', resolve));

const EXPECTED_AUTO: Record<FsKind, string> = { ext4: 'dontcache', xfs: 'dontcache', btrfs: 'writeback', tmpfs: 'buffered' };
const REFUSES_DONTCACHE: Record<FsKind, boolean> = { ext4: false, xfs: false, btrfs: true, tmpfs: true };

for (const kind of FS_KINDS) {
  const mount = testFs(kind);
  if (!mount.dir) console.warn(`[write-stream] skipping ${kind}: ${mount.skip}`);
  describe.skipIf(!mount.dir)(`DontcacheWriteStream on ${kind}${mount.dir ? '' : ` (skipped: ${mount.skip})`}`, () => {
    const dir = () => mount.dir as string;

    describe('byte-exact content', () => {
      const data = pattern(3 * MiB + 12345, 3);
      const cases: [number, DontcacheWriteStreamOptions['cache']][] = [
        [1000, 'auto'], [4096, 'dontcache'], [16 * 1024, 'auto'], [16 * 1024 + 7, 'writeback'],
        [65536, 'buffered'], [MiB + 3, 'auto'], [3 * MiB, 'writeback'],
      ];
      for (const [chunk, cache] of cases) {
        it(`chunks of ${chunk} bytes, cache '${cache}'`, async () => {
          const file = tempPath(dir());
          const stream = createDontcacheWriteStream(file, { cache, windowSize: MiB });
          const { stats, events } = await writeAll(stream, chunked(data, chunk));
          expect(fileSha(file)).toBe(sha(data));
          expect(stream.bytesWritten).toBe(data.length);
          expect(stats.bytes).toBe(data.length);
          expect(stats.chunks).toBe(Math.ceil(data.length / chunk));
          expect(events).toEqual(['open', 'ready', 'finish', 'close']);
          expect(stream.fd).toBeNull();
        });
      }

      for (const start of [1, 4095, 4096 * 3 + 5, 10 * MiB + 1]) {
        it(`start ${start} into an existing file (flags 'r+') and a new one ('w')`, async () => {
          const before = pattern(start + 1000, 9);
          const part = pattern(MiB + 77, start);
          const file = tempPath(dir());
          fs.writeFileSync(file, before);
          await writeAll(createDontcacheWriteStream(file, { flags: 'r+', start }), chunked(part, 40_000));
          const expected = Buffer.concat([before.subarray(0, start), part]);
          expect(fileSha(file)).toBe(sha(expected));

          const fresh = tempPath(dir());
          await writeAll(createDontcacheWriteStream(fresh, { start, cache: 'writeback', windowSize: 64 * 1024 }), chunked(part, 40_000));
          expect(fileSha(fresh)).toBe(sha(Buffer.concat([Buffer.alloc(start), part])));
        });
      }

      it('coalesces queued chunks: far fewer syscalls than 16 KiB chunks, every write() called back', async () => {
        const file = tempPath(dir());
        const parts = chunked(data, 16 * 1024);
        const stream = createDontcacheWriteStream(file);
        const { stats } = await writeAll(stream, parts);
        expect(fileSha(file)).toBe(sha(data));
        expect(stats.batches).toBeLessThan(parts.length / 4);
        expect(stats.writeLatency.count).toBe(parts.length);
        expect(stats.syscallLatency.count).toBeGreaterThan(0);
        expect(stats.writeLatency.max).toBeGreaterThanOrEqual(stats.writeLatency.p50);
      });

      it('string chunks in the `encoding` option', async () => {
        const file = tempPath(dir());
        const stream = createDontcacheWriteStream(file, { encoding: 'hex' });
        await writeAll(stream, chunked(data.subarray(0, 100_000), 999).map((b) => b.toString('hex')) as unknown as Buffer[]);
        expect(fileSha(file)).toBe(sha(data.subarray(0, 100_000)));
      });
    });

    describe('strategy', () => {
      it(`'auto' picks '${EXPECTED_AUTO[kind]}' here`, async () => {
        const file = tempPath(dir());
        const { stats, fallbacks } = await writeAll(createDontcacheWriteStream(file), [pattern(100_000)]);
        expect(stats.strategy).toBe(EXPECTED_AUTO[kind]);
        expect(fallbacks).toEqual([]);
      });

      if (REFUSES_DONTCACHE[kind]) {
        for (const fallback of ['writeback', 'buffered'] as const) {
          it(`'dontcache' is refused: 'fallback' event, switch to '${fallback}', exact file`, async () => {
            const file = tempPath(dir());
            const data = pattern(2 * MiB + 5, 4);
            const stream = createDontcacheWriteStream(file, { cache: 'dontcache', fallback, highWaterMark: 64 * 1024 });
            const { stats, fallbacks } = await writeAll(stream, chunked(data, 10_000));
            expect(fallbacks).toHaveLength(1);
            expect(fallbacks[0]).toMatchObject({ from: 'dontcache', to: fallback, position: 0 });
            expect((fallbacks[0].reason as NodeJS.ErrnoException).code).toBe('ENOTSUP');
            expect(stats).toMatchObject({ strategy: fallback, fallbacks: 1 });
            expect(fileSha(file)).toBe(sha(data));
          });
        }

        it("destroy() while a refused write is in flight: no 'fallback' after destroy, nothing written again", async () => {
          const file = tempPath(dir());
          const stream = createDontcacheWriteStream(file, { cache: 'dontcache' });
          await new Promise((r) => stream.once('ready', r));
          const closed = closeOf(stream);
          const fallbacks: FallbackEvent[] = [];
          stream.on('fallback', (e: FallbackEvent) => fallbacks.push(e));
          stream.on('error', () => undefined);
          stream.write(pattern(256 * 1024));
          stream.destroy();
          await closed;
          expect(fallbacks).toEqual([]);
          expect(stream.stats).toMatchObject({ strategy: 'dontcache', fallbacks: 0 });
          expect(fs.statSync(file).size).toBe(stream.bytesWritten);
          expect(stream.bytesWritten).toBe(0);
        });

        it("fallback 'error': the refusal is the stream's error, nothing written", async () => {
          const file = tempPath(dir());
          const stream = createDontcacheWriteStream(file, { cache: 'dontcache', fallback: 'error' });
          await expect(writeAll(stream, [pattern(5000)])).rejects.toMatchObject({ code: 'ENOTSUP', syscall: 'pwritev2' });
          expect(fs.statSync(file).size).toBe(0);
          expect(stream.fd).toBeNull();
        });
      } else {
        it("'dontcache' is taken: no fallback", async () => {
          const file = tempPath(dir());
          const { stats, fallbacks } = await writeAll(createDontcacheWriteStream(file, { cache: 'dontcache' }), [pattern(100_000)]);
          expect(fallbacks).toEqual([]);
          expect(stats).toMatchObject({ strategy: 'dontcache', fallbacks: 0 });
        });
      }
    });

    describe('residency after finish', () => {
      const size = 48 * MiB;
      const clean: DontcacheWriteStreamOptions['cache'][] =
        kind === 'tmpfs' ? [] : kind === 'btrfs' ? ['writeback', 'auto'] : ['dontcache', 'writeback', 'auto'];
      for (const cache of clean) {
        it(`'${cache}' leaves <= 1% of a ${size / MiB} MiB file cached`, async () => {
          const file = tempPath(dir());
          const stream = createDontcacheWriteStream(file, { cache, windowSize: 4 * MiB });
          const { residency } = await writeAll(stream, chunked(pattern(size, 5), 256 * 1024));
          const pages = size / constants.PAGE_SIZE;
          expect(residency!.cache).toBeLessThanOrEqual(pages * 0.01);
          expect(cachedPages(file)).toBeLessThanOrEqual(pages * 0.01);
        });
      }
      it(`'buffered' keeps it cached (the measurement can see a cached file)`, async () => {
        const file = tempPath(dir());
        await writeAll(createDontcacheWriteStream(file, { cache: 'buffered' }), chunked(pattern(8 * MiB, 5), 256 * 1024));
        expect(cachedPages(file)).toBeGreaterThan((8 * MiB / constants.PAGE_SIZE) * 0.9);
      });
    });

    describe('append', () => {
      it("flags 'a' writes after what the file holds, also when given a start", async () => {
        const file = tempPath(dir());
        const head = pattern(5000, 1);
        const tail = pattern(700_000, 2);
        fs.writeFileSync(file, head);
        await writeAll(createDontcacheWriteStream(file, { flags: 'a' }), chunked(tail, 33_333));
        expect(fileSha(file)).toBe(sha(Buffer.concat([head, tail])));
        // Linux appends with O_APPEND whatever the offset: start is moot, as with fs.
        await writeAll(createDontcacheWriteStream(file, { flags: 'a', start: 0, cache: 'writeback' }), [head]);
        expect(fileSha(file)).toBe(sha(Buffer.concat([head, tail, head])));
      });

      it('an O_APPEND descriptor given as fd appends too', async () => {
        const file = tempPath(dir());
        fs.writeFileSync(file, 'abc');
        const fd = fs.openSync(file, 'a');
        await writeAll(createDontcacheWriteStream(undefined, { fd }), [Buffer.from('def'), Buffer.from('ghi')]);
        expect(fs.readFileSync(file, 'utf8')).toBe('abcdefghi');
        expect(() => fs.fstatSync(fd)).toThrow(/EBADF/);
      });
    });

    describe('fd and FileHandle input', () => {
      it('a descriptor: writes at its current position, no open event; autoClose false keeps it open until destroy()', async () => {
        const file = tempPath(dir());
        const fd = fs.openSync(file, 'w+');
        fs.writeSync(fd, Buffer.from('0123456789'));
        const data = pattern(300_000, 8);
        const stream = createDontcacheWriteStream(null as unknown as undefined, { fd, autoClose: false });
        expect(stream.pending).toBe(false);
        const { events } = await writeAll(stream, chunked(data, 7000), 'finish');
        expect(events).toEqual(['finish']);
        // Without autoClose nothing closes by itself (as fs.WriteStream), and the
        // descriptor's offset moved past the stream's bytes.
        fs.writeSync(fd, Buffer.from('!'));
        // destroy() closes it, as fs.WriteStream's does.
        stream.destroy();
        await new Promise((r) => stream.once('close', r));
        expect(() => fs.fstatSync(fd)).toThrow(/EBADF/);
        expect(fileSha(file)).toBe(sha(Buffer.concat([Buffer.from('0123456789'), data, Buffer.from('!')])));
      });

      it('a FileHandle: written and closed by the stream', async () => {
        const file = tempPath(dir());
        const handle = await fsp.open(file, 'w');
        const data = pattern(500_000, 6);
        await writeAll(createDontcacheWriteStream(undefined, { fd: handle, start: 0 }), chunked(data, 64 * 1024));
        expect(handle.fd).toBe(-1);
        expect(fileSha(file)).toBe(sha(data));
      });
    });

    it('destroy() while a write is in flight closes the fd only after that write completed', async () => {
      const file = tempPath(dir());
      const big = pattern(64 * MiB, 7);
      const stream = createDontcacheWriteStream(file);
      await new Promise((r) => stream.once('ready', r));
      const fd = stream.fd as number;
      let sizeAtClose = -1;
      let fdOpenAtClose = false;
      stream.on('close', () => {
        sizeAtClose = fs.statSync(file).size;
        try {
          fs.fstatSync(fd);
          fdOpenAtClose = true;
        } catch {
          fdOpenAtClose = false;
        }
      });
      stream.write(big);
      stream.write(Buffer.from('never'));
      stream.destroy();
      await new Promise((r) => stream.once('close', r));
      // The in-flight 64 MiB write completed before close(2); the queued chunk was dropped.
      expect(sizeAtClose).toBe(big.length);
      expect(fdOpenAtClose).toBe(false);
      expect(stream.bytesWritten).toBe(big.length);
      expect(fileSha(file)).toBe(sha(big));
    });
  });
}

describe('stream contract (temp dir)', () => {
  const ext4 = testFs('ext4');
  const dir = () => ext4.dir ?? path.dirname(tempPath());

  it('write after end: ERR_STREAM_WRITE_AFTER_END', async () => {
    const stream = createDontcacheWriteStream(tempPath(dir()));
    const closed = closeOf(stream);
    const emitted = new Promise<Error>((resolve) => stream.on('error', resolve));
    stream.end('x');
    const error = await new Promise<Error>((resolve) => stream.write('y', resolve as (e?: Error | null) => void));
    expect(error).toMatchObject({ code: 'ERR_STREAM_WRITE_AFTER_END' });
    expect(await emitted).toBe(error);
    await closed;
  });

  it('writeLatency counts the chunks written: not one refused by a TypeError, nor those of a failed write, nor one after the error', async () => {
    const file = tempPath(dir());
    let calls = 0;
    // The third native write fails: its chunks are not written, and neither is anything after it.
    const failing = {
      ...fs,
      open: fs.open,
      close: fs.close,
      write: (...args: any[]) => {
        const cb = args[args.length - 1];
        if (++calls === 3) process.nextTick(cb, Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5, syscall: 'write' }));
        else Reflect.apply(fs.write, fs, args);
      },
      writev: undefined,
    };
    const stream = createDontcacheWriteStream(file, { fs: failing as any, highWaterMark: 4 });
    const closed = closeOf(stream);
    const failure = new Promise<Error>((resolve) => stream.on('error', resolve));
    const outcomes: Array<Error | null | undefined> = [];
    const write = (chunk: unknown) =>
      new Promise<void>((resolve) => stream.write(chunk as Buffer, (error) => resolve(void outcomes.push(error))));
    const first = write(Buffer.from('one'));
    expect(() => stream.write(42 as unknown as Buffer)).toThrow(TypeError);
    await first;
    await write(Buffer.from('two'));
    void write(Buffer.from('three'));
    void write(Buffer.from('four'));
    expect(await failure).toMatchObject({ code: 'EIO' });
    await write(Buffer.from('five'));
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe('onetwo');
    expect(outcomes.filter((e) => !e)).toHaveLength(2);
    expect(outcomes).toHaveLength(5);
    expect(stream.stats.writeLatency.count).toBe(2);
    expect(stream.stats.chunks).toBeGreaterThan(stream.stats.writeLatency.count);
  });

  it('errors on open: ENOENT with the path, no open event, close emitted', async () => {
    const file = path.join(dir(), 'no-such-dir', 'file');
    const stream = createDontcacheWriteStream(file);
    const closed = closeOf(stream);
    let opened = false;
    stream.on('open', () => (opened = true));
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => stream.on('error', resolve));
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open', path: file, errno: -2 });
    await closed;
    expect(opened).toBe(false);
    expect(stream.pending).toBe(true);
  });

  it('pipeline: a failing source destroys the stream and closes its fd; a failing sink rejects the pipeline', async () => {
    const file = tempPath(dir());
    const stream = createDontcacheWriteStream(file);
    async function* source() {
      yield pattern(100_000);
      throw new Error('source broke');
    }
    await expect(pipeline(Readable.from(source()), stream)).rejects.toThrow('source broke');
    expect(stream.destroyed).toBe(true);
    expect(stream.fd).toBeNull();

    const bad = createDontcacheWriteStream(path.join(dir(), 'missing', 'x'));
    await expect(pipeline(Readable.from([Buffer.from('data')]), bad)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('backpressure: false once highWaterMark bytes wait behind the batch in flight; at most 2 x highWaterMark held', async () => {
    const highWaterMark = 256 * 1024;
    const file = tempPath(dir());
    const data = pattern(16 * MiB, 21);
    const stream = createDontcacheWriteStream(file, { highWaterMark });
    const closed = closeOf(stream);
    // Bytes the stream holds: Writable's own count (queue and batch in flight);
    // the stream's writableLength counts only the queue behind the batch.
    const held = Object.getOwnPropertyDescriptor(Writable.prototype, 'writableLength')!.get!;
    let most = 0;
    let falses = 0;
    for (const part of chunked(data, 16 * 1024)) {
      const ok = stream.write(part);
      most = Math.max(most, held.call(stream));
      expect(stream.writableLength).toBeLessThanOrEqual(highWaterMark + 16 * 1024);
      if (!ok) {
        falses++;
        await new Promise((r) => stream.once('drain', r));
      }
    }
    stream.end();
    await closed;
    expect(fileSha(file)).toBe(sha(data));
    expect(falses).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2 * highWaterMark + 16 * 1024);
    // The next batch filled while one was being written.
    expect(most).toBeGreaterThan(highWaterMark + 16 * 1024);
  });

  it('pipeline and readable.pipe carry every byte', async () => {
    const data = pattern(5 * MiB + 1, 12);
    const a = tempPath(dir());
    await pipeline(Readable.from(chunked(data, 12_345)), createDontcacheWriteStream(a));
    expect(fileSha(a)).toBe(sha(data));
    const b = tempPath(dir());
    const sink = createDontcacheWriteStream(b);
    Readable.from(chunked(data, 100_000)).pipe(sink);
    await new Promise((r) => sink.once('close', r));
    expect(fileSha(b)).toBe(sha(data));
  });

  it('signal: aborting destroys the stream with an AbortError', async () => {
    const controller = new AbortController();
    const stream = createDontcacheWriteStream(tempPath(dir()), { signal: controller.signal });
    const closed = closeOf(stream);
    const error = new Promise<Error>((resolve) => stream.on('error', resolve));
    await new Promise((r) => stream.once('ready', r));
    controller.abort();
    expect((await error).name).toBe('AbortError');
    await closed;
    expect(stream.fd).toBeNull();
  });

  it('flush: true finishes with the data written; close(cb) ends and calls back on close', async () => {
    const file = tempPath(dir());
    const stream = createDontcacheWriteStream(file, { flush: true });
    stream.write(pattern(1000));
    await new Promise<void>((resolve, reject) => stream.close((e) => (e ? reject(e) : resolve())));
    expect(stream.closed).toBe(true);
    expect(fs.readFileSync(file).equals(pattern(1000))).toBe(true);
    await new Promise<void>((resolve) => stream.close(() => resolve()));
  });

  it('path and property shape as fs.WriteStream; bad options throw Node-coded errors', () => {
    const file = tempPath(dir());
    const stream = createDontcacheWriteStream(file, { emitClose: false });
    expect(stream).toBeInstanceOf(Writable);
    expect(stream.path).toBe(file);
    expect(stream.pending).toBe(true);
    expect(stream.bytesWritten).toBe(0);
    stream.destroy();
    expect(() => createDontcacheWriteStream(file, { cache: 'nope' as 'auto' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => createDontcacheWriteStream(file, { start: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => createDontcacheWriteStream(file, { highWaterMark: 'x' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => createDontcacheWriteStream(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => createDontcacheWriteStream(file, { windowSize: 5000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});
