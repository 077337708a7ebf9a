// `dontcache cp SRC DEST` and `dontcache cp SRC... DIR`: copies through the read and
// write streams, so neither file stays in the page cache.
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from './args';
import { preservedOf } from './destination';
import { failedRecord, fileReader, runTransfers, unchangedSince, TRANSFER_OPTIONS, transferSettings, type PreparedTransfer, type TransferSettings } from './transfer';

const open = promisify(fs.open);
const fstat = promisify(fs.fstat);
const close = promisify(fs.close);

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(file)).isDirectory();
  } catch {
    return false;
  }
}

function omittingDirectory(file: string): Error {
  return Object.assign(new Error(`omitting directory '${file}' (dontcache cp copies files, not directories)`), { code: 'EISDIR' });
}

function notADirectory(target: string): Error {
  return Object.assign(new Error(`target '${target}' is not a directory`), { code: 'ENOTDIR' });
}

/** Opens `src` and sets up its transfer to `dest` (or the record of why it cannot start). */
async function prepareCopy(src: string, dest: string, settings: TransferSettings, flags: { preserve: boolean; sparse: boolean }): Promise<PreparedTransfer> {
  let fd: number;
  try {
    fd = await open(src, fs.constants.O_RDONLY);
  } catch (error) {
    return failedRecord(src, dest, error);
  }
  try {
    const stats = await fstat(fd);
    if (stats.isDirectory()) throw omittingDirectory(src);
    const regular = stats.isFile();
    return {
      source: {
        label: src,
        ...fileReader(fd, settings.cache),
        size: regular ? stats.size : null,
        fd: regular ? fd : null,
        verify: regular ? await unchangedSince(fd, `'${src}'`) : undefined,
        close: () => close(fd),
      },
      dest,
      // Like cp: a new file gets the source's permission bits (minus the umask).
      open: { noClobber: settings.noClobber, append: false, mode: stats.mode & 0o777, source: { stats, name: src } },
      sparse: flags.sparse ? 'always' : 'auto',
      sourceSparse: regular && stats.blocks * 512 < stats.size,
      preserve: flags.preserve ? preservedOf(await promisify(fs.fstat)(fd, { bigint: true })) : undefined,
      skipExisting: true,
    };
  } catch (error) {
    await close(fd);
    return failedRecord(src, dest, error);
  }
}

export const cpCommand: Command = {
  operands: '<src> <dest> | <src...> <dir>',
  minOperands: 2,
  maxOperands: Infinity,
  description: [
    'Reads with the dontcache read stream and writes with the write stream: pages the copy',
    'brings in are dropped again (pages of the source cached before stay cached). DEST is',
    'replaced (truncated) if it exists, or created with the mode of SRC; into a directory,',
    'each SRC keeps its name. Holes: a sparse SRC (fewer blocks than bytes) gets holes',
    'where it has zero blocks; --sparse makes holes of every zero block (cp --sparse=always).',
    'On an error or Ctrl-C, DEST holds exactly the prefix written so far and the message',
    'says how long it is (--remove-on-error deletes it instead); a partial file is never',
    'reported as a success. With -n an existing DEST is skipped (status 0).',
  ].join('\n'),
  options: {
    ...TRANSFER_OPTIONS,
    preserve: { type: 'boolean', short: 'p', description: 'copy the mode and the access and modification times' },
    sparse: { type: 'boolean', description: 'make holes of all aligned zero blocks, even when SRC has none' },
  },
  async run(args, out) {
    const settings = transferSettings(args);
    const flags = { preserve: args.values.preserve === true, sparse: args.values.sparse === true };
    const sources = args.positionals.slice(0, -1);
    const target = args.positionals[args.positionals.length - 1];
    const intoDirectory = await isDirectory(target);
    if (sources.length > 1 && !intoDirectory) throw notADirectory(target);
    const prepare = sources.map((src) => () =>
      prepareCopy(src, intoDirectory ? path.join(target, path.basename(src)) : target, settings, flags));
    return runTransfers('cp', out, settings, prepare);
  },
};
