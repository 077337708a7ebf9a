import { byteCount, pageCacheState, type ByteCount, type PageCacheState } from '../page-cache';
import { choice, EXIT, type Command } from './args';
import { errorLine, errorRecord, formatBytes, table, type Output } from './output';
import { residencyCells, unknownNotes } from './residency';

const METHODS = ['auto', 'cachestat', 'mincore'] as const;
const FIELDS = ['total', 'cached', 'dirty', 'writeback', 'evicted', 'recentlyEvicted'] as const;

export type FileState = PageCacheState & { path: string };

type Counts<T> = Record<(typeof FIELDS)[number], T | null>;

/** Field-wise sums (exact: bigints inside); a field is null when any file could not tell it. */
export function sumCounts<T extends ByteCount>(all: Counts<T>[]): Counts<ByteCount> {
  const sum = {} as Counts<ByteCount>;
  for (const field of FIELDS) {
    const total = all.reduce<bigint | null>((acc, c) => (acc === null || c[field] === null ? null : acc + BigInt(c[field] as T)), 0n);
    sum[field] = total === null ? null : byteCount(total);
  }
  return sum;
}

/** Totals over the files: pages, bytes and the resident fraction (null when a file's is unknown). */
export function totals(files: FileState[]) {
  const pages = sumCounts(files.map((f) => f.pages));
  const bytes = sumCounts(files.map((f) => f.bytes));
  const size = byteCount(files.reduce((a, f) => a + BigInt(f.size), 0n));
  const fraction = pages.cached === null ? null : pages.total === 0 ? 0 : Number(pages.cached) / Number(pages.total);
  return { files: files.length, size, pages, bytes, residentFraction: fraction };
}

/** Rows of the stat table (header, one per file, a total row when more than one). */
export function statTable(out: Output, files: FileState[]): string[] {
  const row = (name: string, size: ByteCount, s: { bytes: Counts<ByteCount>; residentFraction: number | null }) => [
    formatBytes(size), ...residencyCells(s), formatBytes(s.bytes.dirty), formatBytes(s.bytes.writeback),
    formatBytes(s.bytes.evicted), name,
  ];
  const rows = [['SIZE', 'CACHED', '%', 'DIRTY', 'WRITEBACK', 'EVICTED', 'FILE'].map((h) => out.bold(h))];
  for (const f of files) rows.push(row(f.path, f.size, f));
  if (files.length > 1) {
    const t = totals(files);
    rows.push(row(out.bold(`total (${files.length} files)`), t.size, t));
  }
  return table(rows, 'rrrrrrl');
}

export const statCommand: Command = {
  operands: '<file...>',
  minOperands: 1,
  maxOperands: Infinity,
  description: [
    'Prints size, cached, dirty, under writeback and evicted bytes per file, with totals.',
    'Uses cachestat(2) (Linux 6.5+); falls back to mmap + mincore(2), which shows only',
    'cached pages ("-" for the rest). The kernel tells residency only to callers that',
    'could write the file (owner, root, write permission): for a file you may only read',
    'the row says "unknown", the reason follows the table, and that is no error. A',
    'file that cannot be read is reported on stderr, the others are still shown, and',
    'the exit status is 1.',
  ].join('\n'),
  options: {
    method: { type: 'string', value: 'auto|cachestat|mincore', description: 'how to look (default auto)' },
  },
  async run(args, out) {
    const method = choice(args, 'method', METHODS, 'auto');
    const files: FileState[] = [];
    const errors: ReturnType<typeof errorRecord>[] = [];
    for (const path of args.positionals) {
      try {
        files.push({ path, ...(await pageCacheState(path, { method })) });
      } catch (error) {
        errors.push(errorRecord(path, error));
        if (!args.values.json) out.error(`dontcache stat: ${errorLine(error)}`);
      }
    }
    if (args.values.json) out.json({ files, total: totals(files), errors });
    else if (files.length > 0) {
      for (const line of statTable(out, files)) out.line(line);
      const used = [...new Set(files.map((f) => f.method))].join(', ');
      for (const note of unknownNotes(files)) out.line(note);
      out.line(out.dim(`method: ${used}, page size ${files[0].pageSize} B`));
    }
    return errors.length ? EXIT.failure : EXIT.ok;
  },
};
