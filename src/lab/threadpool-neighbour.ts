/**
 * The threadpool-neighbour scenario (issue 15): while a stream writes, the rest of the
 * same process goes on: a loop of small readFile calls (see read-neighbour.ts) and the
 * event loop itself (the writer measures its delay). An inline-flush RWF_DONTCACHE
 * write holds a threadpool thread for its whole writeback submission; this shows what
 * that costs the neighbours against fs.createWriteStream writing the same bytes.
 */
import path from 'node:path';
import type { ModeName } from './report-types';
import type { Scenario } from './scenarios';
import type { WriterJob } from './job-types';

const MiB = 1024 * 1024;

/** The neighbour's file: one page, as a config file or template would be. */
export const SMALL_FILE_BYTES = 4096;

/** How the report names the neighbour of this scenario. */
export const READ_NEIGHBOUR_ROLE = `small readFile loop (${SMALL_FILE_BYTES} bytes, one at a time) in the writer's process`;

const IMPLEMENTATION: Partial<Record<ModeName, string>> = {
  buffered: 'fs.createWriteStream (Node)',
  dontcache: "DontcacheWriteStream, cache 'dontcache'",
  writeback: "DontcacheWriteStream, cache 'writeback'",
  auto: "DontcacheWriteStream, cache 'auto'",
};

const bytesOf = (sizeBytes: number) => Math.max(MiB, Math.floor(sizeBytes / MiB) * MiB);

export const THREADPOOL_NEIGHBOUR: Scenario = {
  name: 'threadpool-neighbour',
  description: 'a stream writes 1 MiB chunks while the same process reads a small file in a loop (threadpool) and runs its event loop',
  unavailable: () => undefined,
  skipMode: (mode) => (mode === 'direct' ? 'the streams have no O_DIRECT mode' : undefined),
  implementation: (mode) => IMPLEMENTATION[mode] ?? mode,
  params: (p) => ({ blockSize: MiB, bytes: bytesOf(p.sizeBytes), files: 1, neighbour: READ_NEIGHBOUR_ROLE }),
  plan: (mode, dir, p) => {
    const main: WriterJob = {
      kind: 'writer',
      mode,
      api: mode === 'buffered' ? 'node-fs' : 'stream',
      files: [path.join(dir, `threadpool-${mode}`)],
      bytesPerFile: bytesOf(p.sizeBytes),
      blockSize: MiB,
      pattern: 'seq',
      fileSize: bytesOf(p.sizeBytes),
      pipelined: true,
      keepFiles: false,
      windowBytes: p.windowBytes,
      readNeighbour: path.join(dir, `threadpool-${mode}.small`),
    };
    return { main };
  },
};
