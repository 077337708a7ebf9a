// The detection sources as pure functions, against text recorded from real kernels
// (6.18 here) and written after the 7.2 sources (the reason list gains "dontcache").
import { describe, expect, it } from 'vitest';
import {
  cachestatEvidence, fsTypeName, kallsymsEvidence, overwriteEvidence, parseRelease, releaseEvidence, tracefsEvidence, weighEvidence,
  type CachestatReading, type Evidence,
} from '../src/probe';
import { writebackReasons } from '../src/probe/evidence';
import { adviceFor } from '../src/probe/advice';

const FORMAT_HEAD = `name: writeback_start
ID: 995
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char name[32];\toffset:8;\tsize:32;\tsigned:0;
\tfield:long nr_pages;\toffset:40;\tsize:8;\tsigned:1;
\tfield:dev_t sb_dev;\toffset:48;\tsize:4;\tsigned:0;
\tfield:int sync_mode;\toffset:52;\tsize:4;\tsigned:1;
\tfield:int for_kupdate;\toffset:56;\tsize:4;\tsigned:1;
\tfield:int range_cyclic;\toffset:60;\tsize:4;\tsigned:1;
\tfield:int for_background;\toffset:64;\tsize:4;\tsigned:1;
\tfield:int reason;\toffset:68;\tsize:4;\tsigned:1;
\tfield:ino_t cgroup_ino;\toffset:72;\tsize:8;\tsigned:0;

print fmt: "bdi %s: sb_dev %d:%d nr_pages=%ld sync_mode=%d kupdate=%d range_cyclic=%d background=%d reason=%s cgroup_ino=%lu", REC->name, ((unsigned int) ((REC->sb_dev) >> 20)), ((unsigned int) ((REC->sb_dev) & ((1U << 20) - 1))), REC->nr_pages, REC->sync_mode, REC->for_kupdate, REC->range_cyclic, REC->for_background, `;
const REASONS_618 = '__print_symbolic(REC->reason, { 0, "background" }, { 1, "vmscan" }, { 2, "sync" }, { 3, "periodic" }, { 4, "laptop_timer" }, { 5, "fs_free_space" }, { 6, "forker_thread" }, { 7, "foreign_flush" })';
const REASONS_72 = '__print_symbolic(REC->reason, { 0, "background" }, { 1, "vmscan" }, { 2, "sync" }, { 3, "periodic" }, { 4, "laptop_timer" }, { 5, "fs_free_space" }, { 6, "forker_thread" }, { 7, "foreign_flush" }, { 8, "dontcache" })';
const TAIL = ', (unsigned long)REC->cgroup_ino\n';
/** Recorded on this machine (6.18.44). */
const TRACEFS_618 = FORMAT_HEAD + REASONS_618 + TAIL;
/** 7.2: the same event with the new reason. */
const TRACEFS_72 = FORMAT_HEAD + REASONS_72 + TAIL;

/** Excerpt of /proc/kallsyms on 6.18 (inline flush). */
const KALLSYMS_618 = `ffffffff8158b900 T filemap_fdatawrite_wbc
ffffffff8158cf60 T folio_end_dropbehind
ffffffff8158fd00 T filemap_fdatawrite_range
ffffffff8158fd20 T filemap_fdatawrite_range_kick
ffffffff8170b5d0 T wb_start_background_writeback
ffffffff8170bc60 T wb_workfn
ffffffffc0a12340 t ext4_buffered_write_iter\t[ext4]
`;
/** Excerpt of /proc/kallsyms on 7.2.13 (flusher kick, helpers inlined): only the renamed helper. */
const KALLSYMS_72 = `ffffffff81590a10 T filemap_fdatawrite_wbc
ffffffff81591b80 T folio_end_dropbehind
ffffffff81593c40 T filemap_fdatawrite_range
ffffffff81593c60 T filemap_flush_range
ffffffff8170f2d0 T wb_start_background_writeback
ffffffff8170f9a0 T wb_workfn
`;
/** A 7.2 build where the flusher-kick helper was not inlined; addresses hidden (kptr_restrict). */
const KALLSYMS_72_HELPER = `0000000000000000 T filemap_flush_range
0000000000000000 t wb_check_start_dontcache
0000000000000000 T wb_workfn
`;

const PAGES = 256; // 1 MiB of 4 KiB pages
const reading = (cache: number, dirty: number, writeback: number): CachestatReading => ({
  pages: PAGES, stat: { cached: cache, cache, dirty, writeback, evicted: 0, recentlyEvicted: 0 },
});

