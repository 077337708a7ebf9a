// One transfer of `dontcache cp` or `dontcache write`: a source stream into a
// destination file through ExtentWriter, with progress, interrupts, and a record of
// what happened (the --json summary).
import { once } from 'node:events';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { constants } from '../constants';
import { fadvise } from '../io';
import { pageCacheState } from '../page-cache';
import { createDontcacheReadStream } from '../read-stream';
import { KEEP_DESCRIPTOR_OPEN } from '../stream-file';
import { BufferPool, readBuffersOf } from '../buffer-pool';
import type { CacheOption, CacheStrategy, FallbackEvent } from '../stream-options';
import { choice, EXIT, type OptionSpec, type ParsedArgs, UsageError } from './args';
import {
  abandonDestination, closeDestination, finishDestination, openDestination,
  type Destination, type Leftover, type OpenDestinationOptions, type Preserved,
} from './destination';
import { ExtentWriter, holeBlockSize } from './extent-writer';
import { errorLine, formatBytes, formatPercent, type Output } from './output';
import { signalExitCode, watchSignals } from './interrupt';
import { megabytesPerSecond, ProgressLine, wantsProgress } from './progress';

/** Read size: big reads keep the disk busy; the write stream batches up to its own 1 MiB. */
export const READ_SIZE = 1024 * 1024;

const CACHE_CHOICES = ['auto', 'dontcache', 'writeback', 'buffered'] as const;

/** Options cp and write share. */
export const TRANSFER_OPTIONS: Record<string, OptionSpec> = {
  cache: {
    type: 'string', value: 'strategy',
    description: 'auto (default: RWF_DONTCACHE where taken, else writeback windows), dontcache, writeback or buffered',
  },
  fsync: { type: 'boolean', description: 'make the data and metadata durable (fsync, and the new directory entry) before exiting' },
  'no-clobber': { type: 'boolean', short: 'n', description: 'never overwrite an existing file' },
  'remove-on-error': { type: 'boolean', description: 'on an error or Ctrl-C, remove DEST instead of leaving the prefix written' },
  progress: { type: 'boolean', description: 'show a progress line on stderr (default: when stderr is a terminal)' },
  'no-progress': { type: 'boolean', description: 'never show the progress line' },
};

export interface TransferSettings {
  cache: CacheOption;
  fsync: boolean;
  noClobber: boolean;
  removeOnError: boolean;
  /** --progress / --no-progress; undefined: decide by the terminal. */
  progress: boolean | undefined;
  json: boolean;
}

export function transferSettings(args: ParsedArgs): TransferSettings {
  const v = args.values;
  if (v.progress && v['no-progress']) throw new UsageError('--progress and --no-progress exclude each other');
  return {
    cache: choice(args, 'cache', CACHE_CHOICES, 'auto'),
    fsync: v.fsync === true,
    noClobber: v['no-clobber'] === true,
    removeOnError: v['remove-on-error'] === true,
    progress: v.progress ? true : v['no-progress'] ? false : undefined,
    json: v.json === true,
  };
}

/** How much of a file is cached: bytes and the fraction of its pages. */
export interface Residency {
  cachedBytes: number;
  fraction: number;
}

export interface FallbackRecord {
  stream: 'read' | 'write';
  from: CacheStrategy;
  to: CacheStrategy;
  code: string | undefined;
  position: number;
}

/** What one transfer did: an entry of the --json summary. */
export interface TransferRecord {
  source: string;
  dest: string;
  status: 'copied' | 'skipped' | 'failed' | 'interrupted';
  /** Bytes of the source that DEST holds (all of them when copied). */
  bytes: number;
  /** Of those, written as data, and left as holes (--sparse). */
  dataBytes: number;
  holeBytes: number;
  seconds: number;
  mbps: number;
  strategy: { read: CacheStrategy | null; write: CacheStrategy | null };
  fallbacks: FallbackRecord[];
  residency: { source: { before: Residency | null; after: Residency | null }; dest: { after: Residency | null } };
  /** After a failure or an interrupt: what DEST is now. */
  leftover?: Leftover;
  error?: { code?: string; message: string };
}

