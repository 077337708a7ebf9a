// Pure readers of the detection sources: each takes text or numbers recorded from a
// machine and says which writeback behaviour they point to. Gathering the text is in
// sources.ts, so that these can be tested against recorded samples.
import type { CacheStat } from '../io';
import type { Evidence, OverwriteEvidence } from './types';

/** The reason strings of the writeback_start tracepoint's print fmt (`__print_symbolic(REC->reason, ...)`). */
export function writebackReasons(formatText: string): string[] | undefined {
  const start = formatText.indexOf('__print_symbolic(REC->reason');
  if (start < 0) return undefined;
  const end = formatText.indexOf(')', start);
  const list = formatText.slice(start, end < 0 ? undefined : end);
  return [...list.matchAll(/\{\s*[^,{}]+,\s*"([^"]*)"\s*\}/g)].map((m) => m[1]);
}

/**
 * What the writeback_start event format says. Only flusher-kick kernels (7.2+) know
 * the writeback reason "dontcache", so its presence is strong evidence. Its absence
 * only rules the flusher kick out: the kernel may also have no RWF_DONTCACHE at all,
 * hence weak.
 */
export function tracefsEvidence(formatText: string): Evidence {
  const reasons = writebackReasons(formatText);
  if (!reasons || reasons.length === 0) {
    return { source: 'tracefs', says: 'unknown', weight: 'none', detail: 'writeback_start format has no reason list' };
  }
  if (reasons.includes('dontcache')) {
    return {
      source: 'tracefs', says: 'flusher-kick', weight: 'strong',
      detail: `writeback reason "dontcache" present (${reasons.join(', ')})`,
    };
  }
  return {
    source: 'tracefs', says: 'inline-flush', weight: 'weak',
    detail: `no "dontcache" writeback reason (${reasons.join(', ')}): not the flusher kick`,
  };
}

/** Symbols of interest in /proc/kallsyms, and what each one means. */
const SYMBOLS = {
  // The inline flush's helper before its rename; gone from flusher-kick kernels.
  inline: 'filemap_fdatawrite_range_kick',
  // The rename of the above: in late inline kernels and (with other callers) in 7.2+.
  ambiguous: 'filemap_flush_range',
  // Flusher-kick helpers; often inlined and then absent.
  kick: /^(?:wb_check_start_dontcache|wb_start_dontcache\w*)$/,
};

/** Names found in kallsyms text (lines "address type name [module]") that matter here. */
export function interestingSymbols(kallsymsText: string): string[] {
  const found = new Set<string>();
  for (const match of kallsymsText.matchAll(/^\S+\s+\S\s+(\w+)/gm)) {
    const name = match[1];
    if (name === SYMBOLS.inline || name === SYMBOLS.ambiguous || SYMBOLS.kick.test(name)) found.add(name);
  }
  return [...found].sort();
}

/** What /proc/kallsyms says. Symbol names are weaker than the other sources (see kernel.md). */
export function kallsymsEvidence(kallsymsText: string): Evidence {
  if (!/^\S+\s+\S\s+\w+/m.test(kallsymsText)) {
    return { source: 'kallsyms', says: 'unknown', weight: 'none', detail: 'no symbols to read' };
  }
  const names = interestingSymbols(kallsymsText);
  const kick = names.filter((n) => SYMBOLS.kick.test(n));
  if (kick.length > 0) {
    return { source: 'kallsyms', says: 'flusher-kick', weight: 'medium', detail: `flusher-kick helper ${kick.join(', ')} present` };
  }
  if (names.includes(SYMBOLS.inline)) {
    return { source: 'kallsyms', says: 'inline-flush', weight: 'medium', detail: `${SYMBOLS.inline} present` };
  }
  if (names.includes(SYMBOLS.ambiguous)) {
    return {
      source: 'kallsyms', says: 'unknown', weight: 'weak',
      detail: `only ${SYMBOLS.ambiguous}: exists in both late inline-flush kernels and 7.2+, so it decides nothing`,
    };
  }
  return { source: 'kallsyms', says: 'unknown', weight: 'none', detail: 'none of the RWF_DONTCACHE writeback helpers is listed' };
}

/** One cachestat(2) reading of a range taken right after a dontcache write to it returned. */
export interface CachestatReading {
  /** Pages in the range written. */
  pages: number;
  stat: CacheStat;
}

/** What one reading shows: the range still mostly dirty, or mostly under writeback or already dropped. */
export function classifyReading({ pages, stat }: CachestatReading): 'dirty' | 'flushed' | 'mixed' {
  const gone = Math.max(0, pages - stat.cached);
  if (stat.dirty * 2 > pages) return 'dirty';
  if ((stat.writeback + gone) * 2 >= pages) return 'flushed';
  return 'mixed';
}

/**
 * The empirical test: inline-flush kernels have submitted writeback before the write
 * returns (range under writeback or gone); flusher-kick kernels leave it dirty for the
 * flusher. Decided by the majority of readings.
 */
export function cachestatEvidence(readings: readonly CachestatReading[]): Evidence {
  if (readings.length === 0) return { source: 'cachestat', says: 'unknown', weight: 'none', detail: 'no readings' };
  const counts = { dirty: 0, flushed: 0, mixed: 0 };
  for (const r of readings) counts[classifyReading(r)]++;
  const n = readings.length;
  const summary = `${n} dontcache writes: ${counts.flushed} under writeback or gone, ${counts.dirty} still dirty, ${counts.mixed} mixed, right after each write returned`;
  if (counts.flushed * 2 > n) return { source: 'cachestat', says: 'inline-flush', weight: 'strong', detail: summary };
  if (counts.dirty * 2 > n) return { source: 'cachestat', says: 'flusher-kick', weight: 'strong', detail: summary };
  return { source: 'cachestat', says: 'unknown', weight: 'none', detail: `${summary}: no majority` };
}

/** What the overwrite trial saw: cached pages of the overwritten range before and after. */
export interface OverwriteReading {
  /** Pages in the range. */
  pages: number;
  /** Cached after the plain write, fdatasync and POSIX_FADV_DONTNEED: should be 0. */
  cachedBefore: number;
  /** Cached after the dontcache overwrite and fdatasync (and a short wait). */
  cachedAfter: number;
}

/** A tenth of the pages: below it a range counts as dropped, above nine tenths as kept. */
const DECISIVE = 0.1;

/**
 * Reads the overwrite trial: dropped (at most a tenth still cached), left cached (at
 * least nine tenths), or null when the range could not be emptied first or the result is
 * mixed.
 */
export function overwriteEvidence(r: OverwriteReading): { dropped: boolean | null; evidence: OverwriteEvidence } {
  const seen = `${r.cachedAfter}/${r.pages} pages of a dontcache overwrite of written, uncached data still cached after fdatasync`;
  const result = (dropped: boolean | null, detail: string) => ({ dropped, evidence: { pages: r.pages, cachedAfter: r.cachedAfter, detail } });
  if (r.cachedBefore > r.pages * DECISIVE) {
    return result(null, `${r.cachedBefore}/${r.pages} pages stayed cached after POSIX_FADV_DONTNEED, before the overwrite: cannot tell`);
  }
  if (r.cachedAfter <= r.pages * DECISIVE) return result(true, `${seen}: the kernel drops overwrites`);
  if (r.cachedAfter >= r.pages * (1 - DECISIVE)) {
    return result(false, `${seen}: the kernel skips the drop for overwrites (writeback completed in interrupt context)`);
  }
  return result(null, `${seen}: mixed, cannot tell`);
}

/** The overwrite evidence of a trial that did not run. */
export function overwriteNotRun(pages: number, why: string): { dropped: null; evidence: OverwriteEvidence } {
  return { dropped: null, evidence: { pages, cachedAfter: null, detail: why } };
}

/** Evidence for a source that could not be consulted. */
export function unavailable(source: Evidence['source'], why: string): Evidence {
  return { source, says: 'unknown', weight: 'none', detail: why };
}
