// The matrix's lab-verdict and writeback-after-dontcache checks (kernels/lib/expect.mjs), from given guest results, no qemu: with the flag
// the lab must have figures to judge; a behaviour it decides must be the expected one; inconclusive passes.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

type Judge = (check: string, r: unknown, exp: unknown, all: unknown[]) => { verdict: string; message: string };
let judge: Judge;
beforeAll(async () => {
  judge = ((await import(pathToFileURL(path.join(__dirname, '..', '..', 'kernels', 'lib', 'expect.mjs')).href)) as { judge: Judge }).judge;
});

const kick = { dontcacheWrite: true, writeback: 'flusher-kick' };
const result = (measured: string | null, agrees: boolean | null) => ({
  fs: 'ext4', check: 'lab-verdict', status: 'pass',
  observed: { verdict: 'flusher-kick', measured, agrees, positions: { 'small-write': { says: measured, position: [0.1, 0.2, 0.3] } } },
  detail: { reason: 'the figures' },
});

describe('lab-verdict check', () => {
  it('passes the expected behaviour and an inconclusive one', () => {
    expect(judge('lab-verdict', result('flusher-kick', true), kick, []).verdict).toBe('pass');
    expect(judge('lab-verdict', result('inconclusive', null), kick, []).verdict).toBe('pass');
  });

  it('fails a wrong answer and a run with nothing to judge', () => {
    expect(judge('lab-verdict', result('inline-flush', false), kick, [])).toMatchObject({ verdict: 'fail', message: expect.stringMatching(/figures say inline-flush, expected flusher-kick/) });
    expect(judge('lab-verdict', result(null, null), kick, [])).toMatchObject({ verdict: 'fail', message: expect.stringMatching(/no figures to judge/) });
  });

  it('needs no figures where the flag is refused', () => {
    const refused = { ...result('unsupported', true), observed: { verdict: 'unsupported', measured: 'unsupported', agrees: true } };
    expect(judge('lab-verdict', refused, { dontcacheWrite: false, writeback: 'unsupported' }, []).verdict).toBe('pass');
  });
});

describe('writeback-after-dontcache check', () => {
  const seen = (observed: string, mostlyDirty: number) => ({ fs: 'xfs', check: 'writeback-after-dontcache', status: 'pass', observed, detail: { writes: 16, mostlyDirty } });
  const inline = { dontcacheWrite: true, writeback: 'inline-flush' };

  it('a write seen dirty proves the flusher kick: right where expected, wrong on an inline-flush kernel', () => {
    expect(judge('writeback-after-dontcache', seen('flusher-kick', 3), kick, []).verdict).toBe('pass');
    expect(judge('writeback-after-dontcache', seen('flusher-kick', 3), inline, []).verdict).toBe('fail');
  });

  it('none seen dirty fits both: passes where inline flush is expected, tells nothing where the kick is', () => {
    expect(judge('writeback-after-dontcache', seen('inline-flush', 0), inline, []).verdict).toBe('pass');
    expect(judge('writeback-after-dontcache', seen('inline-flush', 0), kick, [])).toMatchObject({ verdict: 'skip', message: expect.stringMatching(/cannot tell/) });
  });
});
