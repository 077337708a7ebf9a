import type { Evidence, EvidenceWeight, WritebackBehaviour } from './types';

/** What the trial on the probed directory found, as far as the verdict needs it. */
export interface FlagSupport {
  dontcacheWrite: boolean;
  dontcacheRead: boolean;
}

export interface Verdict {
  writeback: WritebackBehaviour;
  verdictReason: string;
}

const WEIGHTS: readonly EvidenceWeight[] = ['strong', 'medium', 'weak'];

const opinion = (e: Evidence) => `${e.source} says ${e.says}`;

/** Answers of `group` with their votes, most votes first. */
function rank(group: readonly Evidence[]): [WritebackBehaviour, number][] {
  const tally = new Map<WritebackBehaviour, number>();
  for (const e of group) tally.set(e.says, (tally.get(e.says) ?? 0) + 1);
  return [...tally].sort((a, b) => b[1] - a[1]);
}

/**
 * Weighs the evidence: the strongest weight class that has an opinion decides (a
 * conclusive cachestat observation, or tracefs's "dontcache" reason, beats the release
 * number, which beats weak hints); inside a class the majority decides, and a tie
 * is broken by the weaker classes (or is 'unknown' if they cannot break it). 'unsupported' comes only from a release older than 6.14 when the write was
 * also refused here; when the flag was accepted, a release saying so is a backport and
 * is ignored. Disagreements are spelled out in `verdictReason`.
 */
export function weighEvidence(evidence: readonly Evidence[], support: FlagSupport): Verdict {
  const release = evidence.find((e) => e.source === 'release');
  const opinions = evidence.filter((e) => e.says !== 'unknown' && e.weight !== 'none');
  const others = (chosen: WritebackBehaviour) => {
    const against = opinions.filter((e) => e.says !== chosen);
    return against.length === 0 ? 'no source disagrees' : `disagreeing: ${against.map(opinion).join('; ')}`;
  };

  if (release?.says === 'unsupported' && !support.dontcacheWrite) {
    return {
      writeback: 'unsupported',
      verdictReason: `the write was refused and the kernel release predates RWF_DONTCACHE; ${others('unsupported')}`,
    };
  }
  const voters = opinions.filter((e) => e.says !== 'unsupported' || !support.dontcacheWrite);
  const ignored = opinions.filter((e) => !voters.includes(e));
  const note = ignored.length ? `; ignored ${ignored.map(opinion).join('; ')} (the flag was accepted here: a backport)` : '';

  for (const [index, weight] of WEIGHTS.entries()) {
    const group = voters.filter((e) => e.weight === weight);
    if (group.length === 0) continue;
    const ranked = rank(group);
    let chosen = ranked[0][0];
    let tieNote = '';
    if (ranked.length > 1 && ranked[0][1] === ranked[1][1]) {
      // A tie (say tracefs's compile-time reason list against a cachestat timing
      // observation that a fast flusher blurred, as under emulation) is broken by the
      // weaker sources, among the tied answers only.
      const tied = new Set(ranked.filter(([, n]) => n === ranked[0][1]).map(([says]) => says));
      const below = voters.filter((e) => WEIGHTS.indexOf(e.weight) > index && tied.has(e.says));
      const breaker = rank(below);
      if (breaker.length === 0 || (breaker.length > 1 && breaker[0][1] === breaker[1][1])) {
        return {
          writeback: 'unknown',
          verdictReason: `${weight} sources tie: ${group.map(opinion).join('; ')}${note}`,
        };
      }
      chosen = breaker[0][0];
      tieNote = `; ${weight} sources tied (${group.map(opinion).join('; ')}), broken by ${below.filter((e) => e.says === chosen).map((e) => e.source).join(' and ')}`;
    }
    if (weight === 'weak' && !support.dontcacheWrite) {
      return {
        writeback: 'unknown',
        verdictReason: `only weak hints (${group.map(opinion).join('; ')}) and the write was refused here${note}`,
      };
    }
    const deciders = group.filter((e) => e.says === chosen).map((e) => e.source).join(' and ');
    const refused = support.dontcacheWrite ? '' : '; this file system refuses the write flag, so the verdict describes the kernel only';
    return {
      writeback: chosen,
      verdictReason: `decided by ${weight} evidence from ${deciders}${tieNote}; ${others(chosen)}${note}${refused}`,
    };
  }
  return { writeback: 'unknown', verdictReason: `no source gave an answer${note}` };
}