describe('parseRelease', () => {
  it.each([
    ['6.13.0', { major: 6, minor: 13, patch: 0, rc: undefined, suffix: '' }],
    ['6.18.44-fc-v669', { major: 6, minor: 18, patch: 44, rc: undefined, suffix: '-fc-v669' }],
    ['7.1.9', { major: 7, minor: 1, patch: 9, rc: undefined, suffix: '' }],
    ['7.2.0-rc1', { major: 7, minor: 2, patch: 0, rc: 1, suffix: '-rc1' }],
    ['7.2.13+deb14-amd64', { major: 7, minor: 2, patch: 13, rc: undefined, suffix: '+deb14-amd64' }],
    ['6.1.0-27-amd64', { major: 6, minor: 1, patch: 0, rc: undefined, suffix: '-27-amd64' }],
    ['6.14', { major: 6, minor: 14, patch: 0, rc: undefined, suffix: '' }],
  ])('%s', (text, want) => {
    expect(parseRelease(text)).toEqual(want);
  });

  it('gives undefined for text without major.minor', () => {
    expect(parseRelease('linux')).toBeUndefined();
    expect(parseRelease('')).toBeUndefined();
  });
});

describe('releaseEvidence', () => {
  it.each([
    ['6.1.0-27-amd64', 'unsupported'],
    ['6.13.0', 'unsupported'],
    ['6.14.0', 'inline-flush'],
    ['6.18.44-fc-v669', 'inline-flush'],
    ['7.1.9', 'inline-flush'],
    ['7.2.0-rc1', 'flusher-kick'],
    ['7.2.13+deb14-amd64', 'flusher-kick'],
    ['8.0.0', 'flusher-kick'],
  ])('%s says %s', (release, says) => {
    const e = releaseEvidence(release);
    expect(e).toMatchObject({ source: 'release', says, weight: 'medium' });
    expect(e.detail).toMatch(/\d+\.\d+/);
  });

  it('says unknown for an unparseable release', () => {
    expect(releaseEvidence('weird')).toMatchObject({ says: 'unknown', weight: 'none' });
  });
});

describe('tracefsEvidence', () => {
  it('reads the reason list of the writeback_start format', () => {
    expect(writebackReasons(TRACEFS_618)).toEqual([
      'background', 'vmscan', 'sync', 'periodic', 'laptop_timer', 'fs_free_space', 'forker_thread', 'foreign_flush',
    ]);
    expect(writebackReasons(TRACEFS_72)).toContain('dontcache');
  });

  it('without the "dontcache" reason (6.18): not the flusher kick, weak', () => {
    expect(tracefsEvidence(TRACEFS_618)).toMatchObject({ source: 'tracefs', says: 'inline-flush', weight: 'weak' });
  });

  it('with the "dontcache" reason (7.2): flusher kick, strong', () => {
    expect(tracefsEvidence(TRACEFS_72)).toMatchObject({ source: 'tracefs', says: 'flusher-kick', weight: 'strong' });
  });

  it('says unknown for a format without a reason list', () => {
    expect(tracefsEvidence(FORMAT_HEAD + '"x", REC->name\n')).toMatchObject({ says: 'unknown', weight: 'none' });
    expect(tracefsEvidence('')).toMatchObject({ says: 'unknown' });
  });
});

describe('kallsymsEvidence', () => {
  it('filemap_fdatawrite_range_kick means inline flush', () => {
    expect(kallsymsEvidence(KALLSYMS_618)).toMatchObject({ source: 'kallsyms', says: 'inline-flush', weight: 'medium' });
  });

  it('filemap_flush_range alone decides nothing (weak)', () => {
    const e = kallsymsEvidence(KALLSYMS_72);
    expect(e).toMatchObject({ says: 'unknown', weight: 'weak' });
    expect(e.detail).toContain('filemap_flush_range');
  });

  it('a flusher-kick helper means flusher kick, also with hidden addresses', () => {
    expect(kallsymsEvidence(KALLSYMS_72_HELPER)).toMatchObject({ says: 'flusher-kick', weight: 'medium' });
  });

  it('matches whole names only', () => {
    expect(kallsymsEvidence('ffffffff81000000 T filemap_fdatawrite_range_kick_old\n')).toMatchObject({ says: 'unknown', weight: 'none' });
  });

  it('says unknown for empty text', () => {
    expect(kallsymsEvidence('')).toMatchObject({ says: 'unknown', weight: 'none' });
  });
});

