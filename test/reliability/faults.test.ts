// Real faults around the low-level write API, each in a child Node process:
// ENOSPC on small file systems, EIO/EINTR/short writes injected with strace, and
// a file-size limit (prlimit) that makes the kernel cut a write short.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  distUnavailableReason, prlimitUnavailableReason, runNodeChildOk, straceUnavailableReason, type ChildOptions,
} from '../helpers/faults';
import { mountUnavailableReason, withMount, type FsKind } from '../helpers/mounts';
import { guardLeaks, tempDir } from './leaks';
import { MiB, expectFileEquals, expectSystemError, fillLeaving, makeInput, type ErrorShape } from './support';

guardLeaks();

const MODES = ['sync', 'async', 'callback'] as const;
type Mode = (typeof MODES)[number];

interface WriteOutcome {
  results: { bytes?: number; error?: ErrorShape }[];
  sync?: { ok?: true; error?: ErrorShape };
  size: number;
}
interface WriteSpec {
  chunks: number[];
  position: number | null;
  flags?: number;
}

const work = tempDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Runs fixtures/write.js; input is a file of exactly the bytes all writes take. */
function runWrites(
  output: string,
  writes: WriteSpec[],
  mode: Mode,
  options: ChildOptions & { fdatasync?: 'sync' | 'async'; open?: string } = {},
): { outcome: WriteOutcome; data: Buffer } {
  const total = writes.reduce((sum, w) => sum + w.chunks.reduce((a, b) => a + b, 0), 0);
  const { file, data } = makeInput(work, total);
  const spec = { input: file, output, open: options.open ?? 'w+', mode, fdatasync: options.fdatasync, writes };
  const outcome = runNodeChildOk<WriteOutcome>('write.js', [JSON.stringify(spec)], options);
  fs.rmSync(file);
  return { outcome, data };
}

let outputs = 0;
const output = () => path.join(work, `out.${outputs++}`);
const chunks = (count: number, size: number) => Array.from({ length: count }, () => size);

describe('ENOSPC on a nearly full file system', () => {
  // A filler leaves `free` bytes; one write of 3x that must stop with ENOSPC where the
  // kernel said, and the error must claim exactly the bytes now in the file.
  const cases: { kind: FsKind; sizeMiB: number }[] = [
    { kind: 'ext4', sizeMiB: 64 },
    { kind: 'xfs', sizeMiB: 300 },
    { kind: 'tmpfs', sizeMiB: 64 },
  ];
  for (const { kind, sizeMiB } of cases) {
    const reason = mountUnavailableReason(kind) ?? distUnavailableReason();
    describe.skipIf(reason !== undefined)(`${kind} ${sizeMiB} MiB${reason ? ` (skipped: ${reason})` : ''}`, () => {
      it.each(MODES)('one %s pwritev2 larger than the free space reports the prefix it wrote', async (mode) => {
        await withMount(kind, sizeMiB, (mount) => {
          fillLeaving(mount.dir, 8 * MiB);
          const output = path.join(mount.dir, 'out');
          // Odd-sized buffers: the cut falls inside one of them.
          const { outcome, data } = runWrites(output, [{ chunks: chunks(24, MiB + 4093), position: 0 }], mode);
          const [result] = outcome.results;
          expectSystemError(result.error, 'ENOSPC', 28, 'pwritev2');
          expect(result.error!.bytesWritten).toBe(outcome.size);
          expect(outcome.size).toBeGreaterThan(0);
          expect(outcome.size).toBeLessThan(data.length);
          expectFileEquals(output, data.subarray(0, outcome.size));
        });
      });

      it('writes that fill the file system one by one: earlier ones complete, the failing one claims its prefix', async () => {
        await withMount(kind, Math.min(sizeMiB, 300), (mount) => {
          fillLeaving(mount.dir, 20 * MiB);
          const output = path.join(mount.dir, 'out');
          const { bavail, bsize } = fs.statfsSync(mount.dir);
          const count = Math.ceil((bavail * bsize) / (4 * MiB)) + 2;
          const { outcome, data } = runWrites(output, chunks(count, 1).map(() => ({ chunks: [4 * MiB], position: null })), 'async');
          const last = outcome.results[outcome.results.length - 1];
          expectSystemError(last.error, 'ENOSPC', 28, 'pwritev2');
          const complete = outcome.results.slice(0, -1);
          for (const r of complete) expect(r.bytes).toBe(4 * MiB);
          expect(complete.length * 4 * MiB + last.error!.bytesWritten!).toBe(outcome.size);
          expectFileEquals(output, data.subarray(0, outcome.size));
        });
      });
    });
  }
});

