// Writes a source's bytes, in order, into an open file through DontcacheWriteStreams
// (public API only). Dense: one stream for everything. Sparse: aligned all-zero blocks
// are skipped and left as holes; each run of data gets its own stream at its offset, and
// a trailing hole is made by extending the size. Like cp --sparse=always.
import { once } from 'node:events';
import fs from 'node:fs';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createDontcacheWriteStream, type DontcacheWriteStream } from '../write-stream';
import { KEEP_DESCRIPTOR_OPEN } from '../stream-file';
import type { CacheOption, CacheStrategy, FallbackEvent } from '../stream-options';

export interface ExtentWriterOptions {
  cache: CacheOption;
  /** Zero blocks of this size, aligned in the file, become holes; 0 writes every byte. */
  holeBlock: number;
  /** The file is open with O_APPEND: bytes go to its end (holeBlock must be 0). */
  append: boolean;
  /** Aborting rejects a pending write; then call abort(). */
  signal: AbortSignal;
  onFallback?(event: FallbackEvent): void;
}

// A file-system block (st_blksize is this on ext4 and XFS), not a page: holes are per block.
const FALLBACK_FS_BLOCK = 4096;

/** The block size to look for zeros in: the file system's I/O block, within sane bounds. */
export function holeBlockSize(blksize: number): number {
  const pow2 = blksize > 0 && (blksize & (blksize - 1)) === 0;
  return pow2 && blksize >= 512 && blksize <= 1024 * 1024 ? blksize : FALLBACK_FS_BLOCK;
}

const ftruncate = promisify(fs.ftruncate);

let zeros = Buffer.alloc(0);

/** Whether `buffer[start, end)` holds only zero bytes. */
function allZero(buffer: Buffer, start: number, end: number): boolean {
  if (zeros.length < end - start) zeros = Buffer.alloc(end - start);
  return buffer.compare(zeros, 0, end - start, start, end) === 0;
}

export class ExtentWriter {
  /** Source bytes taken so far: written, queued or skipped as holes. */
  position = 0;
  /** Bytes of holes skipped. */
  holeBytes = 0;
  private stream: DontcacheWriteStream | null = null;
  private streamStart = 0;
  private streamEnd = 0;
  // Data bytes and end of the data of the streams already finished.
  private finishedBytes = 0;
  private finishedEnd = 0;
  // The strategy the first stream settled on; later streams keep it.
  private decided: CacheStrategy | null = null;
  // The end of the last chunk that is not a whole block yet (sparse only).
  private tail: Buffer | null = null;

  constructor(private readonly fd: number, private readonly options: ExtentWriterOptions) {
    if (options.append && options.holeBlock > 0) throw new RangeError('an appending writer cannot make holes');
  }

  /** The write streams' strategy (null before the first one has opened the file). */
  get strategy(): CacheStrategy | null {
    const current = this.stream?.stats.strategy;
    return current === undefined || current === 'pending' ? this.decided : current;
  }

  /** Bytes that landed in the file. */
  get dataBytes(): number {
    return this.finishedBytes + (this.stream?.bytesWritten ?? 0);
  }

  /**
   * Length of the source prefix the file holds now: up to its last landed byte (the
   * holes before it read as the zeros they stand for). Writes land in order, so there is
   * nothing after it.
   */
  get landedEnd(): number {
    const current = this.stream?.bytesWritten ?? 0;
    return current > 0 ? this.streamStart + current : this.finishedEnd;
  }

  /**
   * Takes the next chunk of the source; resolves when the writer may take another.
   * `released` is called once no write of the chunk's memory is pending any more (also
   * when a write failed); not at all when the writer stops before writing it.
   */
  async write(chunk: Buffer, released?: () => void): Promise<void> {
    // One count per stream write of the chunk's bytes, plus one for this call.
    let pending = 1;
    const done = released && (() => --pending === 0 && released());
    const writeData = (offset: number, data: Buffer) => {
      if (done) pending++;
      return this.writeData(offset, data, done);
    };
    try {
      await this.take(chunk, writeData);
    } finally {
      done?.();
    }
  }