describe('cachestatEvidence', () => {
  it('ranges under writeback right after the write: inline flush', () => {
    const e = cachestatEvidence(Array.from({ length: 8 }, () => reading(PAGES, 0, PAGES)));
    expect(e).toMatchObject({ source: 'cachestat', says: 'inline-flush', weight: 'strong' });
    expect(e.detail).toContain('8 under writeback or gone');
  });

  it('ranges already gone (fast device) count as flushed', () => {
    const readings = [reading(0, 0, 0), reading(10, 0, 10), reading(PAGES, 0, PAGES), reading(0, 0, 0)];
    expect(cachestatEvidence(readings).says).toBe('inline-flush');
  });

  it('ranges still dirty: flusher kick', () => {
    const readings = Array.from({ length: 8 }, (_, i) => (i === 0 ? reading(PAGES, 0, PAGES) : reading(PAGES, PAGES, 0)));
    const e = cachestatEvidence(readings);
    expect(e).toMatchObject({ says: 'flusher-kick', weight: 'strong' });
    expect(e.detail).toContain('7 still dirty');
  });

  it('no majority, or no readings: unknown', () => {
    expect(cachestatEvidence([reading(PAGES, PAGES, 0), reading(PAGES, 0, PAGES)]).says).toBe('unknown');
    expect(cachestatEvidence([]).says).toBe('unknown');
  });
});

describe('weighEvidence', () => {
  const ev = (source: Evidence['source'], says: Evidence['says'], weight: Evidence['weight']): Evidence => ({ source, says, weight, detail: '' });
  const accepted = { dontcacheWrite: true, dontcacheRead: true };
  const refused = { dontcacheWrite: false, dontcacheRead: false };

  it('agreeing sources: that verdict, no disagreement', () => {
    const v = weighEvidence([ev('release', 'inline-flush', 'medium'), ev('tracefs', 'unknown', 'none'),
      ev('kallsyms', 'inline-flush', 'medium'), ev('cachestat', 'inline-flush', 'strong')], accepted);
    expect(v.writeback).toBe('inline-flush');
    expect(v.verdictReason).toContain('no source disagrees');
  });

  it('the observation beats the release number, and the disagreement is reported', () => {
    const v = weighEvidence([ev('release', 'flusher-kick', 'medium'), ev('cachestat', 'inline-flush', 'strong')], accepted);
    expect(v.writeback).toBe('inline-flush');
    expect(v.verdictReason).toContain('disagreeing: release says flusher-kick');
  });

  it('tracefs "dontcache" beats release and kallsyms when the test could not run', () => {
    const v = weighEvidence([ev('release', 'inline-flush', 'medium'), ev('tracefs', 'flusher-kick', 'strong'),
      ev('kallsyms', 'inline-flush', 'medium'), ev('cachestat', 'unknown', 'none')], refused);
    expect(v.writeback).toBe('flusher-kick');
    expect(v.verdictReason).toMatch(/disagreeing: release says inline-flush; kallsyms says inline-flush/);
    expect(v.verdictReason).toContain('describes the kernel only');
  });

  it('old release and refused write: unsupported', () => {
    const v = weighEvidence([ev('release', 'unsupported', 'medium'), ev('tracefs', 'inline-flush', 'weak')], refused);
    expect(v.writeback).toBe('unsupported');
    expect(v.verdictReason).toContain('tracefs says inline-flush');
  });

  it('old release but accepted write: a backport, the release is ignored', () => {
    const v = weighEvidence([ev('release', 'unsupported', 'medium'), ev('cachestat', 'inline-flush', 'strong')], accepted);
    expect(v.writeback).toBe('inline-flush');
    expect(v.verdictReason).toContain('backport');
  });

  it('a tie inside the deciding class is unknown', () => {
    const v = weighEvidence([ev('release', 'flusher-kick', 'medium'), ev('kallsyms', 'inline-flush', 'medium')], accepted);
    expect(v.writeback).toBe('unknown');
    expect(v.verdictReason).toContain('tie');
  });

  it('a strong tie (tracefs vs a cachestat blurred by a fast flusher) is broken by the release', () => {
    // What the 7.2 kernel under software emulation showed on XFS.
    const v = weighEvidence([ev('release', 'flusher-kick', 'medium'), ev('tracefs', 'flusher-kick', 'strong'),
      ev('kallsyms', 'unknown', 'weak'), ev('cachestat', 'inline-flush', 'strong')], accepted);
    expect(v.writeback).toBe('flusher-kick');
    expect(v.verdictReason).toMatch(/strong sources tied .*broken by release/);
    expect(v.verdictReason).toContain('disagreeing: cachestat says inline-flush');
  });

  it('a tie that the weaker classes cannot break stays unknown', () => {
    const v = weighEvidence([ev('tracefs', 'flusher-kick', 'strong'), ev('cachestat', 'inline-flush', 'strong'),
      ev('release', 'flusher-kick', 'medium'), ev('kallsyms', 'inline-flush', 'medium')], accepted);
    expect(v.writeback).toBe('unknown');
  });

  it('weak hints alone do not decide when the write was refused', () => {
    expect(weighEvidence([ev('release', 'unknown', 'none'), ev('tracefs', 'inline-flush', 'weak')], refused).writeback).toBe('unknown');
    expect(weighEvidence([ev('tracefs', 'inline-flush', 'weak')], accepted).writeback).toBe('inline-flush');
  });

  it('no opinions: unknown', () => {
    expect(weighEvidence([ev('release', 'unknown', 'none')], accepted).writeback).toBe('unknown');
  });
});