const noStrace = straceUnavailableReason();
describe.skipIf(noStrace !== undefined)(`strace-injected faults${noStrace ? ` (skipped: ${noStrace})` : ''}`, () => {

  it.each(MODES)('EIO at the 2nd pwritev2 of one %s call (more than IOV_MAX buffers): the first batch is claimed, nothing more', (mode) => {
    const out = output();
    // 1500 buffers: IOV_MAX (1024) go in the first pwritev2, the rest in the second.
    const { outcome, data } = runWrites(out, [{ chunks: chunks(1500, 4096), position: 0 }], mode, {
      inject: [{ syscall: 'pwritev2', error: 'EIO', when: '2' }],
      env: { UV_THREADPOOL_SIZE: '1' },
    });
    const [result] = outcome.results;
    expectSystemError(result.error, 'EIO', 5, 'pwritev2');
    expect(result.error!.bytesWritten).toBe(1024 * 4096);
    expect(outcome.size).toBe(1024 * 4096);
    expectFileEquals(out, data.subarray(0, 1024 * 4096));
  });

  it.each(MODES)('EIO at the 3rd of five %s writes at the file position: two complete, the third claims 0', (mode) => {
    const out = output();
    const writes = chunks(5, MiB).map(() => ({ chunks: [MiB / 2, MiB / 2], position: null }));
    const { outcome, data } = runWrites(out, writes, mode, {
      inject: [{ syscall: 'pwritev2', error: 'EIO', when: '3' }],
      env: { UV_THREADPOOL_SIZE: '1' },
    });
    expect(outcome.results.map((r) => r.bytes)).toEqual([MiB, MiB, undefined]);
    expectSystemError(outcome.results[2].error, 'EIO', 5, 'pwritev2');
    expect(outcome.results[2].error!.bytesWritten).toBe(0);
    expectFileEquals(out, data.subarray(0, 2 * MiB));
  });

  it.each(['sync', 'async'] as const)('EIO from %s fdatasync surfaces with syscall fdatasync', (how) => {
    const out = output();
    const { outcome, data } = runWrites(out, [{ chunks: [65536, 3], position: 0, flags: 0x80 }], 'async', {
      inject: [{ syscall: 'fdatasync', error: 'EIO' }],
      fdatasync: how,
    });
    expect(outcome.results[0].bytes).toBe(65539);
    expectSystemError(outcome.sync?.error, 'EIO', 5, 'fdatasync');
    expect(outcome.sync?.error?.bytesWritten).toBeUndefined();
    expectFileEquals(out, data);
  });

  it.each(MODES)('EINTR on the first three pwritev2 of a %s call is retried and the write completes', (mode) => {
    const out = output();
    const { outcome, data } = runWrites(out, [{ chunks: chunks(1100, 1000), position: 4096 }], mode, {
      inject: [
        { syscall: 'pwritev2', error: 'EINTR', when: '1..3' },
        { syscall: 'fdatasync', error: 'EINTR', when: '1' },
      ],
      env: { UV_THREADPOOL_SIZE: '1' },
      fdatasync: 'async',
    });
    expect(outcome.results[0]).toEqual({ bytes: 1_100_000 });
    expect(outcome.sync).toEqual({ ok: true });
    expectFileEquals(out, Buffer.concat([Buffer.alloc(4096), data]));
  });

  const SHORT = [1, 4097, 3 * 4096 + 5].flatMap((claimed) => MODES.map((mode) => [claimed, mode] as const));
  it.each(SHORT)('pwritev2 claiming %i bytes (retval) in a %s write: the rest lands right after them', (claimed, mode) => {
    // strace's retval= skips the call and claims `claimed` bytes, so those stay a hole:
    // the rest must follow at the right offsets, from the right place inside the iovecs.
    const out = output();
    const per = 4096 * 3 + 107;
    const writes = [0, 1, 2].map((i) => ({ chunks: [4096, 4096, 100, 4096, 7], position: i * per }));
    const { outcome, data } = runWrites(out, writes, mode, {
      inject: [{ syscall: 'pwritev2', retval: claimed, when: '1+2' }], // calls 1, 3, 5: the first of each write
      env: { UV_THREADPOOL_SIZE: '1' },
    });
    expect(outcome.results).toEqual(writes.map(() => ({ bytes: per })));
    const expected = Buffer.from(data);
    for (const w of writes) expected.fill(0, w.position, w.position + claimed);
    expectFileEquals(out, expected);
  });

  it.each(MODES)('a %s pwritev2 that returns 0 for a non-empty write fails with EIO, claiming what came before', (mode) => {
    const out = output();
    const { outcome, data } = runWrites(out, [{ chunks: chunks(1100, 512), position: 0 }], mode, {
      inject: [{ syscall: 'pwritev2', retval: 0, when: '2' }],
      env: { UV_THREADPOOL_SIZE: '1' },
    });
    expectSystemError(outcome.results[0].error, 'EIO', 5, 'pwritev2');
    expect(outcome.results[0].error!.bytesWritten).toBe(1024 * 512);
    expectFileEquals(out, data.subarray(0, 1024 * 512));
  });
});

const noPrlimit = prlimitUnavailableReason();
describe.skipIf(noPrlimit !== undefined)(`file-size limit (prlimit --fsize)${noPrlimit ? ` (skipped: ${noPrlimit})` : ''}`, () => {
  const LIMIT = MiB + 12345;

  it.each(MODES)('a %s write across the limit is cut short by the kernel, then EFBIG claims exactly the prefix', (mode) => {
    const out = output();
    const { outcome, data } = runWrites(out, [{ chunks: [700_000, 700_000, 700_000], position: 5000 }], mode, {
      fsize: LIMIT,
    });
    const [result] = outcome.results;
    expectSystemError(result.error, 'EFBIG', 27, 'pwritev2');
    expect(result.error!.bytesWritten).toBe(LIMIT - 5000);
    expect(outcome.size).toBe(LIMIT);
    expectFileEquals(out, Buffer.concat([Buffer.alloc(5000), data.subarray(0, LIMIT - 5000)]));
  });

  it('writes up to the limit exactly succeed; the next one fails with nothing claimed (SIGXFSZ is ignored)', () => {
    const out = output();
    const { outcome, data } = runWrites(
      out,
      [{ chunks: [LIMIT - 10], position: null }, { chunks: [10], position: null }, { chunks: [1], position: null }],
      'async',
      { fsize: LIMIT },
    );
    expect(outcome.results.slice(0, 2)).toEqual([{ bytes: LIMIT - 10 }, { bytes: 10 }]);
    expectSystemError(outcome.results[2].error, 'EFBIG', 27, 'pwritev2');
    expect(outcome.results[2].error!.bytesWritten).toBe(0);
    expectFileEquals(out, data.subarray(0, LIMIT));
  });
});
