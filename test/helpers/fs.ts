// Where tests write: the shared mounts of the run, and unique temporary files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import type { FsKind } from './mounts';

export interface TestFs {
  kind: FsKind;
  dir?: string;
  skip?: string;
}

/** The run's mounts (ext4, xfs, btrfs, tmpfs); `skip` says why one is missing. */
export function testFileSystems(): TestFs[] {
  return inject('mounts');
}

export function testFs(kind: FsKind): TestFs {
  return testFileSystems().find((m) => m.kind === kind) ?? { kind, skip: `${kind}: not set up` };
}

let counter = 0;
/** A path for a new file in dir (default: the OS temp dir); removed by cleanupTempFiles. */
export function tempPath(dir: string = os.tmpdir(), name = 'file'): string {
  const file = path.join(dir, `dontcache-test.${process.pid}.${counter++}.${name}`);
  created.push(file);
  return file;
}

const created: string[] = [];
export function cleanupTempFiles(): void {
  for (const file of created.splice(0)) fs.rmSync(file, { force: true, recursive: true });
}
