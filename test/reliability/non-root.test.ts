// Users who may read a file but not write it (issue 13, item 7). The kernel tells page
// cache residency only to callers that could write the file: cachestat(2) answers them
// EPERM, mincore(2) claims every page resident. So for them pageCacheState must say
// 'unknown' with the reason (never a confident number), dropCache must still drop and
// resolve, and `dontcache stat`/`drop` print "unknown" and exit 0. Children run as an
// unprivileged uid on real files; root checks what the kernel really holds.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropCache, pageCacheState, type PageCacheState } from '../../src/page-cache';
import { constants as C } from '../../src/constants';
import { distUnavailableReason, PACKAGE_ROOT } from '../helpers/faults';
import { testFs } from '../helpers/fs';
import { createMount, removeMount, type Mount } from '../helpers/mounts';
import { guardLeaks, tempDir } from './leaks';

guardLeaks();

const NOBODY = 65534;
const MiB = 1024 * 1024;
const DIST = path.join(PACKAGE_ROOT, 'dist');
const ext4 = testFs('ext4');
const skip = process.getuid?.() !== 0 ? 'needs root (to run children as another user)' : distUnavailableReason() ?? ext4.skip;
if (skip) console.warn(`[non-root] skipping: ${skip}`);

/**
 * The child: loads the package (and the CLI command it runs) as root, drops to `uid` (no supplementary groups), then
 * either runs the CLI's main() on `cli` (its exit code is the child's) or calls
 * pageCacheState/dropCache per `calls` and prints the outcomes.
 */
const CHILD = `
const fs = require('fs');
const [dist, uid, json] = process.argv.slice(1);
const job = JSON.parse(json);
const dontcache = require(dist + '/index.js');
const { main } = require(dist + '/cli.js');
// The CLI loads each command's module when it runs: load it now, as cli.js will ask for
// it (so Node's resolution cache has the answer), while the package's directory is still
// readable (a clone under a 0700 mktemp directory is not, for nobody).
if (job.cli) require('module').createRequire(dist + '/cli.js')('./cli/' + job.cli[0]);
process.setgroups([]);
process.setgid(Number(uid));
process.setuid(Number(uid));
(async () => {
  if (job.cli) {
    process.exitCode = await main(job.cli);
    return;
  }
  const results = {};
  for (const [name, call] of Object.entries(job.calls)) {
    let fd;
    try {
      if (call.fd) fd = fs.openSync(call.file, 'r');
      results[name] = await dontcache[call.fn](fd ?? call.file, call.options);
    } catch (error) {
      results[name] = { error: error.code, message: error.message };
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  process.stdout.write('RESULT ' + JSON.stringify(results, (k, v) => (typeof v === 'bigint' ? String(v) : v)) + '\\n');
})();
`;

interface Call {
  fn: 'pageCacheState' | 'dropCache';
  file: string;
  fd?: boolean;
  options?: object;
}

type Outcome = PageCacheState | { error: string; message: string };

function asUser(uid: number, job: { cli: string[] } | { calls: Record<string, Call> }) {
  const child = spawnSync(process.execPath, ['-e', CHILD, DIST, String(uid), JSON.stringify(job)], { encoding: 'utf8', timeout: 60_000 });
  if (child.error) throw child.error;
  return child;
}

function calls(uid: number, list: Record<string, Call>): Record<string, Outcome> {
  const child = asUser(uid, { calls: list });
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (child.status !== 0 || !line) throw new Error(`child ended ${child.status}/${child.signal}: ${child.stderr}`);
  return JSON.parse(line.slice('RESULT '.length));
}

function cachedPages(file: string): Promise<number> {
  return pageCacheState(file).then((s) => {
    if (s.status !== 'known') throw new Error(`root could not tell: ${s.reason}`);
    return s.pages.cached;
  });
}

/** Every way of asking about `file`: auto, cachestat and mincore on its path, and auto on an fd. */
function everyWay(file: string): Record<string, Call> {
  return {
    auto: { fn: 'pageCacheState', file },
    cachestat: { fn: 'pageCacheState', file, options: { method: 'cachestat' } },
    mincore: { fn: 'pageCacheState', file, options: { method: 'mincore' } },
    fd: { fn: 'pageCacheState', file, fd: true },
  };
}

function expectUnknown(outcome: Outcome, what: string): void {
  expect(outcome, what).toMatchObject({ status: 'unknown', code: 'EPERM', residentFraction: null, pages: { cached: null }, bytes: { cached: null } });
  expect((outcome as { reason: string }).reason, what).toContain('could write the file');
  expect((outcome as PageCacheState).size, what).toBe(8 * MiB);
}

