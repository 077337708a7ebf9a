// Model-based random testing (fsx style) of the low-level API on real file systems.
// Seeded: the seed is printed; DONTCACHE_SEED=<seed> replays a run and
// DONTCACHE_SOAK=<ops> makes a long one. A failure prints the shortest failing
// sequence that delta debugging found.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index';
import { testFs } from '../helpers/fs';
import type { FsKind } from '../helpers/mounts';
import { generateOps, runOps, seedFromEnv, shrink, RWF, type Failure, type Io, type Op } from '../helpers/model';
import { guardLeaks } from './leaks';

guardLeaks();

const SEED = seedFromEnv();
const SOAK = Number(process.env.DONTCACHE_SOAK ?? 0);
console.log(`[model] seed ${SEED} (replay with DONTCACHE_SEED=${SEED})${SOAK ? `, soak ${SOAK} ops` : ''}`);

let files = 0;
const fileIn = (dir: string) => path.join(dir, `dontcache-model.${process.pid}.${files++}`);

/** Runs ops; on failure shrinks them and fails with the seed and the short sequence. */
async function check(dir: string, seed: number, ops: Op[], io?: Io): Promise<{ failure?: Failure; shortest?: Op[] }> {
  const failure = await runOps(fileIn(dir), ops, { io });
  if (!failure) return {};
  const prefix = ops.slice(0, failure.index + 1);
  const shortest = await shrink(prefix, async (candidate) => (await runOps(fileIn(dir), candidate, { io })) !== undefined);
  const last = await runOps(fileIn(dir), shortest, { io });
  return { failure: last ?? failure, shortest };
}

function report(kind: string, seed: number, result: { failure?: Failure; shortest?: Op[] }): string {
  return (
    `${kind}: seed ${seed} (replay: DONTCACHE_SEED=${SEED}): ${result.failure?.message} at op ${result.failure?.index}\n` +
    `shortest failing sequence (${result.shortest?.length} ops):\n` +
    (result.shortest ?? []).map((op, i) => `  ${i}: ${JSON.stringify(op)}`).join('\n')
  );
}

/** Counts of what a sequence does, for the log. */
function summary(ops: Op[]): string {
  const counts = new Map<string, number>();
  const add = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const op of ops) {
    add(op.op === 'write' || op.op === 'read' || op.op === 'sync' ? op.api : op.op);
    if (op.op === 'write' || op.op === 'read') {
      if (op.flags & RWF.DONTCACHE) add(`${op.op}+DONTCACHE`);
      if (op.flags & (RWF.DSYNC | RWF.SYNC)) add(`${op.op}+(D)SYNC`);
      if (op.position < 0) add(`${op.op}@filepos`);
    }
    if (op.op === 'write') add(op.sizes.length > 4 ? 'write>4bufs' : 'write<=4bufs');
  }
  return [...counts].map(([k, v]) => `${k} ${v}`).join(', ');
}

// ext4 and XFS accept RWF_DONTCACHE here; btrfs and tmpfs refuse it, so they run without it.
const MATRIX: { kind: FsKind; ops: number; dontcache: boolean; index: number }[] = [
  { index: 0, kind: 'ext4', ops: 4000, dontcache: true },
  { index: 1, kind: 'xfs', ops: 4000, dontcache: true },
  { index: 2, kind: 'btrfs', ops: 1500, dontcache: false },
  { index: 3, kind: 'tmpfs', ops: 1500, dontcache: false },
];

describe.each(MATRIX)('model-based random operations on $kind', ({ index, kind, ops: count, dontcache }) => {
  const mount = testFs(kind);
  if (!mount.dir) console.warn(`[model] skipping ${kind}: ${mount.skip}`);
  it.skipIf(!mount.dir)(`${SOAK || count} random operations match the model`, async () => {
    const seed = (SEED + index) >>> 0; // one seed per file system, all from the printed one
    const writeFlags = dontcache ? undefined : [RWF.HIPRI, RWF.DSYNC, RWF.SYNC];
    const readFlags = dontcache ? undefined : [RWF.HIPRI];
    const ops = generateOps(seed, SOAK || count, { writeFlags, readFlags });
    const result = await check(mount.dir!, seed, ops);
    console.log(`[model] ${kind}: seed ${seed}, ${ops.length} ops: ${summary(ops)}`);
    if (result.failure) console.error(report(kind, seed, result));
    expect(result.failure, result.failure && report(kind, seed, result)).toBeUndefined();
  });
});

describe('the model checker itself', () => {
  const mount = testFs('ext4');
  it.skipIf(!mount.dir)('catches a write that lands one byte off, and shrinks to a short sequence', async () => {
    // A deliberately broken pwritev2Sync: at positions 1 mod 3 it writes 1 byte later.
    const broken: Io = {
      ...api,
      pwritev2Sync: (fd, buffers, position = -1, flags = 0) =>
        typeof position === 'number' && position % 3 === 1
          ? api.pwritev2Sync(fd, buffers, position + 1, flags)
          : api.pwritev2Sync(fd, buffers, position, flags),
    };
    const ops = generateOps(SEED, 400);
    const result = await check(mount.dir!, SEED, ops, broken);
    expect(result.failure).toBeDefined();
    expect(result.shortest).toHaveLength(1);
    expect(result.shortest![0]).toMatchObject({ op: 'write', api: 'pwritev2Sync' });
  });

  it('ddmin finds the two operations that together fail', async () => {
    const items = Array.from({ length: 200 }, (_, i) => i);
    const shortest = await shrink(items, async (c) => c.includes(37) && c.includes(151));
    expect(shortest).toEqual([37, 151]);
  });

  it('the same seed generates the same operations', () => {
    expect(generateOps(12345, 300)).toEqual(generateOps(12345, 300));
    expect(generateOps(12345, 300)).not.toEqual(generateOps(12346, 300));
  });
});
