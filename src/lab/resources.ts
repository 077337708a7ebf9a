/**
 * Everything a lab run creates outside its own memory: the run directory, worker
 * processes and memory cgroups. Released at the end of the run, on a failure and on
 * SIGINT/SIGTERM; leftovers of killed runs are swept at the start of the next one.
 *
 * The directory may be shared (a sticky /tmp, often with root running the lab): the
 * run directory is made by mkdtemp (a fresh name, mode 0700), and leftovers are swept
 * only when this user owns them, moved into the run directory first, without following
 * links (src/shared-dirs.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { processAlive, removeMemcg, sweepStaleMemcgs } from './memcg';
import { openDir, pathAt, removeOwnAt, sweepOwnLeftovers, untrustedDirReason, type OpenDir } from '../shared-dirs';

/** Run directories are `<dir>/.dontcache-lab.<pid>.<random>`. */
export const RUN_DIR_PREFIX = '.dontcache-lab.';

/** A directory whose path other users can change: the lab refuses to write there. */
export function unsafeLabDirError(dir: string, reason: string): Error {
  const error = new Error(`the lab writes nothing in ${dir}: other users could swap its files for links there (${reason})`);
  (error as NodeJS.ErrnoException).code = 'ERR_DONTCACHE_UNSAFE_DIR';
  return error;
}

export class LabResources {
  readonly children = new Set<ChildProcess>();
  readonly cgroups = new Set<string>();
  readonly runDir: string;
  /** The lab's directory and the run directory, held open: removal never goes by their paths. */
  private readonly parent: OpenDir;
  private readonly run: OpenDir;
  private removed = false;

  constructor(dir: string) {
    const real = fs.realpathSync(dir);
    const unsafe = untrustedDirReason(real);
    if (unsafe) throw unsafeLabDirError(dir, unsafe);
    this.parent = openDir(real);
    try {
      this.runDir = fs.mkdtempSync(path.join(real, `${RUN_DIR_PREFIX}${process.pid}.`));
      this.run = openDir(this.runDir);
    } catch (error) {
      fs.closeSync(this.parent.fd);
      throw error;
    }
    try {
      sweepStale(this.parent, this.run);
    } catch {
      /* a leftover that cannot go now stays for a later run; this one goes on */
    }
  }

  /** Tracks a worker until it exits. */
  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** Removes everything inside the run directory (it stays). Nothing once released. */
  clearRunDir(): void {
    // After release the descriptor is closed and its number may belong to something else.
    if (this.removed) return;
    for (const name of fs.readdirSync(pathAt(this.run.fd))) removeOwnAt(this.run, name);
  }

  /** Kills the workers still running, waits for them, removes the cgroups and the run directory. */
  async release(): Promise<void> {
    const exits = [...this.children].map(
      (child) => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    );
    await Promise.all(exits);
    for (const group of this.cgroups) {
      try {
        removeMemcg(group);
        this.cgroups.delete(group);
      } catch {
        /* reported by the sweep of the next run */
      }
    }
    if (this.removed) return;
    this.removed = true;
    fs.closeSync(this.run.fd);
    try {
      removeOwnAt(this.parent, path.basename(this.runDir));
    } finally {
      fs.closeSync(this.parent.fd);
    }
  }
}

/** Whether `name` is a run directory of a lab process that is gone. */
function isStaleRunDir(name: string): boolean {
  const pid = Number(name.slice(RUN_DIR_PREFIX.length).split('.')[0]);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid);
}

/** Removes run directories (moved into `into` first) and cgroups of lab runs whose process is gone. */
function sweepStale(dir: OpenDir, into: OpenDir): void {
  sweepStaleMemcgs();
  sweepOwnLeftovers(dir, RUN_DIR_PREFIX, isStaleRunDir, into);
}
