/**
 * dontcache: pwritev2/preadv2 with RWF_DONTCACHE and friends for Node.js on Linux.
 * The main entry: the I/O layer, the streams, the probe and the page-cache helpers. The
 * latency lab is the subpath `dontcache/lab`, so that requiring this loads none of it.
 * @packageDocumentation
 */
import { loaded } from './native';

export * from './io';
export { constants, type Constants } from './constants';
export { systemError, type SystemError } from './errors';
export { probe, type ProbeResult, type ProbeOptions, type Evidence, type EvidenceSource, type EvidenceWeight, type WritebackBehaviour } from './probe';
export {
  pageCacheState, dropCache, MINCORE_MAX_BYTES, type PageCacheState, type KnownPageCacheState, type UnknownPageCacheState,
  type PageCacheStateOptions, type PageCounts, type ByteCounts, type ByteCount, type UnknownCounts, type PathOrFd,
} from './page-cache';
export { DontcacheWriteStream, type DontcacheWriteStreamBase, createDontcacheWriteStream, DEFAULT_WRITE_HIGH_WATER_MARK, MAX_QUEUED_CHUNKS, type DontcacheWriteStreamConstructor, type DontcacheWriteStreamOptions, type WriteStreamStats, type WriteStreamEvents } from './write-stream';
export { DontcacheReadStream, type DontcacheReadStreamBase, createDontcacheReadStream, DEFAULT_READ_HIGH_WATER_MARK, type DontcacheReadStreamConstructor, type DontcacheReadStreamOptions, type ReadStreamStats, type ReadStreamEvents } from './read-stream';
export { type CacheOption, type CacheStrategy, type FallbackOption, type FallbackEvent } from './stream-options';
export { KEEP_DESCRIPTOR_OPEN, type StreamFsImplementation, type WriteStreamFsImplementation, type ReadStreamFsImplementation } from './stream-file';
export { LatencyHistogram, type LatencySummary } from './latency';

/** True when the native addon is loaded (Linux). Elsewhere every function throws ENOSYS. */
export const platformSupported: boolean = loaded.supported;
/** Path of the native addon in use (a prebuild or a local compile). */
export const addonPath: string = loaded.source;
