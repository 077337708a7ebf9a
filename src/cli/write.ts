// `dontcache write DEST`: standard input into DEST (like `dd of=` or `tee`), without
// leaving DEST in the page cache: `pg_dump db | dontcache write dump.sql`.
import fs from 'node:fs';
import { isatty } from 'node:tty';
import { promisify } from 'node:util';
import { UsageError, type Command } from './args';
import { failedRecord, fileReader, runTransfers, unchangedSince, TRANSFER_OPTIONS, transferSettings, type PreparedTransfer, type TransferSettings } from './transfer';

const STDIN = 0;

/** The file position of a descriptor (Node has no lseek): /proc/self/fdinfo. */
function filePosition(fd: number): number {
  try {
    return Number(/^pos:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Standard input as the source. A regular file (`< file`) is read with the dontcache
 * read stream from its current position, so it is not left cached either; a pipe, a
 * socket or a device with the read stream too (plain reads); a terminal through
 * process.stdin.
 */
async function prepareWrite(dest: string, settings: TransferSettings, flags: { append: boolean; sparse: boolean }): Promise<PreparedTransfer> {
  let stats: fs.Stats;
  try {
    stats = await promisify(fs.fstat)(STDIN);
  } catch (error) {
    return failedRecord('-', dest, error);
  }
  const regular = stats.isFile();
  // A pipe or a socket too: process.stdin would give a new 64 KiB buffer per read, each
  // faulted in page by page (538,000 faults and 118 MB/s for 2 GiB from `cat` here); the
  // read stream reads into the transfer's reused buffers. A terminal stays with
  // process.stdin (line discipline, raw mode).
  const readStream = !isatty(STDIN);
  return {
    source: {
      label: '-',
      ...(readStream ? fileReader(STDIN, settings.cache) : { stream: process.stdin, strategy: () => null }),
      size: regular ? Math.max(0, stats.size - filePosition(STDIN)) : null,
      fd: regular ? STDIN : null,
      verify: regular ? await unchangedSince(STDIN, 'standard input') : undefined,
      close: async () => undefined,
    },
    dest,
    open: { noClobber: settings.noClobber, append: flags.append, mode: 0o666, source: { stats, name: 'standard input' } },
    sparse: flags.sparse ? 'always' : 'never',
    sourceSparse: false,
    skipExisting: false,
  };
}

export const writeCommand: Command = {
  operands: '<dest>',
  minOperands: 1,
  maxOperands: 1,
  description: [
    'Copies standard input into DEST through the dontcache write stream, replacing DEST',
    '(or appending with --append), e.g. `pg_dump db | dontcache write dump.sql`. When',
    'standard input is a regular file it is read with the dontcache read stream too.',
    'On an error or Ctrl-C, DEST holds exactly what was written so far and the message',
    'says how much (--remove-on-error deletes it, or with --append cuts it back to its',
    'old size); a partial file is never reported as a success. With -n an existing',
    'DEST is an error (EEXIST), as with the shell\'s noclobber.',
  ].join('\n'),
  options: {
    ...TRANSFER_OPTIONS,
    append: { type: 'boolean', short: 'a', description: 'append to DEST instead of replacing it' },
    sparse: { type: 'boolean', description: 'make holes of aligned zero blocks (like dd conv=sparse)' },
  },
  async run(args, out) {
    const settings = transferSettings(args);
    const flags = { append: args.values.append === true, sparse: args.values.sparse === true };
    if (flags.append && flags.sparse) throw new UsageError('--sparse cannot be used with --append');
    return runTransfers('write', out, settings, [() => prepareWrite(args.positionals[0], settings, flags)]);
  },
};
