// Leak guard for the reliability suites: no file descriptor, temporary file or
// mount made by this test process may outlive the suite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { cleanupTempFiles, testFileSystems } from '../helpers/fs';

/** Regular files and directories this process has open (pipes and sockets belong to vitest). */
export function openFileDescriptors(): Map<string, string> {
  const open = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd of the readdir itself, closed by now
    }
    if (/^(pipe|socket|anon_inode):/.test(target)) continue;
    open.set(fd, target);
  }
  return open;
}

/** Entries named with this process's pid in the temp dir and the shared mounts. */
export function leftoverPaths(): string[] {
  const marker = `.${process.pid}.`;
  const dirs = [os.tmpdir(), ...testFileSystems().flatMap((m) => (m.dir ? [m.dir] : []))];
  return dirs.flatMap((dir) =>
    fs.readdirSync(dir).filter((name) => name.startsWith('dontcache') && name.includes(marker)).map((n) => path.join(dir, n)),
  );
}

/** Mounts of this process still in /proc/mounts. */
export function leftoverMounts(): string[] {
  return fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((line) => line.includes(`dontcache-mnt.${process.pid}.`));
}

/** A unique temporary directory for this process (removed by hand or found by guardLeaks). */
export function tempDir(base: string = os.tmpdir(), name = 'rel'): string {
  return fs.mkdtempSync(path.join(base, `dontcache-${name}.${process.pid}.`));
}

/** Registers beforeAll/afterAll hooks that fail the suite when it leaks. */
export function guardLeaks(): void {
  let before = new Map<string, string>();
  beforeAll(() => {
    before = openFileDescriptors();
  });
  afterAll(() => {
    cleanupTempFiles();
    const after = openFileDescriptors();
    const leaked = [...after].filter(([fd, target]) => before.get(fd) !== target).map(([fd, t]) => `${fd} -> ${t}`);
    expect(leaked, 'file descriptors opened by the suite and never closed').toEqual([]);
    expect(leftoverPaths(), 'temporary files left behind').toEqual([]);
    expect(leftoverMounts(), 'mounts left behind').toEqual([]);
  });
}
