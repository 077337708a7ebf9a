/**
 * One face for the two streams the lab compares: the package's DontcacheWriteStream
 * (cache 'dontcache' | 'writeback' | 'buffered' | 'auto') and Node's fs.createWriteStream.
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import type { LatencySummary } from '../latency';
import { createDontcacheWriteStream, type WriteStreamStats } from '../write-stream';
import type { CacheOption } from '../stream-options';

/** A write stream as the lab drives it. */
export interface LabStream {
  /** Writes `chunk`; `cb` runs when the stream has written it. False: wait for {@link drained}. */
  write(chunk: Buffer, cb: (error?: Error | null) => void): boolean;
  drained(): Promise<void>;
  /** Ends the stream and resolves once the file is closed. */
  end(): Promise<void>;
  /** The strategy the stream used (DontcacheWriteStream only). */
  strategy(): string | undefined;
  /** Syscall latency the stream measured, per native call of coalesced chunks (DontcacheWriteStream only). */
  syscallSummary(): LatencySummary | undefined;
}

function wrap(stream: Writable, stats: () => WriteStreamStats | undefined): LabStream {
  let failure: Error | undefined;
  stream.on('error', (error) => (failure = error));
  return {
    write: (chunk, cb) => stream.write(chunk, cb),
    drained: () =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        const onError = (error: Error) => reject(error);
        stream.once('drain', () => {
          stream.off('error', onError);
          resolve();
        });
        stream.once('error', onError);
      }),
    end: () =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        stream.once('close', () => (failure ? reject(failure) : resolve()));
        stream.end();
      }),
    strategy: () => stats()?.strategy,
    syscallSummary: () => stats()?.syscallLatency,
  };
}

/** Opens `path` (truncating) with the package's stream in `cache` mode, or Node's fs stream ('node-fs'). */
export function openLabStream(path: string, cache: string): LabStream {
  if (cache === 'node-fs') return wrap(fs.createWriteStream(path), () => undefined);
  const stream = createDontcacheWriteStream(path, { cache: cache as CacheOption });
  return wrap(stream, () => stream.stats);
}
