// Root running the lab in a shared, sticky directory while another user attacks it
// (issue 13, item 4): the sweep of "leftovers of killed runs" must delete nothing
// outside the lab's own run directory, however the other user plants fake leftovers,
// links, and swaps directories for links in a loop.
//   DONTCACHE_SWEEP_RUNS (default 20): how many sweeps run under attack.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabResources, RUN_DIR_PREFIX } from '../../src/lab/resources';
import { createMount, mountUnavailableReason, removeMount, type Mount } from '../helpers/mounts';
import { distUnavailableReason, PACKAGE_ROOT } from '../helpers/faults';
import { guardLeaks } from './leaks';

guardLeaks();

const RUNS = Number(process.env.DONTCACHE_SWEEP_RUNS ?? 20);
const NOBODY = 65534;
const VICTIMS = 200;
const CLI = path.join(PACKAGE_ROOT, 'dist', 'cli.js');

const skip = process.getuid?.() !== 0 ? 'needs root (a second user, a tmpfs mount)' : mountUnavailableReason('tmpfs');
if (skip) console.warn(`[shared-dir-sweep] skipping: ${skip}`);

/** A pid no process has (a child that has exited). */
function deadPid(): number {
  return spawnSync('true').pid!;
}

/**
 * The other user, in a loop until killed. Fake leftovers of a dead run hold a
 * subdirectory with files named like the victims; as soon as one of those files
 * disappears (root's recursive remove has started on it), the subdirectory is swapped
 * for a link to the victims' directory, so that a remove going by path names goes on
 * in there. Leftovers that are links themselves lie around too.
 */
const ATTACK = `
const fs = require('fs');
const path = require('path');
const [dir, victims, pid, uid] = process.argv.slice(1);
process.setgroups([]);
process.setgid(Number(uid));
process.setuid(Number(uid));
const quiet = (fn) => { try { return fn(); } catch {} };
const names = [];
(function list(d, rel) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    if (e.isDirectory()) list(path.join(d, e.name), path.join(rel, e.name));
    else names.push(path.join(rel, e.name));
  }
})(victims, '');
const leftover = (name) => path.join(dir, '${RUN_DIR_PREFIX}' + pid + '.' + name);
quiet(() => fs.symlinkSync(victims, leftover('link')));
quiet(() => fs.symlinkSync(path.join(victims, names[0]), leftover('filelink')));
const tops = Array.from({ length: 8 }, (_, i) => leftover('evil' + i));
let spare = 0;
function fill(top) {
  const sub = path.join(top, 'sub');
  const real = path.join(top, 'real');
  quiet(() => fs.mkdirSync(top));
  quiet(() => fs.unlinkSync(sub));
  for (const name of names) {
    quiet(() => fs.mkdirSync(path.dirname(path.join(real, name)), { recursive: true }));
    quiet(() => fs.writeFileSync(path.join(real, name), 'decoy'));
  }
  quiet(() => fs.renameSync(real, sub));
}
for (const top of tops) fill(top);
process.stdout.write('ready\\n');
for (;;) {
  for (const top of tops) {
    const sub = path.join(top, 'sub');
    const st = quiet(() => fs.lstatSync(sub));
    if (!st || st.isSymbolicLink()) {
      fill(top);
    } else if (!fs.existsSync(path.join(sub, names[0])) || !fs.existsSync(path.join(sub, names[names.length - 1]))) {
      // Root is removing it: swap.
      quiet(() => fs.renameSync(sub, path.join(top, 'was' + spare++)));
      quiet(() => fs.symlinkSync(victims, sub));
    }
  }
}
`;

