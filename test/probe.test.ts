// probe(dir) on real file systems: the run's shared loop mounts and this kernel.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probe, releaseEvidence, type ProbeResult } from '../src/probe';
import { testFs } from './helpers/fs';
import { withMount } from './helpers/mounts';

/** What this kernel's release says; on this machine (6.18) 'inline-flush'. */
const expectedWriteback = releaseEvidence(os.release()).says;

/**
 * Whether dontcache overwrites are dropped, measured on this machine's 6.18 (kernel.md,
 * "Drop-behind can be skipped"): ext4 skips the drop (buffer_head writeback completes in
 * interrupt context), XFS drops. Other kernels are measured by the kernel matrix.
 */
const OVERWRITE_DROPPED_618: Record<string, boolean> = { ext4: false, xfs: true };
const on618 = /^6\.18\./.test(os.release());

const probeLeftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('.dontcache-probe.'));

function evidenceOf(result: ProbeResult, source: string) {
  return result.evidence.find((e) => e.source === source)!;
}

describe.each(['ext4', 'xfs'] as const)('probe on %s', (kind) => {
  const mount = testFs(kind);
  if (!mount.dir) console.warn(`[probe] skipping ${kind}: ${mount.skip}`);

  it.skipIf(!mount.dir)('supports dontcache write and read; the verdict matches this kernel', async () => {
    const result = await probe(mount.dir!);
    expect(result).toMatchObject({ kernel: os.release(), fsType: kind, dontcacheWrite: true, dontcacheRead: true });
    expect(result.refusedWith).toBeUndefined();
    expect(result.writeback).toBe(expectedWriteback);
    // The empirical test ran and agrees with the verdict: observation, not just the release number.
    expect(evidenceOf(result, 'cachestat')).toMatchObject({ says: expectedWriteback, weight: 'strong' });
    expect(result.evidence.map((e) => e.source)).toEqual(['release', 'tracefs', 'kallsyms', 'cachestat']);
    expect(result.verdictReason).toContain('cachestat');
    expect(probeLeftovers(mount.dir!)).toEqual([]);
  });

  it.skipIf(!mount.dir)(`reports whether overwrites are dropped${on618 ? ` (6.18: ${OVERWRITE_DROPPED_618[kind]})` : ''}`, async () => {
    const result = await probe(mount.dir!);
    const { overwriteDropped, overwriteEvidence } = result;
    expect(overwriteEvidence.pages).toBe(1024);
    expect(typeof overwriteEvidence.cachedAfter).toBe('number');
    // The field agrees with its own figures, whatever the kernel.
    if (overwriteDropped === true) expect(overwriteEvidence.cachedAfter).toBeLessThanOrEqual(102);
    if (overwriteDropped === false) expect(overwriteEvidence.cachedAfter).toBeGreaterThanOrEqual(922);
    if (on618) expect(overwriteDropped).toBe(OVERWRITE_DROPPED_618[kind]);
    else expect(overwriteDropped).not.toBeNull();
  });
});

describe.each(['tmpfs', 'btrfs'] as const)('probe on %s', (kind) => {
  const mount = testFs(kind);
  if (!mount.dir) console.warn(`[probe] skipping ${kind}: ${mount.skip}`);

  it.skipIf(!mount.dir)('reports the flag refused with ENOTSUP, and no cachestat test', async () => {
    const result = await probe(mount.dir!);
    expect(result).toMatchObject({ fsType: kind, dontcacheWrite: false, dontcacheRead: false, refusedWith: 'ENOTSUP' });
    expect(evidenceOf(result, 'cachestat')).toMatchObject({ says: 'unknown', weight: 'none' });
    expect(evidenceOf(result, 'cachestat').detail).toContain('refused');
    expect(result.overwriteDropped).toBeNull();
    expect(result.overwriteEvidence).toMatchObject({ cachedAfter: null, detail: expect.stringContaining('refused') });
    // The kernel's behaviour still comes from the other sources; the reason says it is about the kernel.
    expect(result.writeback).toBe(expectedWriteback);
    if (expectedWriteback !== 'unsupported') expect(result.verdictReason).toContain('describes the kernel only');
    expect(probeLeftovers(mount.dir!)).toEqual([]);
  });
});

describe('probe errors', () => {
  it('rejects with a Node-style error for a missing directory', async () => {
    await expect(probe('/nonexistent/dontcache-probe-dir')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'statfs' });
  });

  it('rejects with ENOTDIR for a file', async () => {
    await expect(probe(path.join(__dirname, 'probe.test.ts'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('rejects bad arguments with TypeError', async () => {
    await expect(probe(42 as unknown as string)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(probe('.', null as unknown as object)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)('removes its temporary file when the write fails (full file system)', async () => {
    await withMount('ext4', 32, async ({ dir }) => {
      const filler = fs.openSync(path.join(dir, 'filler'), 'w');
      try {
        const block = Buffer.alloc(1024 * 1024, 1);
        for (const size of [block.length, 4096]) {
          try {
            for (;;) fs.writeSync(filler, block, 0, size);
          } catch (error) {
            expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
          }
        }
      } finally {
        fs.closeSync(filler);
      }
      await expect(probe(dir)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(probeLeftovers(dir)).toEqual([]);
    });
  });
});

describe('probe with mountTracefs', () => {
  const tracefsMounted = () => fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[2] === 'tracefs');
  const root = process.getuid?.() === 0;
  let mountedByTest = false;
  afterEach(() => {
    if (mountedByTest && tracefsMounted()) execFileSync('umount', ['/sys/kernel/tracing']);
  });

  it.skipIf(!root)('reads the writeback reasons and leaves tracefs as it found it', async () => {
    const before = tracefsMounted();
    if (!before) {
      const plain = await probe(os.tmpdir());
      expect(evidenceOf(plain, 'tracefs')).toMatchObject({ says: 'unknown' });
      expect(evidenceOf(plain, 'tracefs').detail).toContain('not mounted');
    }
    const result = await probe(os.tmpdir(), { mountTracefs: true });
    mountedByTest = !before && tracefsMounted();
    const tracefs = evidenceOf(result, 'tracefs');
    expect(tracefs.detail).toMatch(/writeback reason/);
    expect(tracefs.says).toBe(expectedWriteback === 'flusher-kick' ? 'flusher-kick' : 'inline-flush');
    expect(tracefsMounted()).toBe(before);
  });
});
