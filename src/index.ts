/**
 * dontcache: pwritev2/preadv2 with RWF_DONTCACHE and friends for Node.js on Linux.
 * @packageDocumentation
 */
import { loaded } from './native';

export * from './io';
export { constants, type Constants } from './constants';
export { systemError, type SystemError } from './errors';
export { probe, type ProbeResult, type ProbeOptions, type Evidence, type EvidenceSource, type EvidenceWeight, type WritebackBehaviour } from './probe';
export { pageCacheState, dropCache, type PageCacheState, type PageCacheStateOptions, type PageCounts, type PathOrFd } from './page-cache';

/** True when the native addon is loaded (Linux). Elsewhere every function throws ENOSYS. */
export const platformSupported: boolean = loaded.supported;
/** Alias of {@link platformSupported}. */
export const supported: boolean = loaded.supported;
/** Path of the native addon in use (a prebuild or a local compile). */
export const addonPath: string = loaded.source;
