import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as dc from '../src/index';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';
import { cachestatMissing, residentPages } from './helpers/residency';

const { RWF_DONTCACHE, IOV_MAX, PAGE_SIZE } = dc.constants;
const ext4 = testFs('ext4');
const MiB = 1024 * 1024;

afterAll(cleanupTempFiles);

/** Seeded bytes repeating with a prime period, so a misplaced block shows. */
function pattern(size: number, seed = 1): Buffer {
  const block = crypto.createHash('sha512').update(String(seed)).digest();
  const period = Buffer.alloc(4093, block);
  for (let i = 0; i < period.length; i += 64) crypto.createHash('sha512').update(`${seed}:${i}`).digest().copy(period, i);
  return Buffer.alloc(size, period);
}

function openNew(dir?: string): { fd: number; file: string } {
  const file = tempPath(dir);
  return { fd: fs.openSync(file, 'w+'), file };
}

describe('round trips', () => {
  const source = pattern(64 * 1024);
  const views: [string, NodeJS.ArrayBufferView][] = [
    ['Buffer', Buffer.from(source)],
    ['Uint8Array', new Uint8Array(source)],
    ['Uint16Array', new Uint16Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.length))],
    ['Float64Array', new Float64Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.length))],
    ['BigInt64Array', new BigInt64Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.length))],
    ['DataView', new DataView(source.buffer.slice(source.byteOffset, source.byteOffset + source.length))],
    ['offset subarray', Buffer.concat([Buffer.alloc(13), source]).subarray(13)],
  ];

  for (const [name, view] of views) {
    it(`writes and reads back a ${name} (async and sync)`, async () => {
      const { fd, file } = openNew();
      try {
        expect(await dc.pwritev2(fd, view, 0, RWF_DONTCACHE)).toBe(source.length);
        expect(dc.pwritev2Sync(fd, [view], source.length)).toBe(source.length);
        expect(fs.readFileSync(file).equals(Buffer.concat([source, source]))).toBe(true);
        const back = Buffer.alloc(source.length);
        expect(await dc.preadv2(fd, back, 0)).toBe(source.length);
        expect(back.equals(source)).toBe(true);
        const backSync = new Uint8Array(source.length);
        expect(dc.preadv2Sync(fd, [backSync.subarray(0, 100), backSync.subarray(100)], source.length)).toBe(source.length);
        expect(Buffer.from(backSync).equals(source)).toBe(true);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  it('writes more than IOV_MAX buffers in one call, in several syscalls', async () => {
    const parts = Array.from({ length: 3000 }, (_, i) => pattern(100 + (i % 7), i));
    const expected = Buffer.concat(parts);
    const { fd, file } = openNew();
    try {
      const timing = await dc.pwritev2Timed(fd, parts, 0);
      expect(timing.bytes).toBe(expected.length);
      expect(timing.syscalls).toBeGreaterThanOrEqual(Math.ceil(3000 / IOV_MAX));
      expect(timing.syscallNs).toBeGreaterThan(0);
      expect(dc.pwritev2Sync(fd, parts, expected.length)).toBe(expected.length);
      expect(fs.readFileSync(file).equals(Buffer.concat([expected, expected]))).toBe(true);
      // One read takes at most IOV_MAX buffers.
      const targets = parts.map((p) => Buffer.alloc(p.length));
      const read = await dc.preadv2(fd, targets, 0);
      const firstBatch = parts.slice(0, IOV_MAX).reduce((n, p) => n + p.length, 0);
      expect(read).toBe(firstBatch);
      expect(Buffer.concat(targets).subarray(0, read).equals(expected.subarray(0, read))).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('treats empty buffers and an empty array as a zero-byte write', async () => {
    const { fd, file } = openNew();
    try {
      expect(await dc.pwritev2(fd, [], 0)).toBe(0);
      expect(dc.pwritev2Sync(fd, [Buffer.alloc(0), Buffer.from('ab'), Buffer.alloc(0)], 0)).toBe(2);
      expect(fs.readFileSync(file, 'utf8')).toBe('ab');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('position -1 and null use and advance the file position', async () => {
    const { fd, file } = openNew();
    try {
      await dc.pwritev2(fd, Buffer.from('one,'), -1);
      await dc.pwritev2(fd, [Buffer.from('two'), Buffer.from(',')], null);
      dc.pwritev2Sync(fd, Buffer.from('three,'), -1);
      fs.writeSync(fd, 'four');
      expect(fs.readFileSync(file, 'utf8')).toBe('one,two,three,four');
      await dc.pwritev2(fd, Buffer.from('ONE'), 0);
      fs.writeSync(fd, '!');
      expect(fs.readFileSync(file, 'utf8')).toBe('ONE,two,three,four!');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('accepts bigint positions past 4 GiB', async () => {
    const { fd, file } = openNew();
    try {
      const at = 5n * 1024n ** 3n + 123n;
      await dc.pwritev2(fd, Buffer.from('far away'), at);
      expect(fs.statSync(file).size).toBe(Number(at) + 8);
      const back = Buffer.alloc(8);
      expect(await dc.preadv2(fd, back, at)).toBe(8);
      expect(back.toString()).toBe('far away');
      expect(dc.preadv2Sync(fd, back, Number(at) + 4)).toBe(4);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reads return what one read gives, 0 at the end of the file', async () => {
    const { fd } = openNew();
    try {
      dc.pwritev2Sync(fd, Buffer.from('0123456789'), 0);
      const buf = Buffer.alloc(8);
      expect(await dc.preadv2(fd, buf, 6)).toBe(4);
      expect(buf.subarray(0, 4).toString()).toBe('6789');
      expect(await dc.preadv2(fd, buf, 10)).toBe(0);
      expect(dc.preadv2Sync(fd, buf, 1000)).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('preadv2Timed reads like preadv2 and tells the one syscall and its time', async () => {
    const { fd } = openNew();
    try {
      dc.pwritev2Sync(fd, Buffer.from('0123456789'), 0);
      const [a, b] = [Buffer.alloc(3), Buffer.alloc(8)];
      const timing = await dc.preadv2Timed(fd, [a, b], 1);
      expect(timing).toEqual({ bytes: 9, syscalls: 1, syscallNs: expect.any(Number) });
      expect(timing.syscallNs).toBeGreaterThan(0);
      expect(Buffer.concat([a, b]).subarray(0, 9).toString()).toBe('123456789');
      expect(await dc.preadv2Timed(fd, a, 10)).toMatchObject({ bytes: 0, syscalls: 1 });
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe.skipIf(!ext4.dir)(`more than 2 GiB in one call (ext4) ${ext4.skip ?? ''}`, () => {
  it('writes it all, split at the per-call cap', async () => {
    const gib = pattern(1024 * MiB, 3);
    const tail = pattern(MiB + 17, 4);
    const { fd, file } = openNew(ext4.dir);
    try {
      const timing = await dc.pwritev2Timed(fd, [gib, gib, tail], 0);
      const total = 2 * gib.length + tail.length;
      expect(timing.bytes).toBe(total);
      expect(timing.syscalls).toBeGreaterThanOrEqual(2);
      expect(fs.statSync(file).size).toBe(total);
      const chunk = Buffer.alloc(64 * MiB);
      const expected = [gib, gib, tail];
      let offset = 0;
      for (const part of expected) {
        for (let at = 0; at < part.length; at += chunk.length) {
          const n = Math.min(chunk.length, part.length - at);
          expect(dc.preadv2Sync(fd, chunk.subarray(0, n), offset + at)).toBe(n);
          expect(chunk.subarray(0, n).equals(part.subarray(at, at + n))).toBe(true);
        }
        offset += part.length;
      }
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  });
});

for (const kind of ['ext4', 'xfs'] as const) {
  const target = testFs(kind);
  describe.skipIf(!target.dir)(`RWF_DONTCACHE on ${kind} ${target.skip ?? ''}`, () => {
    // DONTCACHE_RESIDENCY_MIB=1024 reproduces the 1 GiB figure of the README.
    const sizeMiB = Number(process.env.DONTCACHE_RESIDENCY_MIB ?? 64);
    it(`leaves ${sizeMiB} MiB out of the page cache, while plain writes stay cached`, async () => {
      const block = pattern(MiB, 5);
      const pages = (sizeMiB * MiB) / PAGE_SIZE;
      const cached: Record<string, number> = {};
      for (const [name, flags] of [['dontcache', RWF_DONTCACHE], ['buffered', 0]] as const) {
        const { fd } = openNew(target.dir);
        try {
          for (let i = 0; i < sizeMiB; i++) await dc.pwritev2(fd, block, i * MiB, flags);
          await dc.fdatasync(fd);
          cached[name] = residentPages(fd);
          console.log(`${kind} ${name}: ${sizeMiB} MiB written, ${cached[name]} of ${pages} pages cached`);
          const back = Buffer.alloc(MiB);
          for (const i of [0, sizeMiB >> 1, sizeMiB - 1]) {
            expect(dc.preadv2Sync(fd, back, i * MiB, flags)).toBe(MiB);
            expect(back.equals(block)).toBe(true);
          }
        } finally {
          fs.closeSync(fd);
        }
      }
      expect(cached.dontcache).toBeLessThanOrEqual(pages * 0.01);
      expect(cached.buffered).toBeGreaterThanOrEqual(pages * 0.9);
    });

    it('reads with RWF_DONTCACHE leave an uncached file uncached', async () => {
      const data = pattern(4 * MiB, 6);
      const { fd } = openNew(target.dir);
      try {
        dc.pwritev2Sync(fd, data, 0);
        dc.fdatasyncSync(fd);
        dc.fadviseSync(fd, 0, 0, dc.constants.POSIX_FADV_DONTNEED);
        expect(residentPages(fd)).toBe(0);
        const back = Buffer.alloc(data.length);
        let done = 0;
        while (done < back.length) done += await dc.preadv2(fd, back.subarray(done), done, RWF_DONTCACHE);
        expect(back.equals(data)).toBe(true);
        expect(residentPages(fd)).toBeLessThanOrEqual(data.length / PAGE_SIZE / 100);
      } finally {
        fs.closeSync(fd);
      }
    });
  });
}

for (const kind of ['tmpfs', 'btrfs'] as const) {
  const target = testFs(kind);
  describe.skipIf(!target.dir)(`${kind} refuses RWF_DONTCACHE ${target.skip ?? ''}`, () => {
    it('rejects with ENOTSUP (EOPNOTSUPP) and writes nothing', async () => {
      const { fd, file } = openNew(target.dir);
      try {
        const error = await dc.pwritev2(fd, Buffer.from('data'), 0, RWF_DONTCACHE).catch((e) => e);
        expect(error).toMatchObject({ code: 'ENOTSUP', errno: -95, syscall: 'pwritev2', bytesWritten: 0 });
        expect(error.message).toMatch(/^ENOTSUP: operation not supported, pwritev2 \(the kernel or file system refused flags RWF_DONTCACHE \(0x80\); /);
        expect(() => dc.pwritev2Sync(fd, Buffer.from('data'), 0, RWF_DONTCACHE)).toThrow(
          expect.objectContaining({ code: 'ENOTSUP', syscall: 'pwritev2' }),
        );
        expect(fs.statSync(file).size).toBe(0);
        expect(await dc.pwritev2(fd, Buffer.from('data'), 0)).toBe(4);
      } finally {
        fs.closeSync(fd);
      }
    });
  });
}

describe('system errors', () => {
  it('ENOTSUP on a regular file says "operation not supported" and names the refused flags', async () => {
    const { fd, file } = openNew();
    try {
      // 0x200 is a flag no kernel knows yet, refused everywhere with EOPNOTSUPP.
      const flags = dc.constants.RWF_DONTCACHE | 0x200;
      const error = await dc.pwritev2(fd, Buffer.from('data'), 0, flags).catch((e) => e);
      expect(error).toMatchObject({ code: 'ENOTSUP', errno: -95, syscall: 'pwritev2', bytesWritten: 0 });
      expect(error.message).toBe(
        'ENOTSUP: operation not supported, pwritev2 (the kernel or file system refused flags RWF_DONTCACHE|0x200 (0x280); ' +
          'RWF_DONTCACHE needs Linux 6.14+ and a file system that supports it)',
      );
      expect(() => dc.preadv2Sync(fd, Buffer.alloc(4), 0, 0x200 | dc.constants.RWF_HIPRI)).toThrow(
        'ENOTSUP: operation not supported, preadv2 (the kernel or file system refused flags RWF_HIPRI|0x200 (0x201))',
      );
      expect(fs.statSync(file).size).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('EBADF for an fd that is not open, like node:fs', async () => {
    const error = await dc.pwritev2(987654, Buffer.from('x'), 0).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'pwritev2', message: 'EBADF: bad file descriptor, pwritev2' });
    expect(() => dc.preadv2Sync(987654, Buffer.alloc(1), 0)).toThrow('EBADF: bad file descriptor, preadv2');
  });

  it('EBADF for a closed fd, from every call', async () => {
    const { fd } = openNew();
    fs.closeSync(fd);
    const calls: [string, () => unknown][] = [
      ['pwritev2', () => dc.pwritev2(fd, Buffer.from('x'), 0)],
      ['preadv2', () => dc.preadv2(fd, Buffer.alloc(1), 0)],
      ['preadv2', () => dc.preadv2Timed(fd, Buffer.alloc(1), 0)],
      ['fdatasync', () => dc.fdatasync(fd)],
      ['fsync', () => dc.fsync(fd)],
      ['sync_file_range', () => dc.syncFileRange(fd, 0, 0, dc.constants.SYNC_FILE_RANGE_WRITE)],
      ['posix_fadvise', () => dc.fadvise(fd, 0, 0, dc.constants.POSIX_FADV_DONTNEED)],
      ['cachestat', () => dc.cachestat(fd)],
      ['mincore', () => dc.mincoreResidency(fd)],
    ];
    // Where cachestat(2) is missing it answers ENOSYS before it looks at the fd.
    const testable = ([syscall]: [string, unknown]) => syscall !== 'cachestat' || !cachestatMissing;
    for (const [syscall, run] of calls.filter(testable)) {
      await expect(run()).rejects.toMatchObject({ code: 'EBADF', errno: -9, syscall });
    }
    const syncCalls: [string, () => unknown][] = [
      ['pwritev2', () => dc.pwritev2Sync(fd, Buffer.from('x'), 0)],
      ['preadv2', () => dc.preadv2Sync(fd, Buffer.alloc(1), 0)],
      ['fdatasync', () => dc.fdatasyncSync(fd)],
      ['fsync', () => dc.fsyncSync(fd)],
      ['sync_file_range', () => dc.syncFileRangeSync(fd, 0, 0, dc.constants.SYNC_FILE_RANGE_WRITE)],
      ['posix_fadvise', () => dc.fadviseSync(fd, 0, 0, dc.constants.POSIX_FADV_DONTNEED)],
      ['cachestat', () => dc.cachestatSync(fd)],
      ['mincore', () => dc.mincoreResidencySync(fd)],
    ];
    for (const [syscall, run] of syncCalls.filter(testable)) {
      expect(run).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9, syscall }));
    }
  });

  it('passes unknown flag bits to the kernel, which refuses them', async () => {
    const { fd, file } = openNew();
    try {
      await expect(dc.pwritev2(fd, Buffer.from('x'), 0, 0x40000000)).rejects.toMatchObject({ code: 'ENOTSUP', syscall: 'pwritev2' });
      expect(fs.statSync(file).size).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('bad arguments throw before any syscall', () => {
  const buf = Buffer.from('x');
  const cases: [string, unknown[], string, string][] = [
    ['fd string', ['1', buf, 0, 0], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['fd negative', [-1, buf, 0, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['fd fractional', [1.5, buf, 0, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['fd NaN', [NaN, buf, 0, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['fd too big', [2 ** 31, buf, 0, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['buffers string', [0, 'text', 0, 0], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['buffers ArrayBuffer', [0, new ArrayBuffer(4), 0, 0], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['buffers array with a number', [0, [buf, 3], 0, 0], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['buffers undefined', [0, undefined, 0, 0], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['position -2', [0, buf, -2, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['position fractional', [0, buf, 1.5, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['position unsafe', [0, buf, 2 ** 53, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['position Infinity', [0, buf, Infinity, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['position bigint -2', [0, buf, -2n, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['position bigint 2^63', [0, buf, 2n ** 63n, 0], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['position string', [0, buf, '0', 0], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['flags negative', [0, buf, 0, -1], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['flags 2^32', [0, buf, 0, 2 ** 32], 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['flags string', [0, buf, 0, '128'], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['flags fractional', [0, buf, 0, 0.5], 'RangeError', 'ERR_OUT_OF_RANGE'],
  ];
  for (const [name, args, type, code] of cases) {
    it(`${name}: ${type} ${code}`, async () => {
      const { fd, file } = openNew();
      try {
        const real = args.map((a, i) => (i === 0 && a === 0 ? fd : a));
        for (const fn of [dc.pwritev2Sync, dc.preadv2Sync] as ((...a: unknown[]) => unknown)[]) {
          let thrown: unknown;
          try {
            fn(...real);
          } catch (error) {
            thrown = error;
          }
          expect(thrown).toBeInstanceOf(type === 'TypeError' ? TypeError : RangeError);
          expect(thrown).toMatchObject({ code });
        }
        for (const fn of [dc.pwritev2, dc.preadv2, dc.pwritev2Timed, dc.preadv2Timed] as ((...a: unknown[]) => Promise<unknown>)[]) {
          const error = await fn(...real).catch((e) => e);
          expect(error).toBeInstanceOf(type === 'TypeError' ? TypeError : RangeError);
          expect(error).toMatchObject({ code });
        }
        expect(fs.statSync(file).size).toBe(0);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  it('states the true range: a Number position stops at 2^53 - 1, a bigint goes on to 2^63 - 1', () => {
    const { fd } = openNew();
    try {
      // Node's wording (validateInteger / ERR_OUT_OF_RANGE), separators included.
      expect(() => dc.pwritev2Sync(fd, buf, 2 ** 53, 0)).toThrow(
        'The value of "position" is out of range. It must be >= -1 && <= 9007199254740991. Received 9_007_199_254_740_992',
      );
      expect(() => dc.preadv2Sync(fd, buf, 1.5, 0)).toThrow('The value of "position" is out of range. It must be an integer. Received 1.5');
      expect(() => dc.pwritev2Sync(fd, buf, 2n ** 63n, 0)).toThrow(
        'It must be >= -1 && <= 9223372036854775807. Received 9_223_372_036_854_775_808n',
      );
      expect(() => dc.cachestatSync(fd, 2 ** 53)).toThrow('It must be >= 0 && <= 9007199254740991. Received 9_007_199_254_740_992');
      // 2^53 - 1 itself passes the check and reaches the kernel (which refuses it for the file size).
      expect(() => dc.pwritev2Sync(fd, buf, 2 ** 53 - 1, 0)).toThrow(expect.objectContaining({ syscall: 'pwritev2' }));
    } finally {
      fs.closeSync(fd);
    }
  });

  it('alignmentOffset: a RangeError with a code for an alignment that is not a power of two, a TypeError for an array', () => {
    expect(() => dc.alignmentOffset(Buffer.alloc(8), 3)).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE', message: "The argument 'alignment' must be a power of two. Received 3" }),
    );
    expect(() => dc.alignmentOffset(Buffer.alloc(8), 0)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => dc.alignmentOffset(Buffer.alloc(8), 2 ** 32)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => dc.alignmentOffset([Buffer.alloc(8)] as never, 8)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"view" argument') }),
    );
  });

  it('the callback forms check the callback after the other arguments, as node:fs does', () => {
    expect(() => dc.pwritev2Callback(-1, buf, 0, 0, undefined as never)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => dc.preadv2Callback(0, 'x' as never, 0, 0, undefined as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"buffers"') }),
    );
    expect(() => dc.pwritev2Callback(0, buf, 0, 0, null as never)).toThrow(
      'The "callback" argument must be of type function. Received null',
    );
  });

  it('checks offsets, lengths and advice of the other calls', () => {
    const { fd } = openNew();
    try {
      expect(() => dc.syncFileRangeSync(fd, -1, 0, 0)).toThrow(RangeError);
      expect(() => dc.fadviseSync(fd, 0, 0, 1.5)).toThrow(RangeError);
      expect(() => dc.cachestatSync(fd, 'a' as never)).toThrow(TypeError);
      expect(() => dc.fdatasyncSync('x' as never)).toThrow(TypeError);
      expect(() => dc.alignmentOffset(Buffer.alloc(8), 3)).toThrow(RangeError);
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('cache control calls', () => {
  it.skipIf(cachestatMissing)(`sync_file_range + fadvise DONTNEED empty the cache; cachestat and mincore agree ${cachestatMissing ?? ''}`, async () => {
    const { fd } = openNew();
    try {
      const data = pattern(2 * MiB);
      await dc.pwritev2(fd, data, 0);
      const before = await dc.cachestat(fd, 0, 0);
      expect(before.cache).toBe(data.length / PAGE_SIZE);
      expect((await dc.mincoreResidency(fd)).resident).toBe(before.cache);
      const { SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER, POSIX_FADV_DONTNEED } = dc.constants;
      await dc.syncFileRange(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      expect((await dc.cachestat(fd)).dirty).toBe(0);
      await dc.fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      const after = dc.cachestatSync(fd, 0n, BigInt(data.length));
      expect(after.cache).toBe(0);
      expect(dc.mincoreResidencySync(fd)).toEqual({ resident: 0, pages: data.length / PAGE_SIZE });
      await dc.fsync(fd);
      dc.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('alignmentOffset finds an aligned start', () => {
    const raw = Buffer.allocUnsafeSlow(3 * 4096);
    const skip = dc.alignmentOffset(raw, 4096);
    expect(skip).toBeGreaterThanOrEqual(0);
    expect(skip).toBeLessThan(4096);
    expect(dc.alignmentOffset(raw.subarray(skip), 4096)).toBe(0);
  });
});

describe('buffers stay alive until their write completes', () => {
  it('thousands of concurrent writes of dropped buffers under GC are byte-exact', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'tests run with --expose-gc').toBeTypeOf('function');
    const { fd, file } = openNew();
    const count = 4000;
    const size = 4096;
    try {
      const writes: Promise<number>[] = [];
      for (let i = 0; i < count; i++) {
        // Only the native layer holds these buffers (and the array) once queued.
        const chunk = () => crypto.createHash('sha256').update(String(i)).digest();
        const parts = Array.from({ length: size / 32 }, chunk);
        writes.push(dc.pwritev2(fd, i % 2 ? parts : Buffer.concat(parts), i * size, i % 3 ? 0 : RWF_DONTCACHE));
        if (i % 500 === 0) gc!();
      }
      const pending = Promise.all(writes);
      for (let i = 0; i < 5; i++) {
        gc!();
        await new Promise((r) => setImmediate(r));
      }
      expect(await pending).toEqual(new Array(count).fill(size));
      const content = fs.readFileSync(file);
      for (let i = 0; i < count; i++) {
        const digest = crypto.createHash('sha256').update(String(i)).digest();
        for (let at = 0; at < size; at += 32) {
          expect(content.subarray(i * size + at, i * size + at + 32).equals(digest)).toBe(true);
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('replacing the caller array entries after the call does not matter', async () => {
    const { fd, file } = openNew();
    try {
      const parts = [Buffer.from('abc'), Buffer.from('def')];
      const writing = dc.pwritev2(fd, parts, 0);
      parts[0] = Buffer.from('XXX');
      parts.length = 0;
      (globalThis as { gc?: () => void }).gc?.();
      await writing;
      expect(fs.readFileSync(file, 'utf8')).toBe('abcdef');
    } finally {
      fs.closeSync(fd);
    }
  });
});