/**
 * The dontcache read stream over an open descriptor the caller closes (no `start`: a
 * FIFO or a device is read at its position, where pread would be ESPIPE), and a getter
 * of its strategy for the record.
 */
export function fileReader(fd: number, cache: CacheOption): Pick<TransferSource, 'stream' | 'strategy'> {
  // The caller closes fd (after measuring residency): destroy() must not.
  const stream = createDontcacheReadStream(undefined, { fd, autoClose: false, fs: KEEP_DESCRIPTOR_OPEN, highWaterMark: READ_SIZE, cache });
  readBuffersOf.set(stream, new BufferPool(READ_SIZE));
  return { stream, strategy: () => (stream.stats.strategy === 'pending' ? null : stream.stats.strategy) };
}

/** Where the bytes come from. The transfer destroys `stream` when done; `close` follows. */
export interface TransferSource {
  /** A path, or '-' for standard input. */
  label: string;
  stream: Readable;
  /** Bytes expected (for the ETA), null when unknown. */
  size: number | null;
  /** A descriptor of a regular file, to measure its residency; null otherwise. */
  fd: number | null;
  /** The read stream's strategy, when it is one of ours. */
  strategy(): CacheStrategy | null;
  /** Rejects when the source changed while it was read (regular files). */
  verify?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A check that the regular file open as `fd` still has the size and modification time
 * it had now: a file written while it is copied gives a copy that may mix old and new
 * bytes, which must not pass for a good copy.
 */
export async function unchangedSince(fd: number, name: string): Promise<() => Promise<void>> {
  const fstat = (): Promise<fs.BigIntStats> => new Promise((resolve, reject) =>
    fs.fstat(fd, { bigint: true }, (error, stats) => (error ? reject(error) : resolve(stats))));
  const before = await fstat();
  return async () => {
    const after = await fstat();
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs) {
      throw Object.assign(new Error(`${name} changed while it was copied (size ${before.size} -> ${after.size})`), { code: 'ERR_SOURCE_CHANGED' });
    }
  };
}

export interface TransferJob {
  source: TransferSource;
  dest: string;
  open: OpenDestinationOptions;
  /** 'auto': holes where the source has fewer blocks than bytes; 'always': every zero block. */
  sparse: 'never' | 'auto' | 'always';
  /** The source has holes (st_blocks * 512 < st_size). */
  sourceSparse: boolean;
  preserve?: Preserved;
  /** EEXIST with --no-clobber is a skip (cp), not an error (write). */
  skipExisting: boolean;
}

async function residency(fd: number | null): Promise<Residency | null> {
  if (fd === null) return null;
  try {
    const state = await pageCacheState(fd);
    // A file this user may only read: the kernel does not tell, as good as an error.
    if (state.status === 'unknown') return null;
    return { cachedBytes: Number(state.bytes.cached), fraction: state.residentFraction };
  } catch {
    return null;
  }
}

function errorInfo(error: unknown): { code?: string; message: string } {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === undefined ? { message: errorLine(error) } : { code, message: errorLine(error) };
}

/**
 * Destroys the source and waits for its 'close' (a read in flight still uses the fd);
 * after a signal at most `patience` ms: a read from a FIFO or a terminal may never
 * return, and the process is about to end anyway. Resolves with whether it closed.
 */
async function destroyAndWait(stream: Readable, patience: number): Promise<boolean> {
  if (stream.closed) return true;
  const closed = once(stream, 'close').then(() => true, () => true);
  stream.destroy();
  if (patience === Infinity) return closed;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), patience);
  });
  const result = await Promise.race([closed, timeout]);
  clearTimeout(timer);
  return result;
}

function emptyRecord(source: string, dest: string): TransferRecord {
  return {
    source, dest, status: 'failed', bytes: 0, dataBytes: 0, holeBytes: 0, seconds: 0, mbps: 0,
    strategy: { read: null, write: null }, fallbacks: [],
    residency: { source: { before: null, after: null }, dest: { after: null } },
  };
}

/** The record of a transfer that failed before it began (the source would not open). */
export function failedRecord(source: string, dest: string, error: unknown): TransferRecord {
  return { ...emptyRecord(source, dest), error: errorInfo(error) };
}

