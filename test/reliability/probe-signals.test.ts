// `dontcache probe DIR` ended mid-probe (issue 13, item 5): Ctrl-C, SIGTERM or SIGKILL
// while its test file is open must leave no `.dontcache-probe.*` in DIR, on every file
// system, and the CLI ends by the signal after its cleanup. strace holds the probe inside its first write (delay_enter) so that the
// signal lands while the file exists; a file system without O_TMPFILE is what strace's
// injected EOPNOTSUPP on the O_TMPFILE open makes of it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, straceUnavailableReason } from '../helpers/faults';
import { testFs } from '../helpers/fs';
import { FS_KINDS } from '../helpers/mounts';
import { guardLeaks, tempDir } from './leaks';

guardLeaks();

const CLI = path.join(PACKAGE_ROOT, 'dist', 'cli.js');
const noStrace = straceUnavailableReason();
const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('.dontcache-probe.'));

/**
 * The child of `pid` that runs node with `script`: strace first forks short-lived test
 * children, and a child not yet exec'd still has strace's command line.
 */
function childRunning(pid: number, script: string): number | undefined {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.find((kid) => {
      try {
        const argv = fs.readFileSync(`/proc/${kid}/cmdline`, 'utf8').split('\0');
        return argv[0] === process.execPath && argv[1] === script;
      } catch {
        return false;
      }
    });
  } catch {
    return undefined;
  }
}

/** The paths `pid` has open under `dir` (an O_TMPFILE shows as `dir/#123 (deleted)`). */
function openUnder(pid: number, dir: string): string[] {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        return target.startsWith(`${dir}/`) ? [target] : [];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

async function until<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 5))) {
    const value = probe();
    if (value !== undefined) return value;
  }
  throw new Error(`gave up waiting for ${what}`);
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What the probe had open in the directory when the signal was sent. */
  open: string[];
  /** strace's trace (the injected O_TMPFILE failures), with `noTmpfile`. */
  trace: string;
}

/**
 * Runs the CLI probe on `dir` under strace and sends it `signal`. By default the first
 * pwritev2 of each thread is held for a second and the signal comes while the test file
 * is open. With `noTmpfile`, O_TMPFILE opens of `dir` fail with EOPNOTSUPP instead (the
 * answer of a file system without it) and the signal comes `afterMs` after the start.
 */
async function interruptProbe(dir: string, signal: NodeJS.Signals, noTmpfile?: { afterMs: number }): Promise<Ended> {
  const log = path.join(dir, '..', `${path.basename(dir)}.strace`);
  const args = noTmpfile
    ? ['-f', '-qq', '-o', log, '-P', dir, '-e', 'trace=openat', '-e', 'inject=openat:error=EOPNOTSUPP']
    : ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=pwritev2', '-e', 'inject=pwritev2:delay_enter=1000000:when=1'];
  const child = spawn('strace', [...args, process.execPath, CLI, 'probe', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let ended = false;
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (code, sig) => {
    ended = true;
    resolve([code, sig]);
  }));
  const node = await until('the node process under strace', () => childRunning(child.pid!, CLI));
  let open: string[] = [];
  if (noTmpfile) {
    for (const end = Date.now() + noTmpfile.afterMs; Date.now() < end && !ended; await new Promise((r) => setTimeout(r, 2))) {
      open = openUnder(node, dir);
    }
  } else {
    open = await until('the probe\'s test file', () => {
      const files = openUnder(node, dir);
      return files.length ? files : undefined;
    });
  }
  if (!ended) process.kill(node, signal);
  const [code, sig] = await exited;
  const trace = noTmpfile ? fs.readFileSync(log, 'utf8') : '';
  if (noTmpfile) fs.rmSync(log);
  return { code, signal: sig, stderr, open, trace };
}

describe.each(FS_KINDS)('an interrupted `dontcache probe` on %s', (kind) => {
  const mount = testFs(kind);
  const skip = noStrace ?? mount.skip;
  it.skipIf(skip !== undefined).each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)(`%s mid-probe leaves no test file${skip ? ` (skipped: ${skip})` : ''}`, async (signal) => {
    const dir = tempDir(mount.dir, 'probe-signal');
    try {
      const ended = await interruptProbe(dir, signal);
      expect(ended.open.length, 'the test file was open when the signal came').toBeGreaterThan(0);
      expect(leftovers(dir), `left in ${dir}`).toEqual([]);
      expect(fs.readdirSync(dir)).toEqual([]);
      // The CLI cleans up, then ends by the signal itself (a shell shows 130, 143), and so does strace.
      expect({ code: ended.code, signal: ended.signal }, ended.stderr).toEqual({ code: null, signal });
      if (signal !== 'SIGKILL') expect(ended.stderr).toContain(`dontcache probe: interrupted by ${signal}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(noStrace !== undefined || !testFs('ext4').dir)('a file system without O_TMPFILE (EOPNOTSUPP injected)', () => {
  it('the probe uses a named file unlinked at once: kills at any moment leave nothing', async () => {
    const dir = tempDir(testFs('ext4').dir, 'probe-notmpfile');
    try {
      // One whole run: the fallback works, and the O_TMPFILE open was really refused.
      const whole = await interruptProbe(dir, 'SIGKILL', { afterMs: 60_000 });
      expect(whole.code, whole.stderr).toBe(0);
      expect(whole.trace).toMatch(/O_TMPFILE.*EOPNOTSUPP.*INJECTED/);
      expect(leftovers(dir)).toEqual([]);
      // Kills spread over the probe's life, the open file's included.
      for (let i = 0; i < 16; i++) {
        const ended = await interruptProbe(dir, i % 2 ? 'SIGKILL' : 'SIGINT', { afterMs: 100 + i * 60 });
        expect(leftovers(dir), `kill ${i} after ${100 + i * 60} ms (open then: ${ended.open}): ${ended.stderr}`).toEqual([]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
