// Page-cache residency as the stat and drop tables show it.
import type { ByteCount, PageCacheState } from '../page-cache';
import { formatBytes, formatPercent } from './output';

/** The cached bytes and resident fraction of a state as table cells; 'unknown' when the kernel would not tell. */
export function residencyCells(state: { bytes: { cached: ByteCount | null }; residentFraction: number | null }): [string, string] {
  if (state.residentFraction === null || state.bytes.cached === null) return ['unknown', '-'];
  return [formatBytes(state.bytes.cached), formatPercent(state.residentFraction)];
}

/** One line per distinct reason why a state is unknown (none when all are known). */
export function unknownNotes(states: PageCacheState[]): string[] {
  const reasons = new Set(states.flatMap((s) => (s.status === 'unknown' ? [s.reason] : [])));
  return [...reasons].map((reason) => `unknown: ${reason}`);
}
