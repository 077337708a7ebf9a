// The `dontcache` CLI as users run it: node dist/cli.js, exit codes, text and --json.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fdatasyncSync, pwritev2Sync } from '../src/io';
import { constants as C } from '../src/constants';
import { releaseEvidence } from '../src/probe';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';
import { CLI, PACKAGE_ROOT as root, cli, ensureCliBuilt } from './helpers/cli';

const MiB = 1024 * 1024;
const expectedWriteback = releaseEvidence(os.release()).says;
const ANSI = /\x1b\[/; // eslint-disable-line no-control-regex
const STACK = /^\s+at /m;

beforeAll(ensureCliBuilt, 120_000);
afterAll(cleanupTempFiles);

describe('dontcache (dispatcher)', () => {
  it('--help lists the commands and exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['probe', 'stat', 'drop', 'bench', 'cp', 'write']) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(r.stdout).toContain('Exit status: 0 ok, 1 runtime error');
  });

  it('no command: usage on stderr, exit 2', async () => {
    const r = await cli([]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('Usage: dontcache <command>');
  });

  it('an unknown command: one line, exit 2', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
  });
});

describe.each(['probe', 'stat', 'drop'])('dontcache %s usage', (name) => {
  it('--help: usage, options and exit codes on stdout, exit 0', async () => {
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: dontcache ${name} \\[options\\]`));
    expect(r.stdout).toContain('--json');
    expect(r.stdout).toContain('Exit status: 0 ok, 1 runtime error (one line on stderr), 2 bad usage.');
  });

  it('an unknown option: one line on stderr, exit 2', async () => {
    const r = await cli([name, '--no-such-option', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`dontcache ${name}: unknown option '--no-such-option'. See 'dontcache ${name} --help'.\n`);
  });
});

describe('dontcache probe', () => {
  const ext4 = testFs('ext4');
  const btrfs = testFs('btrfs');

  it.skipIf(!ext4.dir)('prints support, verdict, evidence and advice; no colours when piped', async () => {
    const r = await cli(['probe', ext4.dir!]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(ANSI);
    expect(r.stdout).toMatch(/^ {2}file system\s+ext4$/m);
    expect(r.stdout).toMatch(/^ {2}write\s+supported$/m);
    expect(r.stdout).toMatch(/^ {2}read\s+supported$/m);
    expect(r.stdout).toMatch(new RegExp(`^ {2}writeback\\s+${expectedWriteback}$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}overwrites\s+(dropped|left cached) \(\d+\/1024 pages cached after sync\)/m);
    for (const source of ['release', 'tracefs', 'kallsyms', 'cachestat']) expect(r.stdout).toMatch(new RegExp(`^ {2}${source} `, 'm'));
    expect(r.stdout).toContain('What this means');
  });

  it.skipIf(!ext4.dir)('--json parses and has the ProbeResult shape', async () => {
    const r = await cli(['probe', '--json', ext4.dir!]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({
      dir: ext4.dir, kernel: os.release(), fsType: 'ext4', dontcacheWrite: true, dontcacheRead: true,
      writeback: expectedWriteback, verdictReason: expect.any(String),
    });
    expect(json).not.toHaveProperty('refusedWith');
    expect(typeof json.overwriteDropped).toBe('boolean');
    expect(json.overwriteEvidence).toMatchObject({ pages: 1024, cachedAfter: expect.any(Number), detail: expect.any(String) });
    expect(json.evidence).toHaveLength(4);
    for (const e of json.evidence) {
      expect(['release', 'tracefs', 'kallsyms', 'cachestat']).toContain(e.source);
      expect(['inline-flush', 'flusher-kick', 'unsupported', 'unknown']).toContain(e.says);
      expect(['strong', 'medium', 'weak', 'none']).toContain(e.weight);
      expect(typeof e.detail).toBe('string');
    }
  });

  it.skipIf(!btrfs.dir)('says refused (ENOTSUP) on btrfs', async () => {
    const r = await cli(['probe', btrfs.dir!]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}write\s+refused \(ENOTSUP\)$/m);
    expect(r.stdout).toContain('btrfs refuses RWF_DONTCACHE writes here');
  });

  it('a missing directory: one line on stderr, no stack, exit 1', async () => {
    const r = await cli(['probe', '/nonexistent/dir']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe("dontcache probe: ENOENT: no such file or directory, statfs '/nonexistent/dir'\n");
  });

  it('two directories: exit 2', async () => {
    const r = await cli(['probe', '.', '..']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unexpected operand '..'");
  });
});

