// The matrix's lab-verdict check (kernels/lib/expect.mjs), from given guest results, no qemu: with the flag
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
