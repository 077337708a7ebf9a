import { dropCache, pageCacheState, type PageCacheState } from '../page-cache';
import { EXIT, type Command } from './args';
import { errorLine, errorRecord, table } from './output';
import { residencyCells, unknownNotes } from './residency';

export interface DropRecord {
  path: string;
  before: PageCacheState;
  after: PageCacheState;
}

export const dropCommand: Command = {
  operands: '<file...>',
  minOperands: 1,
  maxOperands: Infinity,
  description: [
    'For each file: waits for writeback of its dirty pages (sync_file_range), then',
    'POSIX_FADV_DONTNEED, and shows the cached bytes before and after. Pages mapped or',
    'locked by other processes stay. Not a durability guarantee: use fsync for that.',
    'A file you may only read is dropped too; its before and after then say "unknown"',
    '(the kernel tells residency only to callers that could write the file).',
  ].join('\n'),
  options: {},
  async run(args, out) {
    const dropped: DropRecord[] = [];
    const errors: ReturnType<typeof errorRecord>[] = [];
    for (const path of args.positionals) {
      try {
        const before = await pageCacheState(path);
        dropped.push({ path, before, after: await dropCache(path) });
      } catch (error) {
        errors.push(errorRecord(path, error));
        if (!args.values.json) out.error(`dontcache drop: ${errorLine(error)}`);
      }
    }
    if (args.values.json) out.json({ files: dropped, errors });
    else if (dropped.length > 0) {
      const rows = [['BEFORE', '', 'AFTER', '', 'FILE'].map((h) => out.bold(h))];
      for (const d of dropped) {
        rows.push([...residencyCells(d.before), ...residencyCells(d.after), d.path]);
      }
      for (const line of table(rows, 'rrrrl')) out.line(line);
      for (const note of unknownNotes(dropped.flatMap((d) => [d.before, d.after]))) out.line(note);
    }
    return errors.length ? EXIT.failure : EXIT.ok;
  },
};