/** Totals of the --json summary. */
export function totalOf(records: TransferRecord[]) {
  const copied = records.filter((r) => r.status === 'copied');
  const bytes = records.reduce((sum, r) => sum + r.bytes, 0);
  const seconds = records.reduce((sum, r) => sum + r.seconds, 0);
  return { files: records.length, copied: copied.length, bytes, seconds, mbps: megabytesPerSecond(bytes, seconds) };
}

/**
 * A read stream stopped mid-file leaves the kernel's readahead beyond its position in
 * the cache (up to read_ahead_kb, 8 MiB here). When nothing of the source was cached
 * before, every cached page is the transfer's: drop them.
 */
async function dropReadAhead(fd: number | null, before: Residency | null): Promise<void> {
  if (fd === null || before === null || before.cachedBytes > 0) return;
  await fadvise(fd, 0, 0, constants.POSIX_FADV_DONTNEED).catch(() => undefined);
}

/**
 * The chunks of `source`, ending with the abort reason as soon as `signal` aborts: a
 * destroyed stream ends its iteration only at 'close', after its read in flight, and a
 * read from a FIFO or a terminal may wait forever.
 */
async function* chunksUntilAborted(source: Readable, signal: AbortSignal): AsyncGenerator<Buffer> {
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  const chunks = source[Symbol.asyncIterator]();
  for (;;) {
    const next = await Promise.race([chunks.next(), aborted]);
    if (next.done) return;
    yield next.value as Buffer;
  }
}

/** Runs one transfer. Never throws: failures are in the record. */
export async function runTransfer(
  job: TransferJob, settings: TransferSettings, progress: ProgressLine, signal: AbortSignal,
): Promise<TransferRecord> {
  const started = process.hrtime.bigint();
  const { source } = job;
  const record = emptyRecord(source.label, job.dest);
  record.residency.source.before = await residency(source.fd);
  const fallback = (stream: 'read' | 'write') => (e: FallbackEvent) => {
    record.fallbacks.push({ stream, from: e.from, to: e.to, code: (e.reason as NodeJS.ErrnoException).code, position: e.position });
  };
  source.stream.on('fallback', fallback('read'));
  let dest: Destination | null = null;
  let writer: ExtentWriter | null = null;
  const stopSource = () => source.stream.destroy(signal.reason as Error);
  signal.addEventListener('abort', stopSource, { once: true });
  try {
    if (signal.aborted) throw signal.reason;
    dest = await openDestination(job.dest, job.open);
    const holes = dest.regular && !dest.append &&
      (job.sparse === 'always' || (job.sparse === 'auto' && job.sourceSparse));
    writer = new ExtentWriter(dest.fd, {
      cache: settings.cache,
      holeBlock: holes ? holeBlockSize(dest.blksize) : 0,
      append: dest.append,
      signal,
      onFallback: fallback('write'),
    });
    if (holes && source.size !== null) await writer.presize(source.size);
    const w = writer;
    progress.start(source.label === '-' ? job.dest : source.label, source.size, () => w.position);
    // A read stream of ours reading into a pool: each chunk goes back once written.
    const buffers = readBuffersOf.get(source.stream);
    for await (const chunk of chunksUntilAborted(source.stream, signal)) {
      await writer.write(chunk, buffers && (() => buffers.release(chunk)));
    }
    await writer.end();
    await source.verify?.();
    await finishDestination(dest, { preserve: dest.regular ? job.preserve : undefined, fsync: settings.fsync });
    record.status = 'copied';
    record.bytes = writer.position;
  } catch (error) {
    const skipped = dest === null && job.skipExisting && settings.noClobber && (error as NodeJS.ErrnoException).code === 'EEXIST';
    record.status = skipped ? 'skipped' : signal.aborted ? 'interrupted' : 'failed';
    if (!skipped) record.error = errorInfo(signal.aborted ? signal.reason : error);
    if (writer) await writer.abort();
    if (dest) {
      const landed = writer?.landedEnd ?? 0;
      const appended = dest.append;
      record.bytes = landed;
      record.leftover = await abandonDestination(dest, landed, settings.removeOnError).catch((e: unknown): Leftover => {
        record.error = errorInfo(e);
        return { kind: 'prefix', bytes: landed, appended };
      });
      if (record.leftover.kind !== 'prefix') record.bytes = 0;
    }
  } finally {
    progress.stop();
    signal.removeEventListener('abort', stopSource);
  }
  const sourceClosed = await destroyAndWait(source.stream, signal.aborted ? 1000 : Infinity);
  record.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  record.mbps = megabytesPerSecond(record.bytes, record.seconds);
  record.strategy = { read: source.strategy(), write: writer?.strategy ?? null };
  if (writer) {
    record.dataBytes = record.status === 'copied' ? writer.dataBytes : Math.min(writer.dataBytes, record.bytes);
    record.holeBytes = record.bytes - record.dataBytes;
  }
  if (record.status !== 'copied' && record.status !== 'skipped') await dropReadAhead(source.fd, record.residency.source.before);
  record.residency.source.after = await residency(source.fd);
  if (sourceClosed) await source.close();
  if (dest) {
    if (record.leftover?.kind !== 'removed' && dest.regular) record.residency.dest.after = await residency(dest.fd);
    await closeDestination(dest);
  }
  return record;
}

