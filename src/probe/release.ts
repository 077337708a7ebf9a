import type { Evidence } from './types';

/** A kernel release split into its numbers. */
export interface KernelRelease {
  major: number;
  minor: number;
  patch: number;
  /** Release candidate number ('7.2.0-rc1' → 1), undefined for final releases. */
  rc?: number;
  /** Everything after the numbers, e.g. '-fc-v669' or '+deb14-amd64'. */
  suffix: string;
}

/** Parses `uname -r` output such as '6.18.44-fc-v669' or '7.2.0-rc1'; undefined if it has no major.minor. */
export function parseRelease(release: string): KernelRelease | undefined {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(release.trim());
  if (!match) return undefined;
  const suffix = match[4];
  const rc = /^-rc(\d+)/.exec(suffix);
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: match[3] === undefined ? 0 : Number(match[3]),
    rc: rc ? Number(rc[1]) : undefined,
    suffix,
  };
}

/** -1, 0 or 1 as release `r` is older than, equal to or newer than major.minor. */
export function compareRelease(r: KernelRelease, major: number, minor: number): number {
  return Math.sign(r.major - major || r.minor - minor);
}

/**
 * What the release number alone says. The flusher kick was merged for 7.2 (so 7.2-rc1
 * has it); RWF_DONTCACHE appeared in 6.14. Medium weight: distributions backport.
 */
export function releaseEvidence(release: string): Evidence {
  const r = parseRelease(release);
  if (!r) {
    return { source: 'release', says: 'unknown', weight: 'none', detail: `cannot parse the kernel release '${release}'` };
  }
  const version = `${r.major}.${r.minor}`;
  if (compareRelease(r, 6, 14) < 0) {
    return {
      source: 'release', says: 'unsupported', weight: 'medium',
      detail: `${version} is older than 6.14, which introduced RWF_DONTCACHE`,
    };
  }
  if (compareRelease(r, 7, 2) < 0) {
    return {
      source: 'release', says: 'inline-flush', weight: 'medium',
      detail: `${version} is in 6.14..7.1: writeback is submitted inline by the writer`,
    };
  }
  return {
    source: 'release', says: 'flusher-kick', weight: 'medium',
    detail: `${version} is 7.2 or later: dontcache writes kick the flusher thread`,
  };
}
