import os from 'node:os';
import { fileSystemType } from '../fs-type';
import { releaseEvidence } from './release';
import { kallsymsSource, tracefsSource } from './sources';
import { tryDontcache } from './trial';
import type { ProbeOptions, ProbeResult } from './types';
import { weighEvidence } from './verdict';
import { validateObject, validateString } from '../validate';

export type { Evidence, EvidenceSource, EvidenceWeight, OverwriteEvidence, ProbeOptions, ProbeResult, WritebackBehaviour } from './types';
export { parseRelease, releaseEvidence, type KernelRelease } from './release';
export { fsTypeName, fileSystemType } from '../fs-type';
export {
  cachestatEvidence, kallsymsEvidence, overwriteEvidence, tracefsEvidence, type CachestatReading, type OverwriteReading,
} from './evidence';
export { weighEvidence } from './verdict';
export { adviceFor } from './advice';

/**
 * Finds out whether RWF_DONTCACHE works in `dir` (writes and reads tried separately on a
 * temporary file there that has no name, so nothing is left behind), whether dontcache
 * overwrites of data on disk are dropped there too, and which writeback behaviour the
 * kernel has, from the release number, tracefs, kallsyms and an empirical cachestat
 * test. Rejects with a Node-style system error when `dir` cannot be used (ENOENT,
 * EACCES, EROFS, ...).
 */
export async function probe(dir = '.', options: ProbeOptions = {}): Promise<ProbeResult> {
  validateString(dir, 'dir');
  validateObject(options, 'options');
  const fsType = await fileSystemType(dir);
  const kernel = os.release();
  const trial = await tryDontcache(dir);
  const evidence = [
    releaseEvidence(kernel),
    await tracefsSource(options.mountTracefs === true),
    await kallsymsSource(),
    trial.cachestat,
  ];
  const { writeback, verdictReason } = weighEvidence(evidence, trial);
  const result: ProbeResult = {
    kernel,
    fsType,
    dontcacheWrite: trial.dontcacheWrite,
    dontcacheRead: trial.dontcacheRead,
    overwriteDropped: trial.overwriteDropped,
    overwriteEvidence: trial.overwriteEvidence,
    writeback,
    evidence,
    verdictReason,
  };
  if (trial.refusedWith !== undefined) result.refusedWith = trial.refusedWith;
  return result;
}
