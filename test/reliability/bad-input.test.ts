// Bad input: every exported function and every raw native function gets random
// hostile arguments in a child process (fixtures/fuzz.js). Only TypeError,
// RangeError or a system error may come out, promises and callbacks must settle,
// and the child must neither crash nor abort. Seeded like the model test:
// DONTCACHE_SEED replays, DONTCACHE_SOAK=<calls per function> runs longer.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { distUnavailableReason, runNodeChild, runNodeChildOk, type ChildResult } from '../helpers/faults';
import { seedFromEnv } from '../helpers/model';
import { guardLeaks, tempDir } from './leaks';

guardLeaks();

const SEED = seedFromEnv();
const CALLS = Number(process.env.DONTCACHE_SOAK ?? 0) || 400;
console.log(`[bad-input] seed ${SEED}, ${CALLS} calls per function (replay with DONTCACHE_SEED=${SEED})`);

interface FuzzResult {
  calls: number;
  outcomes: Record<string, number>;
  violations: { name: string; args: string[]; error: string }[];
}

const noDist = distUnavailableReason();
const targets: string[] = noDist ? [] : runNodeChildOk<string[]>('fuzz.js', ['--list']);
const work = tempDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Runs a snippet (fixtures/eval.js) in a child node and returns how it ended (a crash is a non-zero status or a signal). */
function childSurvives(code: string, execArgv: string[] = []): ChildResult {
  return runNodeChild('eval.js', [code], { execArgv });
}

describe.skipIf(noDist !== undefined)(`hostile arguments, one child per function${noDist ? ` (skipped: ${noDist})` : ''}`, () => {
  it('finds the package exports and the raw native layer', () => {
    expect(targets).toEqual(expect.arrayContaining(['pwritev2', 'pwritev2Sync', 'preadv2Callback', 'raw.pwritev2', 'raw.cachestatSync']));
  });

  it.each(targets)('%s', (target) => {
    const dir = fs.mkdtempSync(`${work}/`);
    const child = runNodeChild('fuzz.js', [dir, String(SEED), String(CALLS), target], { execArgv: ['--expose-gc'], timeoutMs: 300_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    const tail = `--- stderr\n${child.stderr.slice(-3000)}`;
    expect(child.signal, `killed by a signal (seed ${SEED})\n${tail}`).toBeNull();
    expect(child.status, `crashed (seed ${SEED})\n${tail}`).toBe(0);
    const result = child.result as FuzzResult;
    expect(result.calls).toBe(CALLS);
    expect(result.violations, `seed ${SEED}`).toEqual([]);
  }, 360_000);
});

describe.skipIf(noDist !== undefined)('found by the fuzz: bad arguments that must not crash the process', () => {
  it.each(['pwritev2Callback', 'preadv2Callback'])('%s without a callback throws ERR_INVALID_ARG_TYPE before any I/O', (name) => {
    const child = childSurvives(`
      const fd = fs.openSync(path.join(dir, 'f'), 'w+');
      let threw;
      try { dontcache.${name}(fd, Buffer.from('abc'), 0, 0, undefined); } catch (e) { threw = e.code; }
      setTimeout(() => done({ threw, size: fs.fstatSync(fd).size }), 300);`);
    expect(child.signal).toBeNull();
    expect(child.stderr).not.toContain('is not a function');
    expect(child.status).toBe(0);
    expect(child.result).toEqual({ threw: 'ERR_INVALID_ARG_TYPE', size: 0 });
  });

  it.each(['createDontcacheWriteStream', 'createDontcacheReadStream'])('%s with a bad path throws, and nothing crashes a tick later', (name) => {
    const child = childSurvives(`
      let threw;
      try { dontcache.${name}(123); } catch (e) { threw = e.code; }
      setTimeout(() => done({ threw }), 300);`);
    expect(child.stderr).not.toContain("Unhandled 'error' event");
    expect(child.status).toBe(0);
    expect(child.result).toEqual({ threw: 'ERR_INVALID_ARG_TYPE' });
  });

  it('createDontcacheWriteStream with a bad option throws (or, as fs.createWriteStream for a bad mode, errors), and neither creates the file nor leaks a descriptor', () => {
    const child = childSurvives(`
      let threw;
      try { dontcache.createDontcacheWriteStream(path.join(dir, 'w'), { start: 'bad' }); } catch (e) { threw = e.code; }
      let emitted;
      const s = dontcache.createDontcacheWriteStream(path.join(dir, 'w'), { mode: 'bad' });
      s.on('error', (e) => (emitted = e.code));
      setTimeout(() => done({ threw, emitted, exists: fs.existsSync(path.join(dir, 'w')), open: openFiles().filter((f) => f.endsWith('/w')) }), 300);`);
    expect(child.status).toBe(0);
    expect(child.result).toEqual({ threw: 'ERR_INVALID_ARG_TYPE', emitted: 'ERR_INVALID_ARG_VALUE', exists: false, open: [] });
  });

  it('raw sync functions share no state: a failure comes back as [errno, bytes, ns, calls]', () => {
    // An earlier design registered a Float64Array for sync results; once its buffer was
    // transferred and collected, sync calls wrote into freed memory. Results are now returned.
    const child = childSurvives(`
      const fd = fs.openSync(path.join(dir, 'f'), 'w+');
      const ok = raw.pwritev2Sync(fd, Buffer.alloc(10), 0, 0);
      const failed = raw.pwritev2Sync(987654, Buffer.alloc(10), 0, 0);
      const stat = raw.cachestatSync(fd, 0, 0);
      done({ ok, failed: Array.from(failed.slice(0, 2)), calls: failed[3], statLength: stat.length, setSyncState: typeof raw.setSyncState });`);
    expect(child.status, child.stderr.slice(-3000)).toBe(0);
    expect(child.result).toEqual({ ok: 10, failed: [9, 0], calls: 1, statLength: 9, setSyncState: 'undefined' });
  });
});
