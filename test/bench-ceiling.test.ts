// bench:stream's C ceiling loop: built with the system compiler when there is one,
// skipped with a reason when there is none, and it writes exactly what it was asked.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { constants } from '../src/constants';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';

const { buildCeiling, runCeiling } = require('../bench/ceiling.js') as {
  buildCeiling(): { binary?: string; cleanup?: () => void; skip?: string };
  runCeiling(binary: string, file: string, size: number, chunk: number, flags: number): { mbps: number; callP999Ms: number };
};

afterAll(cleanupTempFiles);

describe('bench C ceiling', () => {
  it('is skipped with the reason when there is no compiler', () => {
    const saved = process.env.CC;
    process.env.CC = '/nonexistent/cc';
    try {
      expect(buildCeiling()).toEqual({ skip: 'C ceiling skipped: no C compiler (/nonexistent/cc) on PATH' });
    } finally {
      if (saved === undefined) delete process.env.CC;
      else process.env.CC = saved;
    }
  });

  const built = buildCeiling();
  if (built.skip) console.warn(`[bench-ceiling] ${built.skip}`);
  afterAll(() => built.cleanup?.());
  const ext4 = testFs('ext4');
  const tmpfs = testFs('tmpfs');

  it.skipIf(!built.binary || !ext4.dir)('writes exactly the bytes asked, in chunk-sized RWF_DONTCACHE calls, short last call included', () => {
    const file = tempPath(ext4.dir!);
    const size = 3 * 1024 * 1024 + 12345;
    const r = runCeiling(built.binary!, file, size, 1024 * 1024, constants.RWF_DONTCACHE);
    expect(r.mbps).toBeGreaterThan(0);
    expect(r.callP999Ms).toBeGreaterThan(0);
    const data = fs.readFileSync(file);
    expect(data.length).toBe(size);
    expect(data.every((b) => b === 0x5a)).toBe(true);
  });

  it.skipIf(!built.binary || !tmpfs.dir)('fails with the errno where the flag is refused (tmpfs: EOPNOTSUPP)', () => {
    const file = tempPath(tmpfs.dir!);
    expect(() => runCeiling(built.binary!, file, 1024 * 1024, 65536, constants.RWF_DONTCACHE)).toThrow(
      expect.objectContaining({ errno: 95, message: expect.stringMatching(/errno 95/) }),
    );
  });
});

describe('bench Node loops (the same calls as the C loop, from Node)', () => {
  const { LOOPS, runNodeLoop } = require('../bench/loops.js') as {
    LOOPS: Record<string, string>;
    runNodeLoop(kind: string, file: string, size: number, chunk: number, flags: number): Promise<{ mbps: number; callP999Ms: number }>;
  };
  const ext4 = testFs('ext4');

  it.skipIf(!ext4.dir)('each writes exactly the bytes asked, short last call included', async () => {
    expect(Object.keys(LOOPS)).toEqual(['sync-loop', 'async-loop']);
    for (const kind of Object.keys(LOOPS)) {
      const file = tempPath(ext4.dir!);
      const size = 2 * 1024 * 1024 + 999;
      const r = await runNodeLoop(kind, file, size, 1024 * 1024, constants.RWF_DONTCACHE);
      expect(r.mbps).toBeGreaterThan(0);
      expect(r.callP999Ms).toBeGreaterThan(0);
      const data = fs.readFileSync(file);
      expect(data.length, kind).toBe(size);
      expect(data.every((b) => b === 0x5a), kind).toBe(true);
    }
  });
});
