// Real faults under createDontcacheWriteStream, each in a child Node process:
// ENOSPC mid-stream, EIO and EINTR injected into its pwritev2 and fdatasync, and
// EOPNOTSUPP injected into the Nth pwritev2 to force the fallback mid-file.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distUnavailableReason, runNodeChildOk, straceUnavailableReason, type ChildOptions } from '../helpers/faults';
import { testFs } from '../helpers/fs';
import { mountUnavailableReason, withMount, type FsKind } from '../helpers/mounts';
import { guardLeaks, tempDir } from './leaks';
import { MiB, expectFileEquals, expectSystemError, fillLeaving, makeInput, type ErrorShape } from './support';

guardLeaks();

interface StreamOutcome {
  finished: boolean;
  errors: ErrorShape[];
  fallbacks: { from: string; to: string; position: number; reason: ErrorShape }[];
  size: number;
  bytesWritten: number;
  strategy: string;
  syscalls: number;
  batches: number;
}

interface StreamSpec {
  bytes: number;
  chunk: number;
  cork?: boolean;
  options?: Record<string, unknown>;
}

const work = tempDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let outputs = 0;
function runStream(dir: string, spec: StreamSpec, child: ChildOptions = {}): { outcome: StreamOutcome; data: Buffer; output: string } {
  const { file, data } = makeInput(work, spec.bytes);
  const output = path.join(dir, `stream.${process.pid}.${outputs++}`);
  const outcome = runNodeChildOk<StreamOutcome>(
    'stream.js',
    [JSON.stringify({ input: file, output, chunk: spec.chunk, cork: spec.cork, options: spec.options ?? {} })],
    { env: { UV_THREADPOOL_SIZE: '1' }, ...child },
  );
  fs.rmSync(file);
  return { outcome, data, output };
}

/** The stream failed once with this error, claims exactly the file's bytes, and they are the input's prefix. */
function expectFailedWithPrefix(r: ReturnType<typeof runStream>, code: string, errno: number, syscall: string): void {
  expect(r.outcome.finished).toBe(false);
  expect(r.outcome.errors).toHaveLength(1);
  expectSystemError(r.outcome.errors[0], code, errno, syscall);
  expect(r.outcome.bytesWritten).toBe(r.outcome.size);
  expectFileEquals(r.output, r.data.subarray(0, r.outcome.size));
}

function expectComplete(r: ReturnType<typeof runStream>): void {
  expect(r.outcome.errors).toEqual([]);
  expect(r.outcome.finished).toBe(true);
  expect(r.outcome.bytesWritten).toBe(r.data.length);
  expectFileEquals(r.output, r.data);
}

const noDist = distUnavailableReason();

describe.skipIf(noDist !== undefined)(`ENOSPC mid-stream${noDist ? ` (skipped: ${noDist})` : ''}`, () => {
  // Each file system with the strategy 'auto' picks there: dontcache (ext4, XFS),
  // the writeback window (btrfs), plain writes (tmpfs).
  const cases: { kind: FsKind; sizeMiB: number }[] = [
    { kind: 'ext4', sizeMiB: 64 },
    { kind: 'xfs', sizeMiB: 300 },
    { kind: 'btrfs', sizeMiB: 256 },
    { kind: 'tmpfs', sizeMiB: 64 },
  ];
  for (const { kind, sizeMiB } of cases) {
    const reason = mountUnavailableReason(kind);
    it.skipIf(reason !== undefined)(`${kind}: 'error' with ENOSPC, bytesWritten = file size = a prefix of the input${reason ? ` (skipped: ${reason})` : ''}`, async () => {
      await withMount(kind, sizeMiB, (mount) => {
        fillLeaving(mount.dir, 12 * MiB);
        const r = runStream(mount.dir, { bytes: 48 * MiB, chunk: 256 * 1024 + 17, options: { windowSize: MiB } });
        expectFailedWithPrefix(r, 'ENOSPC', 28, 'pwritev2');
        expect(r.outcome.size).toBeGreaterThan(0);
      });
    });
  }
});

