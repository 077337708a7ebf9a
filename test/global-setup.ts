// One mount of each file system for the whole run, removed at the end (also on
// SIGINT/SIGTERM), after sweeping what killed runs left behind.
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { FS_KINDS, createMount, removeMount, sweepStaleMounts, type FsKind, type Mount } from './helpers/mounts';

export interface SharedMount {
  kind: FsKind;
  dir?: string;
  skip?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    mounts: SharedMount[];
  }
}

const SIZE_MIB: Record<FsKind, number> = { ext4: 3072, xfs: 3072, btrfs: 1024, tmpfs: 512 };

export default function setup(project: TestProject) {
  if (process.platform === 'linux' && process.getuid?.() === 0) sweepStaleMounts();
  const made: Mount[] = [];
  const shared: SharedMount[] = FS_KINDS.map((kind) => {
    try {
      const mount = createMount(kind, SIZE_MIB[kind]);
      made.push(mount);
      return { kind, dir: mount.dir };
    } catch (error) {
      return { kind, skip: (error as Error).message };
    }
  });
  for (const m of shared) if (m.skip) console.warn(`[dontcache tests] skipping ${m.kind}: ${m.skip}`);
  project.provide('mounts', shared);
  const cleanup = () => made.splice(0).forEach(removeMount);
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  };
}
