/** What the lab's parent asks a worker process to do, and what the worker answers. */
import type { LatencySummary } from '../latency';
import type { ModeName } from './report-types';

/** How a writer job writes: the low-level API, the package's stream, or Node's fs stream. */
export type WriterApi = 'pwritev2' | 'stream' | 'node-fs';

/** One writer: writes `files` at the same time (one writer loop per file). */
export interface WriterJob {
  kind: 'writer';
  mode: ModeName;
  api: WriterApi;
  files: string[];
  /** Bytes written into each file. */
  bytesPerFile: number;
  blockSize: number;
  /** seq: from offset 0 on; rand: distinct random blocks of a preallocated file of `fileSize` bytes. */
  pattern: 'seq' | 'rand';
  fileSize: number;
  /** Keep writing while the stream accepts (stream scenario) instead of one write at a time. */
  pipelined: boolean;
  /** Leave the files in place at the end (the preallocated rand-write file, reused by every trial). */
  keepFiles: boolean;
  windowBytes: number;
  /** Path of a small file to read in a loop while writing (threadpool-neighbour scenario). */
  readNeighbour?: string;
}

/** A churner: creates, fills (buffered) and deletes temporary files until told to stop. */
export interface ChurnJob {
  kind: 'churn';
  dir: string;
  fileBytes: number;
  blockSize: number;
}

export type Job = WriterJob | ChurnJob;

/** Percentile points of one latency distribution: the summary, and points for plots. */
export interface LatencyOutcome {
  summary: LatencySummary;
  /** [fraction, µs] pairs at PLOT_FRACTIONS. */
  curve: [number, number][];
}

/** The fractions at which latency curves are sampled for the HTML plots. */
export const PLOT_FRACTIONS = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1];

export interface WriterOutcome {
  kind: 'writer';
  bytes: number;
  elapsedNs: number;
  syscall: LatencyOutcome | null;
  callback: LatencyOutcome;
  eventLoopDelayP99Us: number;
  cpuUs: number;
  syncNs: number;
  residentPages: number;
  writtenPages: number;
  /** What the write stream used (auto mode). */
  strategy?: string;
  /** The in-process read loop, where the job has one. */
  readNeighbour?: ReadNeighbourOutcome;
}

/** What the in-process read loop (threadpool-neighbour) did while the writer wrote. */
export interface ReadNeighbourOutcome {
  reads: number;
  bytes: number;
  elapsedNs: number;
  /** Latency of one readFile call, µs. */
  latency: LatencyOutcome;
}

export interface ChurnOutcome {
  kind: 'churn';
  bytes: number;
  elapsedNs: number;
  files: number;
  syscall: LatencyOutcome;
}

export type JobOutcome = WriterOutcome | ChurnOutcome;

/** Messages parent -> worker. */
export type ToWorker = { type: 'job'; job: Job } | { type: 'go' } | { type: 'stop' };
/** Messages worker -> parent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; outcome: JobOutcome }
  | { type: 'error'; message: string; code?: string };
