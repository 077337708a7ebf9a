import { pageCacheState, type PageCacheState, type PageCounts } from '../page-cache';
import { choice, EXIT, type Command } from './args';
import { errorLine, errorRecord, formatBytes, formatPercent, table, type Output } from './output';

const METHODS = ['auto', 'cachestat', 'mincore'] as const;
const FIELDS = ['total', 'cached', 'dirty', 'writeback', 'evicted', 'recentlyEvicted'] as const;

export interface FileState extends PageCacheState {
  path: string;
}

/** Field-wise sums; a field is null when any file could not tell it. */
export function sumCounts(all: PageCounts[]): PageCounts {
  const sum = {} as Record<(typeof FIELDS)[number], number | null>;
  for (const field of FIELDS) {
    sum[field] = all.reduce<number | null>((acc, c) => (acc === null || c[field] === null ? null : acc + (c[field] as number)), 0);
  }
  return sum as unknown as PageCounts;
}

/** Totals over the files: pages, bytes and the resident fraction. */
export function totals(files: FileState[]) {
  const pages = sumCounts(files.map((f) => f.pages));
  const bytes = sumCounts(files.map((f) => f.bytes));
  return { files: files.length, size: files.reduce((a, f) => a + f.size, 0), pages, bytes,
    residentFraction: pages.total === 0 ? 0 : pages.cached / pages.total };
}

/** Rows of the stat table (header, one per file, a total row when more than one). */
export function statTable(out: Output, files: FileState[]): string[] {
  const row = (name: string, size: number, b: PageCounts, fraction: number) => [
    formatBytes(size), formatBytes(b.cached), formatPercent(fraction), formatBytes(b.dirty), formatBytes(b.writeback),
    formatBytes(b.evicted), name,
  ];
  const rows = [['SIZE', 'CACHED', '%', 'DIRTY', 'WRITEBACK', 'EVICTED', 'FILE'].map((h) => out.bold(h))];
  for (const f of files) rows.push(row(f.path, f.size, f.bytes, f.residentFraction));
  if (files.length > 1) {
    const t = totals(files);
    rows.push(row(out.bold(`total (${files.length} files)`), t.size, t.bytes, t.residentFraction));
  }
  return table(rows, 'rrrrrrl');
}

export const statCommand: Command = {
  name: 'stat',
  summary: 'How much of each file is in the page cache (like fincore/vmtouch).',
  operands: '<file...>',
  minOperands: 1,
  maxOperands: Infinity,
  description: [
    'Prints size, cached, dirty, under writeback and evicted bytes per file, with totals.',
    'Uses cachestat(2) (Linux 6.5+); falls back to mmap + mincore(2), which shows only',
    'cached pages ("-" for the rest). A file that cannot be read is reported on stderr,',
    'the others are still shown, and the exit status is 1.',
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
      out.line(out.dim(`method: ${used}, page size ${files[0].pageSize} B`));
    }
    return errors.length ? EXIT.failure : EXIT.ok;
  },
};
