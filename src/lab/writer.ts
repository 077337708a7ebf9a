/**
 * The writer side of a lab job (runs in a worker process): opens the files the way
 * the mode says, waits for the go, writes, and measures per-write syscall and
 * callback latency, event-loop delay, CPU time, the final fdatasync and residency.
 */
import fs from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LatencyHistogram, type LatencySummary } from '../latency';
import { constants } from '../constants';
import { alignmentOffset, cachestat, fdatasync, fadvise, mincoreResidency, pwritev2Sync, pwritev2Timed } from '../io';
import { binding } from '../native';
import { systemError } from '../errors';
import { WritebackWindow } from '../writeback-window';
import { settleRange } from '../page-ranges';
import { openLabStream } from './stream-adapter';
import { startReadNeighbour } from './read-neighbour';
import { PLOT_FRACTIONS, type LatencyOutcome, type WriterJob, type WriterOutcome } from './job-types';

const PAGE = constants.PAGE_SIZE;
// O_DIRECT needs buffers aligned to the device's logical block size; a page boundary is always one.
const DIRECT_ALIGN = PAGE;

/** Summary and plot points of a histogram. */
export function latencyOutcome(h: LatencyHistogram): LatencyOutcome {
  return { summary: h.summary(), curve: PLOT_FRACTIONS.map((f) => [f, h.percentile(f)]) };
}

/** A block of incompressible bytes, aligned for O_DIRECT when asked. */
export function makeBlock(size: number, aligned: boolean): Buffer {
  const raw = Buffer.allocUnsafeSlow(size + (aligned ? DIRECT_ALIGN : 0));
  const start = aligned ? alignmentOffset(raw, DIRECT_ALIGN) : 0;
  return randomFillSync(raw.subarray(start, start + size));
}

/**
 * One file's writer. `write` resolves with the syscall µs the write cost (undefined
 * when the API does not tell); pipelined writers instead call `cb` per write and
 * resolve once the next write may be issued.
 */
interface FileWriter {
  write(block: Buffer, position: number, done: () => void): Promise<number | undefined>;
  /** Drains, fdatasyncs; resolves with the fdatasync ns. */
  finish(): Promise<number>;
  /** Resident pages of the file now. */
  residentPages(): Promise<number>;
  close(): void;
  strategy?(): string | undefined;
  syscallSummary?(): LatencySummary | undefined;
}

function timedSync(fd: number): Promise<number> {
  const start = process.hrtime.bigint();
  return fdatasync(fd).then(() => Number(process.hrtime.bigint() - start));
}

async function residentPagesOf(fd: number, path: string): Promise<number> {
  try {
    return (await cachestat(fd)).cached;
  } catch {
    // No cachestat (before Linux 6.5): mmap + mincore needs a readable fd.
    const rfd = fs.openSync(path, 'r');
    try {
      return (await mincoreResidency(rfd)).resident;
    } finally {
      fs.closeSync(rfd);
    }
  }
}

/**
 * sync_file_range(SYNC_FILE_RANGE_WRITE) of one range, resolving with the ns spent inside the syscall
 * (measured on the worker thread, like pwritev2Timed): the inline-flush model's second half.
 */
function startWritebackTimed(fd: number, offset: number, nbytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    binding.syncFileRange(fd, offset, nbytes, constants.SYNC_FILE_RANGE_WRITE, (errno, _bytes, ns) => {
      if (errno === 0) resolve(ns);
      else reject(systemError(errno, 'sync_file_range'));
    });
  });
}

function rawWriter(job: WriterJob, path: string): FileWriter {
  const direct = job.mode === 'direct';
  const create = job.pattern === 'rand' ? 0 : fs.constants.O_CREAT | fs.constants.O_TRUNC;
  const fd = fs.openSync(path, fs.constants.O_RDWR | create | (direct ? fs.constants.O_DIRECT : 0), 0o644);
  const flags = job.mode === 'dontcache' ? constants.RWF_DONTCACHE : 0;
  const window = job.mode === 'writeback' ? new WritebackWindow(fd, job.windowBytes) : undefined;
  const model = job.mode === 'inline-model';
  let end = 0;
  return {
    async write(block, position, done) {
      let waitedUs = 0;
      if (window) {
        // A lagging window holds the writer back: that wait is the writer's cost.
        const start = process.hrtime.bigint();
        await new Promise<void>((resolve, reject) => window.ready((error) => (error ? reject(error) : resolve())));
        waitedUs = Number(process.hrtime.bigint() - start) / 1000;
      }
      const timing = await pwritev2Timed(fd, block, position, flags);
      // The inline-flush model: what an inline-flush kernel does inside a dontcache write (submit writeback of
      // exactly the range just written, WB_SYNC_NONE), here in a second syscall of the same timed step.
      const submitNs = model ? await startWritebackTimed(fd, position, block.length) : 0;
      window?.written(position, block.length);
      end = Math.max(end, position + block.length);
      done();
      return (timing.syscallNs + submitNs) / 1000 + waitedUs;
    },
    async finish() {
      if (window) await new Promise<void>((resolve) => window.stop(resolve));
      const ns = await timedSync(fd);
      // The window's last ranges were not dropped yet: everything is clean now.
      if (window) await settleRange(fd, 0, end);
      return ns;
    },
    residentPages: () => residentPagesOf(fd, path),
    close: () => fs.closeSync(fd),
  };
}