describe.skipIf(!testFs('ext4').dir)('dontcache stat and drop', () => {
  const dir = testFs('ext4').dir!;

  /** A file written with pwritev2 `flags` and fdatasync'ed: buffered stays cached, dontcache does not. */
  function written(name: string, flags: number): string {
    const file = tempPath(dir, name);
    const fd = fs.openSync(file, 'w');
    try {
      pwritev2Sync(fd, Buffer.alloc(8 * MiB, 0x41), 0, flags);
      fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return file;
  }

  it('shows the difference between a buffered and a dontcache write, with totals', async () => {
    const buffered = written('buffered', 0);
    const uncached = written('dontcache', C.RWF_DONTCACHE);
    const r = await cli(['stat', buffered, uncached]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(ANSI);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/SIZE\s+CACHED\s+%\s+DIRTY\s+WRITEBACK\s+EVICTED\s+FILE/);
    expect(lines.find((l) => l.endsWith(buffered))).toMatch(/^\s*8\.0 MiB\s+8\.0 MiB\s+100\.0%/);
    expect(lines.find((l) => l.endsWith(uncached))).toMatch(/^\s*8\.0 MiB\s+\S+( \S+)?\s+[0-9]\.\d%/);
    expect(lines.find((l) => l.includes('total (2 files)'))).toMatch(/^\s*16\.0 MiB/);
    expect(r.stdout).toContain('method: cachestat');

    const json = JSON.parse((await cli(['stat', '--json', buffered, uncached])).stdout);
    expect(json.files.map((f: { path: string }) => f.path)).toEqual([buffered, uncached]);
    expect(json.files[0].residentFraction).toBeGreaterThan(0.9);
    expect(json.files[1].residentFraction).toBeLessThan(0.1);
    expect(json.total.pages.total).toBe((16 * MiB) / C.PAGE_SIZE);
    expect(json.total.files).toBe(2);
    expect(json.errors).toEqual([]);
  });

  it('--method mincore: only cached is known', async () => {
    const file = written('mincore', 0);
    const r = await cli(['stat', '--method', 'mincore', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/100\.0%\s+-\s+-\s+-\s+/);
    const json = JSON.parse((await cli(['stat', '--json', '--method=mincore', file])).stdout);
    expect(json.files[0]).toMatchObject({ method: 'mincore', pages: { dirty: null, writeback: null } });
    expect(json.total.pages.dirty).toBeNull();
  });

  it('a bad path among good ones: the good ones are shown, one line per error, exit 1', async () => {
    const file = written('good', 0);
    const r = await cli(['stat', file, '/nonexistent/file', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(file);
    expect(r.stderr.trim().split('\n')).toEqual([
      "dontcache stat: ENOENT: no such file or directory, open '/nonexistent/file'",
      `dontcache stat: EISDIR: illegal operation on a directory, cachestat '${dir}'`,
    ]);
    expect(r.stderr).not.toMatch(STACK);
    const json = await cli(['stat', '--json', file, '/nonexistent/file']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).errors).toEqual([
      { path: '/nonexistent/file', code: 'ENOENT', message: "ENOENT: no such file or directory, open '/nonexistent/file'" },
    ]);
  });

  it('bad usage: exit 2', async () => {
    expect((await cli(['stat'])).code).toBe(2);
    expect((await cli(['drop'])).code).toBe(2);
    const r = await cli(['stat', '--method', 'guess', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--method must be one of auto, cachestat, mincore');
  });

  it('drop pushes a cached file out and shows before and after', async () => {
    const file = written('drop', 0);
    const r = await cli(['drop', file]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').find((l) => l.endsWith(file))).toMatch(/^\s*8\.0 MiB\s+100\.0%\s+0 B\s+0\.0%\s+/);
    const json = await cli(['drop', '--json', file]);
    const record = JSON.parse(json.stdout).files[0];
    expect(record.path).toBe(file);
    expect(record.after.residentFraction).toBe(0);
    expect(fs.readFileSync(file).equals(Buffer.alloc(8 * MiB, 0x41))).toBe(true);
  });

  it('drop of a missing file: exit 1, one line', async () => {
    const r = await cli(['drop', '/nonexistent/file']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("dontcache drop: ENOENT: no such file or directory, open '/nonexistent/file'\n");
  });
});

describe('colours', () => {
  const hasScript = fs.existsSync('/usr/bin/script');

  it.skipIf(!hasScript)('on a terminal (a pty from script(1)) the output has colours; NO_COLOR turns them off', async () => {
    const run = (env: string) =>
      execFileSync('script', ['-qec', `${env} ${process.execPath} ${CLI} stat ${path.join(root, 'package.json')}`, '/dev/null'],
        { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined } });
    expect(run('')).toMatch(ANSI);
    expect(run('NO_COLOR=1')).not.toMatch(ANSI);
  });

  it('FORCE_COLOR forces them when piped', async () => {
    expect((await cli(['stat', path.join(root, 'package.json')], { env: { FORCE_COLOR: '1' } })).stdout).toMatch(ANSI);
  });
});

describe('dontcache bench: advice follows from what ran', () => {
  const ext4 = testFs('ext4');

  it.skipIf(!ext4.dir)('--modes buffered,writeback says dontcache was not measured, not that it is unavailable', async () => {
    const r = await cli(['bench', ext4.dir!, '--modes', 'buffered,writeback', '--scenarios', 'seq-write', '--size', '16M', '--trials', '1', '--no-warmup', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/verdict: probe says inline-flush|verdict: probe says flusher-kick/);
    expect(r.stdout).not.toMatch(/not available/);
    expect(r.stdout).toMatch(/^advice: dontcache writes were not measured in this run \(no dontcache writes were measured\); the probe says \S+, RWF_DONTCACHE accepted on ext4/m);
    expect(r.stdout).toMatch(/^not measured: .*no dontcache writes were measured/m);
    expect(r.stdout).toMatch(/^regime: in-memory: seq-write wrote 16 MiB per trial, under the dirty limit/m);
  });

  it('--help describes --sustained', async () => {
    const r = await cli(['bench', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--sustained\s+add the sustained scenario: 1 MiB writes past the dirty limits/);
  });
});
