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