function streamWriter(job: WriterJob, path: string): FileWriter {
  const stream = openLabStream(path, job.api === 'node-fs' ? 'node-fs' : job.mode);
  let fd = -1;
  return {
    async write(block, _position, done) {
      if (job.pipelined) {
        if (!stream.write(block, done)) await stream.drained();
      } else {
        await new Promise<void>((resolve, reject) => stream.write(block, (error) => (error ? reject(error) : resolve())));
        done();
      }
      return undefined;
    },
    async finish() {
      await stream.end();
      fd = fs.openSync(path, 'r+');
      return timedSync(fd);
    },
    residentPages: () => residentPagesOf(fd, path),
    close: () => fd >= 0 && fs.closeSync(fd),
    strategy: () => stream.strategy(),
    syscallSummary: () => stream.syscallSummary(),
  };
}

/** Fills the rand-write file once (kept across trials), then drops it from the cache. */
async function preallocate(path: string, size: number): Promise<void> {
  const exists = fs.existsSync(path) && fs.statSync(path).size === size;
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  try {
    if (!exists) {
      const block = makeBlock(1 << 20, false);
      for (let pos = 0; pos < size; pos += block.length) pwritev2Sync(fd, block.subarray(0, Math.min(block.length, size - pos)), pos);
    }
    await fdatasync(fd);
    await fadvise(fd, 0, 0, constants.POSIX_FADV_DONTNEED);
  } finally {
    fs.closeSync(fd);
  }
}

/** Distinct random block offsets: a partial Fisher-Yates shuffle of the file's blocks. */
function randomOffsets(fileSize: number, blockSize: number, count: number): number[] {
  const blocks = Math.floor(fileSize / blockSize);
  const index = Array.from({ length: blocks }, (_, i) => i);
  const n = Math.min(count, blocks);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (blocks - i));
    [index[i], index[j]] = [index[j], index[i]];
  }
  return index.slice(0, n).map((b) => b * blockSize);
}

/** A prepared writer job: `run` starts writing (after the parent's go). */
export interface PreparedWriter {
  run(): Promise<WriterOutcome>;
  /** Closes and (unless kept) removes the files: also after a failure. */
  cleanup(): void;
}

/** Opens the files and buffers of `job` and returns the function that runs it. */
export async function prepareWriter(job: WriterJob): Promise<PreparedWriter> {
  if (job.pattern === 'rand') for (const file of job.files) await preallocate(file, job.fileSize);
  const writers = job.files.map((file) => (job.api === 'pwritev2' ? rawWriter(job, file) : streamWriter(job, file)));
  const blocks = job.files.map(() => makeBlock(job.blockSize, job.mode === 'direct'));
  const count = Math.ceil(job.bytesPerFile / job.blockSize);
  const offsets = job.files.map(() =>
    job.pattern === 'rand' ? randomOffsets(job.fileSize, job.blockSize, count) : Array.from({ length: count }, (_, i) => i * job.blockSize),
  );
  const syscall = new LatencyHistogram();
  const callback = new LatencyHistogram();

  async function writeFile(i: number): Promise<void> {
    const writer = writers[i];
    for (const position of offsets[i]) {
      const start = process.hrtime.bigint();
      const us = await writer.write(blocks[i], position, () => callback.record(Number(process.hrtime.bigint() - start) / 1000));
      if (us !== undefined) syscall.record(us);
    }
  }

  /** Syscall latency: measured per write, else what the (first) stream measured, else unknown. */
  function syscallOutcome(): LatencyOutcome | null {
    if (syscall.count > 0) return latencyOutcome(syscall);
    const summary = writers[0].syscallSummary?.();
    if (!summary) return null;
    return { summary, curve: [[0.5, summary.p50], [0.9, summary.p90], [0.99, summary.p99], [0.999, summary.p999], [1, summary.max]] };
  }

  return {
    async run() {
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const cpu = process.cpuUsage();
      const neighbour = job.readNeighbour ? startReadNeighbour(job.readNeighbour) : undefined;
      const start = process.hrtime.bigint();
      await Promise.all(writers.map((_, i) => writeFile(i)));
      const elapsedNs = Number(process.hrtime.bigint() - start);
      const cpuUsed = process.cpuUsage(cpu);
      loop.disable();
      const reads = await neighbour?.stop();
      let syncNs = 0;
      let residentPages = 0;
      for (const writer of writers) {
        syncNs += await writer.finish();
        residentPages += await writer.residentPages();
      }
      const written = offsets.reduce((n, list) => n + list.length, 0) * job.blockSize;
      return {
        kind: 'writer',
        bytes: written,
        elapsedNs,
        syscall: syscallOutcome(),
        callback: latencyOutcome(callback),
        eventLoopDelayP99Us: loop.percentile(99) / 1000,
        cpuUs: cpuUsed.user + cpuUsed.system,
        syncNs,
        residentPages,
        writtenPages: Math.ceil(written / PAGE),
        strategy: writers[0].strategy?.(),
        readNeighbour: reads && { ...reads, latency: latencyOutcome(reads.latency) },
      };
    },
    cleanup() {
      for (const writer of writers) {
        try {
          writer.close();
        } catch {
          /* already closed */
        }
      }
      if (!job.keepFiles) for (const file of job.files) fs.rmSync(file, { force: true });
    },
  };
}