const noStrace = straceUnavailableReason();
const ext4 = testFs('ext4');
const skip = noStrace ?? (ext4.dir ? undefined : ext4.skip);
describe.skipIf(skip !== undefined)(`strace-injected faults under a stream on ext4${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const dir = () => ext4.dir!;

  it('EIO at the 4th pwritev2: one error, nothing after it claimed, the file is the claimed prefix', () => {
    const r = runStream(dir(), { bytes: 8 * MiB, chunk: 64 * 1024, options: { highWaterMark: 256 * 1024 } }, {
      inject: [{ syscall: 'pwritev2', error: 'EIO', when: '4' }],
    });
    expectFailedWithPrefix(r, 'EIO', 5, 'pwritev2');
    expect(r.outcome.size).toBeGreaterThan(0);
  });

  it('EIO at fdatasync with flush: true: the stream errors with syscall fdatasync, every byte was written', () => {
    const r = runStream(dir(), { bytes: 3 * MiB + 5, chunk: 100_000, options: { flush: true } }, {
      inject: [{ syscall: 'fdatasync', error: 'EIO' }],
    });
    expect(r.outcome.finished).toBe(false);
    expect(r.outcome.errors).toHaveLength(1);
    expectSystemError(r.outcome.errors[0], 'EIO', 5, 'fdatasync');
    expect(r.outcome.bytesWritten).toBe(r.data.length);
    expectFileEquals(r.output, r.data);
  });

  it.each(['dontcache', 'writeback', 'buffered'])('EINTR on every other pwritev2 (cache %s) is retried: the file is complete', (cache) => {
    const r = runStream(dir(), { bytes: 6 * MiB + 3, chunk: 40_000, options: { cache, windowSize: MiB } }, {
      inject: [{ syscall: 'pwritev2', error: 'EINTR', when: '1+2' }],
    });
    expectComplete(r);
  });

  describe('EOPNOTSUPP injected into the Nth pwritev2 (a file system that stops taking RWF_DONTCACHE)', () => {
    it.each(['writeback', 'buffered'])("fallback '%s': switches once, 'fallback' event, byte-exact file", (fallback) => {
      const r = runStream(dir(), { bytes: 5 * MiB + 11, chunk: 70_000, options: { cache: 'dontcache', fallback, highWaterMark: 128 * 1024 } }, {
        inject: [{ syscall: 'pwritev2', error: 'EOPNOTSUPP', when: '3' }],
      });
      expectComplete(r);
      expect(r.outcome.fallbacks).toHaveLength(1);
      expect(r.outcome.fallbacks[0]).toMatchObject({ from: 'dontcache', to: fallback });
      expect(r.outcome.fallbacks[0].reason).toMatchObject({ code: 'ENOTSUP', syscall: 'pwritev2' });
      expect(r.outcome.fallbacks[0].position).toBeGreaterThan(0);
      expect(r.outcome.strategy).toBe(fallback);
    });

    it('in the middle of one call of more than IOV_MAX chunks: the rest is written once, from the right byte', () => {
      // Corked: 3000 chunks go to one _writev, i.e. pwritev2 calls of 1024 iovecs; the 2nd fails.
      const r = runStream(dir(), { bytes: 3000 * 333, chunk: 333, cork: true, options: { cache: 'dontcache', highWaterMark: 4 * MiB } }, {
        inject: [{ syscall: 'pwritev2', error: 'EOPNOTSUPP', when: '2' }],
      });
      expectComplete(r);
      expect(r.outcome.batches).toBe(1);
      expect(r.outcome.fallbacks).toHaveLength(1);
      expect(r.outcome.fallbacks[0].reason.bytesWritten).toBe(1024 * 333);
    });

    it("fallback 'error': the stream errors with ENOTSUP and claims exactly the prefix in the file", () => {
      const r = runStream(dir(), { bytes: 4 * MiB, chunk: 64 * 1024, options: { cache: 'dontcache', fallback: 'error', highWaterMark: 128 * 1024 } }, {
        inject: [{ syscall: 'pwritev2', error: 'EOPNOTSUPP', when: '3' }],
      });
      expectFailedWithPrefix(r, 'ENOTSUP', 95, 'pwritev2');
      expect(r.outcome.fallbacks).toEqual([]);
    });

    it('refused again without the flag: no switch, ENOTSUP error, nothing doubled', () => {
      const r = runStream(dir(), { bytes: 4 * MiB, chunk: 64 * 1024, options: { cache: 'dontcache', highWaterMark: 128 * 1024 } }, {
        inject: [{ syscall: 'pwritev2', error: 'EOPNOTSUPP', when: '3+' }],
      });
      expectFailedWithPrefix(r, 'ENOTSUP', 95, 'pwritev2');
      expect(r.outcome.fallbacks).toEqual([]);
    });
  });

  describe('read stream', () => {
    interface ReadOutcome { ended: boolean; errors: ErrorShape[]; delivered: number; size: number; prefix: boolean }
    const source = () => {
      const { file, data } = makeInput(dir(), 3 * MiB + 77);
      return { file, data };
    };

    it('EINTR on every other preadv2 is retried: every byte is delivered, in order', () => {
      const { file } = source();
      const r = runNodeChildOk<ReadOutcome>('read-stream.js', [file, JSON.stringify({ cache: 'dontcache' })], {
        inject: [{ syscall: 'preadv2', error: 'EINTR', when: '1+2' }],
        env: { UV_THREADPOOL_SIZE: '1' },
      });
      fs.rmSync(file);
      expect(r).toEqual({ ended: true, errors: [], delivered: 3 * MiB + 77, size: 3 * MiB + 77, prefix: true });
    });

    it("EIO at the 5th preadv2: one 'error' with syscall preadv2, and what was delivered is a prefix of the file", () => {
      const { file } = source();
      const r = runNodeChildOk<ReadOutcome>('read-stream.js', [file, JSON.stringify({ cache: 'dontcache', highWaterMark: 65536 })], {
        inject: [{ syscall: 'preadv2', error: 'EIO', when: '5' }],
        env: { UV_THREADPOOL_SIZE: '1' },
      });
      fs.rmSync(file);
      expect(r.ended).toBe(false);
      expect(r.errors).toHaveLength(1);
      expectSystemError(r.errors[0], 'EIO', 5, 'preadv2');
      expect(r.prefix).toBe(true);
      expect(r.delivered).toBeLessThanOrEqual(4 * 65536);
    });
  });
});