describe.skipIf(skip !== undefined)('a user who may only read the file', () => {
  let dir: string;
  let file: string;

  beforeAll(() => {
    dir = tempDir(ext4.dir, 'nonroot');
    fs.chmodSync(dir, 0o755);
    file = path.join(dir, 'readable');
    fs.writeFileSync(file, Buffer.alloc(8 * MiB, 0x5a), { mode: 0o644 });
    fs.chmodSync(file, 0o644);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('pageCacheState is unknown with the reason, every way of asking; never the 100% mincore would claim', async () => {
    await dropCache(file);
    expect(await cachedPages(file)).toBe(0);
    const outcomes = calls(NOBODY, everyWay(file));
    for (const [how, outcome] of Object.entries(outcomes)) expectUnknown(outcome, how);
    expect(outcomes.mincore).toMatchObject({ method: 'mincore' });
    expect(outcomes.cachestat).toMatchObject({ method: 'cachestat' });
  });

  it('dropCache drops the pages and resolves (with an unknown state)', async () => {
    fs.readFileSync(file);
    expect(await cachedPages(file)).toBe((8 * MiB) / C.PAGE_SIZE);
    const { path: byPath, fd: byFd } = calls(NOBODY, {
      path: { fn: 'dropCache', file },
      fd: { fn: 'dropCache', file, fd: true },
    });
    expectUnknown(byPath, 'dropCache(path)');
    expectUnknown(byFd, 'dropCache(fd)');
    expect(await cachedPages(file)).toBe(0);
  });

  it('dontcache stat and drop print "unknown", with the reason, and exit 0', async () => {
    fs.readFileSync(file);
    for (const args of [['stat', file], ['stat', '--method', 'mincore', file], ['stat', '--method', 'cachestat', file], ['drop', file]]) {
      const run = asUser(NOBODY, { cli: args });
      expect({ status: run.status, stderr: run.stderr }, args.join(' ')).toEqual({ status: 0, stderr: '' });
      expect(run.stdout, args.join(' ')).toMatch(/\bunknown\b/);
      expect(run.stdout, args.join(' ')).toContain('unknown: the kernel tells page cache residency only to callers that could write the file');
      expect(run.stdout, args.join(' ')).not.toMatch(/\d+\.\d%/);
    }
    expect(await cachedPages(file)).toBe(0);
    const json = asUser(NOBODY, { cli: ['stat', '--json', file] });
    expect(json.status).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.files[0]).toMatchObject({ status: 'unknown', code: 'EPERM', size: 8 * MiB, residentFraction: null });
    expect(parsed.total.residentFraction).toBeNull();
    expect(parsed.errors).toEqual([]);
  });
});

describe.skipIf(skip !== undefined)('who may know: the kernel\'s own rule, case by case', () => {
  let dir: string;
  let tmpfs: Mount | undefined;

  beforeAll(() => {
    dir = tempDir(ext4.dir, 'nonroot-rule');
    fs.chmodSync(dir, 0o755);
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (tmpfs) removeMount(tmpfs);
  });

  function makeFile(name: string, mode: number, owner = 0): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.alloc(4 * MiB, 0x33));
    fs.chmodSync(file, mode);
    fs.chownSync(file, owner, owner);
    return file;
  }

  /** Known every way, and what root sees: all of it cached, then none of it (where mincore's lie would show). */
  async function expectKnownAsRoot(file: string): Promise<void> {
    for (const state of ['cached', 'dropped'] as const) {
      if (state === 'cached') fs.readFileSync(file);
      else await dropCache(file);
      const truth = await cachedPages(file);
      expect(truth).toBe(state === 'cached' ? (4 * MiB) / C.PAGE_SIZE : 0);
      for (const [how, outcome] of Object.entries(calls(NOBODY, everyWay(file)))) {
        expect(outcome, `${state} ${how}`).toMatchObject({ status: 'known' });
        expect(Math.abs((outcome as { pages: { cached: number } }).pages.cached - truth), `${state} ${how}`).toBeLessThanOrEqual(2);
      }
    }
  }

  it('a file everyone may write (0666, root\'s): known, and what root sees', async () => {
    await expectKnownAsRoot(makeFile('writable', 0o666));
  });

  it('the user\'s own file, even without a write bit (0444): known', async () => {
    await expectKnownAsRoot(makeFile('own', 0o444, NOBODY));
  });

  it('a group-readable file of another group (0640): not even readable, EACCES as usual', async () => {
    const file = makeFile('private', 0o640);
    for (const [how, outcome] of Object.entries(calls(NOBODY, everyWay(file)))) expect(outcome, how).toMatchObject({ error: 'EACCES' });
  });

  it('a 0666 file on a read-only file system: unknown (nobody may write it)', async () => {
    tmpfs = createMount('tmpfs', 16);
    fs.chmodSync(tmpfs.dir, 0o755);
    const file = path.join(tmpfs.dir, 'ro');
    fs.writeFileSync(file, Buffer.alloc(8 * MiB, 1));
    fs.chmodSync(file, 0o666);
    execFileSync('mount', ['-o', 'remount,ro', tmpfs.dir]);
    for (const [how, outcome] of Object.entries(calls(NOBODY, everyWay(file)))) expectUnknown(outcome, how);
  });
});
