/**
 * Everything a lab run creates outside its own memory: the run directory, worker
 * processes and memory cgroups. Released at the end of the run, on a failure and on
 * SIGINT/SIGTERM; leftovers of killed runs are swept at the start of the next one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { processAlive, removeMemcg, sweepStaleMemcgs } from './memcg';

/** Run directories are `<dir>/.dontcache-lab.<pid>.<random>`. */
export const RUN_DIR_PREFIX = '.dontcache-lab.';

export class LabResources {
  readonly children = new Set<ChildProcess>();
  readonly cgroups = new Set<string>();
  readonly runDir: string;

  constructor(dir: string) {
    sweepStale(dir);
    this.runDir = path.join(dir, `${RUN_DIR_PREFIX}${process.pid}.${Math.random().toString(36).slice(2, 8)}`);
    fs.mkdirSync(this.runDir);
  }

  /** Tracks a worker until it exits. */
  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
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
    fs.rmSync(this.runDir, { recursive: true, force: true });
  }
}

/** Removes run directories and cgroups of lab runs whose process is gone. */
export function sweepStale(dir: string): void {
  sweepStaleMemcgs();
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const pid = Number(name.slice(RUN_DIR_PREFIX.length).split('.')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}
