/** What a machine does with RWF_DONTCACHE writes (see the README, "Probe and CLI"). */
export type WritebackBehaviour = 'inline-flush' | 'flusher-kick' | 'unsupported' | 'unknown';

/** Where a piece of evidence came from. */
export type EvidenceSource = 'release' | 'tracefs' | 'kallsyms' | 'cachestat';

/** How much a source's answer counts when sources disagree. */
export type EvidenceWeight = 'strong' | 'medium' | 'weak' | 'none';

/** One detection source and what it said. */
export interface Evidence {
  source: EvidenceSource;
  says: WritebackBehaviour;
  /** Human-readable: what was seen, or why the source could not be consulted. */
  detail: string;
  /** How much this answer counts in the verdict ('none' when the source said nothing). */
  weight: EvidenceWeight;
}

/**
 * The overwrite trial: a range written plainly, synced and dropped from the page cache,
 * then overwritten with RWF_DONTCACHE and synced. Kernels up to at least 7.2 skip the
 * drop when writeback completes in interrupt context, which ext4 does for blocks that
 * are already allocated: such overwrites stay cached although the flag was accepted.
 */
export interface OverwriteEvidence {
  /** Pages overwritten. */
  pages: number;
  /** Of those, cached after the dontcache overwrite and fdatasync; null when the trial did not run. */
  cachedAfter: number | null;
  /** What was seen, or why the trial could not run or decide. */
  detail: string;
}

/** The result of {@link probe}. */
export interface ProbeResult {
  /** Kernel release (`uname -r`). */
  kernel: string;
  /** File system type of the probed directory, from the statfs magic number. */
  fsType: string;
  /** Whether pwritev2 with RWF_DONTCACHE succeeded on a temporary file in the directory. */
  dontcacheWrite: boolean;
  /** Whether preadv2 with RWF_DONTCACHE succeeded there. */
  dontcacheRead: boolean;
  /** Node error code of the refusal (write refusal first, e.g. 'ENOTSUP'), when either was refused. */
  refusedWith?: string;
  /**
   * Whether this kernel and file system drop pages of a dontcache write that overwrites
   * data already on disk (new files and appends are dropped wherever the flag works).
   * false: overwrites stay cached (ext4 on 6.18 and 7.2); DontcacheWriteStream then
   * drops them itself, direct pwritev2 callers must (see dropCache). null: not known
   * (the write flag was refused, cachestat is missing, or the trial was inconclusive).
   */
  overwriteDropped: boolean | null;
  /** The overwrite trial's figures behind {@link overwriteDropped}. */
  overwriteEvidence: OverwriteEvidence;
  /** The kernel's writeback behaviour for RWF_DONTCACHE writes. */
  writeback: WritebackBehaviour;
  /** Every source consulted, in order: release, tracefs, kallsyms, cachestat. */
  evidence: Evidence[];
  /** How the sources were weighed, and whether any disagreed. */
  verdictReason: string;
}

/** Options of {@link probe}. */
export interface ProbeOptions {
  /**
   * Mount tracefs at /sys/kernel/tracing when it is not mounted (root only), and
   * unmount it afterwards. Default false: an unmounted tracefs is reported, not mounted.
   */
  mountTracefs?: boolean;
}