describe('fsTypeName', () => {
  it.each([
    [0xef53, 'ext4'], [0x58465342, 'xfs'], [0x9123683e, 'btrfs'], [0x01021994, 'tmpfs'], [0x6969, 'nfs'],
    [0x794c7630, 'overlay'], [0x65735546, 'fuse'], [0xf2f52010, 'f2fs'], [0x2fc12fc1, 'zfs'], [0x858458f6, 'ramfs'],
  ])('0x%s is %s', (magic, name) => {
    expect(fsTypeName(magic)).toBe(name);
  });

  it('accepts the magic as a negative signed value and as bigint', () => {
    expect(fsTypeName(0x9123683e - 2 ** 32)).toBe('btrfs');
    expect(fsTypeName(0xf2f52010n)).toBe('f2fs');
  });

  it('names unknown magics in hex', () => {
    expect(fsTypeName(0x12345678)).toBe('unknown (0x12345678)');
  });
});

describe('overwriteEvidence', () => {
  // Figures of this machine (6.18): ext4 keeps every page of the overwrite, XFS none.
  it('ext4 on 6.18: overwrites left cached', () => {
    const r = overwriteEvidence({ pages: 1024, cachedBefore: 0, cachedAfter: 1024 });
    expect(r.dropped).toBe(false);
    expect(r.evidence).toMatchObject({ pages: 1024, cachedAfter: 1024 });
    expect(r.evidence.detail).toContain('1024/1024 pages');
    expect(r.evidence.detail).toContain('skips the drop');
  });

  it('XFS: overwrites dropped; a few stragglers still count as dropped', () => {
    expect(overwriteEvidence({ pages: 1024, cachedBefore: 0, cachedAfter: 0 }).dropped).toBe(true);
    expect(overwriteEvidence({ pages: 1024, cachedBefore: 0, cachedAfter: 100 }).dropped).toBe(true);
  });

  it('mixed, or a range that could not be emptied first: null with the reason', () => {
    const mixed = overwriteEvidence({ pages: 1024, cachedBefore: 0, cachedAfter: 512 });
    expect(mixed.dropped).toBeNull();
    expect(mixed.evidence.detail).toContain('mixed');
    const stuck = overwriteEvidence({ pages: 1024, cachedBefore: 1024, cachedAfter: 1024 });
    expect(stuck.dropped).toBeNull();
    expect(stuck.evidence.detail).toContain('before the overwrite');
  });
});

describe('adviceFor', () => {
  const base = {
    kernel: '6.18.0', fsType: 'ext4', dontcacheWrite: true, dontcacheRead: true, evidence: [], verdictReason: '',
    overwriteDropped: null, overwriteEvidence: { pages: 1024, cachedAfter: null, detail: 'not run' },
  };
  it('tells each verdict apart', () => {
    const texts = (['inline-flush', 'flusher-kick', 'unsupported', 'unknown'] as const)
      .map((writeback) => adviceFor({ ...base, writeback }).join(' '));
    expect(new Set(texts).size).toBe(4);
    expect(texts[0]).toContain('writer pays');
    expect(texts[1]).toContain('flusher thread');
    expect(texts[2]).toContain('6.14');
  });

  it('says a refusing file system refuses, and tmpfs needs nothing', () => {
    expect(adviceFor({ ...base, fsType: 'btrfs', dontcacheWrite: false, dontcacheRead: false, refusedWith: 'ENOTSUP', writeback: 'inline-flush' }).join(' '))
      .toContain('btrfs refuses RWF_DONTCACHE writes here (ENOTSUP)');
    expect(adviceFor({ ...base, fsType: 'tmpfs', dontcacheWrite: false, writeback: 'inline-flush' })[0]).toContain('only in memory');
  });

  it('says what overwrites that stay cached mean, and stays quiet when unknown', () => {
    const kept = adviceFor({ ...base, writeback: 'inline-flush', overwriteDropped: false }).join(' ');
    expect(kept).toContain('Overwrites of data already on disk stay in the page cache');
    expect(kept).toContain('dropCache()');
    expect(adviceFor({ ...base, writeback: 'inline-flush', overwriteDropped: true }).join(' ')).toContain('dropped too');
    expect(adviceFor({ ...base, writeback: 'inline-flush' }).join(' ')).not.toMatch(/overwrite/i);
  });
});