const percent = (r: Residency | null) => (r ? formatPercent(r.fraction) : '-');

/** The one line a transfer leaves on stderr: its summary, or what went wrong and what DEST is now. */
export function describeRecord(command: string, r: TransferRecord): string {
  const from = r.source === '-' ? 'standard input' : `'${r.source}'`;
  if (r.status === 'copied') {
    const holes = r.holeBytes > 0 ? ` (${formatBytes(r.holeBytes)} as holes)` : '';
    return `${from} -> '${r.dest}': ${formatBytes(r.bytes)}${holes} in ${r.seconds.toFixed(1)} s, ${r.mbps.toFixed(0)} MB/s, ` +
      `${r.strategy.write ?? 'no writes'}; cached after: source ${percent(r.residency.source.after)}, dest ${percent(r.residency.dest.after)}`;
  }
  if (r.status === 'skipped') return `dontcache ${command}: '${r.dest}' exists, skipped (--no-clobber)`;
  const where = r.source === '-' ? '' : `${from} -> '${r.dest}': `;
  return `dontcache ${command}: ${where}${r.error?.message ?? r.status}${leftoverText(r.leftover, from, r.dest)}`;
}

function leftoverText(left: Leftover | undefined, from: string, dest: string): string {
  if (left?.kind === 'removed') return `; removed '${dest}'`;
  if (left?.kind === 'restored') return `; '${dest}' cut back to its ${left.size} bytes from before`;
  if (left?.kind !== 'prefix') return '';
  return left.appended
    ? `; '${dest}' got the first ${left.bytes} bytes of ${from} appended (incomplete)`
    : `; '${dest}' holds the first ${left.bytes} bytes of ${from} (incomplete)`;
}

/** A transfer to run, or the record of one that could not start. */
export type PreparedTransfer = TransferJob | TransferRecord;

/**
 * The body of cp and write: runs the transfers in turn (stopping at a signal), prints
 * one line per failure (and, with progress on, a summary per file) on stderr or the
 * --json summary on stdout, and resolves with the exit code: 0 when every file is
 * copied or skipped, 1 otherwise, 128 + signal number after a signal.
 */
export async function runTransfers(
  command: string, out: Output, settings: TransferSettings, prepare: Array<() => Promise<PreparedTransfer>>,
): Promise<number> {
  const watch = watchSignals();
  const progress = new ProgressLine(process.stderr, wantsProgress(settings.progress, process.stderr));
  const records: TransferRecord[] = [];
  try {
    for (const next of prepare) {
      if (watch.signal.aborted) break;
      const prepared = await next();
      const record = 'status' in prepared ? prepared : await runTransfer(prepared, settings, progress, watch.signal);
      records.push(record);
      const failed = record.status === 'failed' || record.status === 'interrupted';
      if (!settings.json && (failed || progress.enabled)) out.error(describeRecord(command, record));
    }
  } finally {
    watch.dispose();
  }
  if (settings.json) out.json({ files: records, total: totalOf(records) });
  if (watch.received) return signalExitCode(watch.received);
  return records.every((r) => r.status === 'copied' || r.status === 'skipped') ? EXIT.ok : EXIT.failure;
}
