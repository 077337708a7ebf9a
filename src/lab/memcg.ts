/**
 * A memory cgroup for the memcg scenario: a child group with a small limit, so the
 * writer's page cache is under pressure. cgroup v1 (/sys/fs/cgroup/memory, this
 * machine) or v2 (memory.max). Root only; the group is always removed afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';
/** Groups are named with this prefix and the lab's pid, so a later run can remove leftovers. */
export const MEMCG_PREFIX = 'dontcache-lab.';

interface Hierarchy {
  root: string;
  limitFile: string;
}

function hierarchy(): Hierarchy | undefined {
  if (fs.existsSync(path.join(V1_ROOT, 'memory.limit_in_bytes'))) return { root: V1_ROOT, limitFile: 'memory.limit_in_bytes' };
  const controllers = path.join(V2_ROOT, 'cgroup.subtree_control');
  if (fs.existsSync(controllers) && fs.readFileSync(controllers, 'utf8').split(/\s+/).includes('memory')) {
    return { root: V2_ROOT, limitFile: 'memory.max' };
  }
  return undefined;
}

/** Why no memory cgroup can be made here, or undefined when one can. */
export function memcgUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'memory cgroups need Linux';
  if (process.getuid?.() !== 0) return 'creating a memory cgroup needs root';
  if (!hierarchy()) return `no memory cgroup hierarchy (neither ${V1_ROOT} nor a v2 memory controller)`;
  return undefined;
}

let counter = 0;

/** Creates a memory cgroup limited to `limitBytes`; returns its directory. */
export function createMemcg(limitBytes: number): string {
  const h = hierarchy();
  if (!h) throw new Error(memcgUnavailableReason());
  const dir = path.join(h.root, `${MEMCG_PREFIX}${process.pid}.${counter++}`);
  fs.mkdirSync(dir);
  try {
    fs.writeFileSync(path.join(dir, h.limitFile), String(limitBytes));
  } catch (error) {
    fs.rmdirSync(dir);
    throw error;
  }
  return dir;
}

/** Moves process `pid` into the group. */
export function attachToMemcg(dir: string, pid: number): void {
  fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
}

/** Removes the group (its processes must have exited; their page cache moves to the parent). */
export function removeMemcg(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes groups that runs killed before their cleanup left behind. */
export function sweepStaleMemcgs(): void {
  const h = hierarchy();
  if (!h || process.getuid?.() !== 0) return;
  for (const name of fs.readdirSync(h.root)) {
    const pid = Number(name.startsWith(MEMCG_PREFIX) ? name.slice(MEMCG_PREFIX.length).split('.')[0] : NaN);
    if (Number.isInteger(pid) && !alive(pid)) {
      try {
        removeMemcg(path.join(h.root, name));
      } catch {
        /* still has tasks: leave it */
      }
    }
  }
}

export { alive as processAlive };