  private async take(chunk: Buffer, writeData: (offset: number, data: Buffer) => Promise<void>): Promise<void> {
    const block = this.options.holeBlock;
    if (block === 0) {
      await writeData(this.position, chunk);
      this.position += chunk.length;
      return;
    }
    // Only whole aligned blocks can be holes: a chunk that ends inside a block (a pipe
    // gives any sizes) leaves that part for the next chunk, in memory of its own (the
    // chunk's may be reused once its writes are done).
    const whole = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    const cut = Math.floor((this.position + whole.length) / block) * block - this.position;
    const rest = whole.subarray(cut);
    this.tail = rest.length === 0 ? null : whole === chunk ? Buffer.from(rest) : rest;
    let runStart = 0;
    let runIsHole = false;
    for (let at = 0; at < cut; at += block) {
      const hole = allZero(whole, at, at + block);
      if (at > runStart && hole !== runIsHole) {
        await this.run(whole, runStart, at, runIsHole, writeData);
        runStart = at;
      }
      runIsHole = hole;
    }
    if (cut > runStart) await this.run(whole, runStart, cut, runIsHole, writeData);
  }

  private async run(chunk: Buffer, start: number, end: number, hole: boolean, writeData = this.writeData.bind(this)): Promise<void> {
    if (hole) this.holeBytes += end - start;
    else await writeData(this.position, chunk.subarray(start, end));
    this.position += end - start;
  }

  /**
   * Sets the file's size before a sparse copy of a known size, so no write extends it:
   * XFS would otherwise preallocate past each extent's end, and those blocks would end
   * up inside the file (allocated zeros where the source has a hole).
   */
  async presize(size: number): Promise<void> {
    if (this.options.holeBlock > 0) await ftruncate(this.fd, size);
  }

  /** Finishes the last stream (its 'finish': written, settled) and sizes the file. */
  async end(): Promise<void> {
    const tail = this.tail;
    this.tail = null;
    if (tail) await this.run(tail, 0, tail.length, allZero(tail, 0, tail.length));
    await this.finishStream();
    if (this.options.holeBlock > 0) await ftruncate(this.fd, this.position);
  }

  /**
   * After a failure or an abort: destroys the stream once its write in flight is done,
   * and cuts a sparse file back to its last landed byte, so it holds the prefix only.
   */
  async abort(): Promise<void> {
    const stream = this.stream;
    if (stream && !stream.closed) {
      const closed = once(stream, 'close').catch(() => undefined);
      stream.destroy();
      await closed;
    }
    if (this.options.holeBlock > 0) await ftruncate(this.fd, this.landedEnd);
  }

  private async writeData(offset: number, data: Buffer, written?: () => void): Promise<void> {
    if (!this.stream || offset !== this.streamEnd) {
      await this.finishStream();
      this.openStream(offset);
    }
    const stream = this.stream as DontcacheWriteStream;
    this.streamEnd += data.length;
    if (stream.errored) throw stream.errored;
    if (!stream.write(data, written)) {
      if (stream.errored) throw stream.errored;
      await once(stream, 'drain', { signal: this.options.signal });
    }
  }

  private openStream(offset: number): void {
    // Later streams take the strategy the first one settled on (no second fs lookup,
    // no second refusal to fall back from).
    const cache = this.decided ?? this.options.cache;
    const stream = createDontcacheWriteStream(undefined, {
      fd: this.fd,
      autoClose: false,
      // destroy() (abort) must not close the descriptor: ftruncate and close follow.
      fs: KEEP_DESCRIPTOR_OPEN,
      cache,
      ...(this.options.append ? {} : { start: offset }),
    });
    // Errors are read from stream.errored and by finished(); this keeps them from
    // being thrown as unhandled between writes.
    stream.on('error', () => undefined);
    stream.on('fallback', (event: FallbackEvent) => this.options.onFallback?.(event));
    this.stream = stream;
    this.streamStart = this.streamEnd = offset;
  }

  private async finishStream(): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    stream.end();
    await finished(stream, { readable: false, signal: this.options.signal });
    const { strategy } = stream.stats;
    if (strategy !== 'pending') this.decided = strategy;
    this.finishedBytes += stream.bytesWritten;
    if (stream.bytesWritten > 0) this.finishedEnd = this.streamStart + stream.bytesWritten;
    this.stream = null;
  }
}