function startAttacker(dir: string, victims: string, pid: number): Promise<ChildProcess> {
  // Started as root and dropped to the other user inside: the Node under test may live
  // where that user cannot execute it (Node 22/24/26 under root's home in CI).
  const child = spawn(process.execPath, ['-e', ATTACK, dir, victims, String(pid), String(NOBODY)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the attacker exited early (${code})`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

function stopAttacker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Every victim file, with its content. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.set(p, fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

describe.skipIf(skip !== undefined)('root in a sticky shared directory under attack by another user', () => {
  let mount: Mount;
  let shared: string;
  let victims: string;
  let expected: Map<string, string>;

  beforeAll(() => {
    mount = createMount('tmpfs', 64);
    shared = path.join(mount.dir, 'shared');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    victims = path.join(mount.dir, 'victims');
    fs.mkdirSync(path.join(victims, 'deeper'), { recursive: true });
    for (let i = 0; i < VICTIMS; i++) fs.writeFileSync(path.join(victims, i % 10 === 9 ? `deeper/v${i}` : `v${i}`), `victim ${i}`);
    expected = snapshot(victims);
  });
  afterAll(() => {
    if (mount) removeMount(mount);
  });

  /** Root's own things in the shared directory: a stale leftover (to be swept) and ones that must stay. */
  let planted = 0;
  function plantRootEntries(dead: number): { stale: string; keep: string[] } {
    const stale = path.join(shared, `${RUN_DIR_PREFIX}${dead}.rootold${planted++}`);
    fs.mkdirSync(path.join(stale, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(stale, 'a', 'b', 'data'), 'old run');
    fs.symlinkSync(victims, path.join(stale, 'a', 'link-to-victims'));
    fs.symlinkSync(path.join(victims, 'v1'), path.join(stale, 'link-to-a-victim'));
    const live = path.join(shared, `${RUN_DIR_PREFIX}${process.ppid}.live`);
    fs.mkdirSync(live, { recursive: true });
    fs.writeFileSync(path.join(live, 'data'), 'a running lab');
    const other = path.join(shared, 'not-a-leftover');
    fs.mkdirSync(other, { recursive: true });
    fs.writeFileSync(path.join(other, 'data'), 'unrelated');
    return { stale, keep: [path.join(live, 'data'), path.join(other, 'data')] };
  }

  it(`${RUNS} sweeps under attack delete nothing outside the run directory; root's own stale leftovers go`, async () => {
    const dead = deadPid();
    const attacker = await startAttacker(shared, victims, dead);
    const lost: string[] = [];
    const failures: string[] = [];
    const modes = new Set<number>();
    try {
      for (let run = 0; run < RUNS; run++) {
        const { stale, keep } = plantRootEntries(dead);
        // Give the attacker a head start so the sweep meets its leftovers mid-swap.
        await new Promise((r) => setTimeout(r, 50));
        try {
          const resources = new LabResources(shared);
          modes.add(fs.statSync(resources.runDir).mode & 0o7777);
          expect(path.basename(resources.runDir).startsWith(`${RUN_DIR_PREFIX}${process.pid}.`)).toBe(true);
          fs.writeFileSync(path.join(resources.runDir, 'trial-file'), 'x');
          await resources.release();
          expect(fs.existsSync(resources.runDir), 'run directory removed').toBe(false);
          expect(fs.existsSync(stale), `root's stale leftover ${stale} swept`).toBe(false);
        } catch (error) {
          failures.push(`run ${run}: ${(error as Error).message}`);
        }
        for (const file of keep) expect(fs.readFileSync(file, 'utf8'), file).toBeTruthy();
        const now = snapshot(victims);
        for (const file of expected.keys()) if (!now.has(file)) lost.push(`run ${run}: ${file}`);
        // Restore what was lost, so every run counts on its own.
        for (const [file, content] of expected) {
          if (now.has(file)) continue;
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, content);
        }
      }
    } finally {
      await stopAttacker(attacker);
    }
    console.log(`[shared-dir-sweep] ${RUNS} sweeps under attack: ${lost.length} victim files deleted, ${failures.length} failed sweeps`);
    expect(lost, 'victim files deleted').toEqual([]);
    expect(failures, 'sweeps that failed').toEqual([]);
    expect([...modes], 'run directory modes').toEqual([0o700]);
    expect(snapshot(victims)).toEqual(expected);
    // The attacker's own entries are not root's to remove.
    expect(fs.readdirSync(shared).filter((n) => n.includes('.evil')).length).toBeGreaterThan(0);
    expect(fs.lstatSync(path.join(shared, `${RUN_DIR_PREFIX}${dead}.link`)).isSymbolicLink()).toBe(true);
  }, 120_000 + RUNS * 5_000);

  it.skipIf(distUnavailableReason() !== undefined)('`dontcache bench DIR` by root under attack: runs, and the victims are intact', async () => {
    const dead = deadPid();
    const attacker = await startAttacker(shared, victims, dead);
    try {
      const { stale } = plantRootEntries(dead);
      const bench = spawnSync(process.execPath, [CLI, 'bench', shared, '--size', '1M', '--trials', '1', '--scenarios', 'seq-write', '--modes', 'buffered', '--no-warmup', '--quiet', '--json'], { encoding: 'utf8', timeout: 120_000 });
      const now = snapshot(victims);
      expect([...expected.keys()].filter((file) => !now.has(file)), 'victim files deleted').toEqual([]);
      expect(bench.status, bench.stderr).toBe(0);
      expect(JSON.parse(bench.stdout).scenarios[0].status).toBe('ok');
      expect(fs.existsSync(stale)).toBe(false);
      expect(fs.readdirSync(shared).filter((n) => n.startsWith(`${RUN_DIR_PREFIX}${bench.pid}.`))).toEqual([]);
    } finally {
      await stopAttacker(attacker);
    }
    expect(snapshot(victims)).toEqual(expected);
  }, 180_000);

  it('a stale leftover of root with a file system mounted inside: the mount and its files stay', async () => {
    const dead = deadPid();
    const stale = path.join(shared, `${RUN_DIR_PREFIX}${dead}.mounted`);
    const inner = path.join(stale, 'm');
    fs.mkdirSync(inner, { recursive: true });
    spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', inner]);
    try {
      fs.writeFileSync(path.join(inner, 'precious'), 'on another file system');
      const resources = new LabResources(shared);
      await resources.release();
      expect(fs.readFileSync(path.join(inner, 'precious'), 'utf8')).toBe('on another file system');
    } finally {
      spawnSync('umount', [inner]);
      fs.rmSync(stale, { recursive: true, force: true });
    }
  });

  it('after release, clearRunDir touches nothing, even when the descriptor number now names another directory', async () => {
    const resources = new LabResources(shared);
    await resources.release();
    const other = path.join(mount.dir, 'reuses-the-fd');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'keep'), 'x');
    // The lowest free numbers go first: these likely reuse the run directory's.
    const fds = [fs.openSync(other, 'r'), fs.openSync(other, 'r')];
    try {
      resources.clearRunDir();
      expect(fs.readdirSync(other)).toEqual(['keep']);
    } finally {
      fds.forEach((fd) => fs.closeSync(fd));
      fs.rmSync(other, { recursive: true });
    }
  });

  it('refuses a directory whose path other users can change (world-writable without the sticky bit, or theirs)', () => {
    const open = path.join(mount.dir, 'open');
    const theirs = path.join(shared, 'theirs');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    fs.mkdirSync(path.join(theirs, 'root-owned-inside'), { recursive: true });
    fs.chownSync(theirs, NOBODY, NOBODY);
    try {
      for (const dir of [open, theirs, path.join(theirs, 'root-owned-inside')]) {
        expect(() => new LabResources(dir)).toThrow(expect.objectContaining({ code: 'ERR_DONTCACHE_UNSAFE_DIR' }));
        expect(fs.readdirSync(dir).filter((n) => n.startsWith(RUN_DIR_PREFIX))).toEqual([]);
      }
    } finally {
      fs.rmSync(open, { recursive: true });
      fs.rmSync(theirs, { recursive: true });
    }
  });
});
