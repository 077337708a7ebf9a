// fsx-style model-based testing: random, seeded sequences of operations run on a
// real file and on an in-memory model of it; after every operation the touched
// range (and every few operations the whole file) must match the model. A failing
// sequence is shrunk by delta debugging to a short one that still fails.
import fs from 'node:fs';
import * as api from '../../src/index';

/** Deterministic PRNG (mulberry32): the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type WriteApi = 'pwritev2' | 'pwritev2Sync' | 'pwritev2Callback';
export type ReadApi = 'preadv2' | 'preadv2Sync';
export type SyncApi = 'fdatasync' | 'fdatasyncSync' | 'fsync' | 'syncFileRange';

/** One operation. Position -1 uses (and advances) the file position. A write carries the seed of its data. */
export type Op =
  | { op: 'write'; api: WriteApi; position: number; sizes: number[]; flags: number; data: number }
  | { op: 'read'; api: ReadApi; position: number; length: number; flags: number }
  | { op: 'truncate'; size: number }
  | { op: 'sync'; api: SyncApi }
  /** fdatasync then POSIX_FADV_DONTNEED: later reads come from the device, not the cache. */
  | { op: 'drop' };

export const RWF = { HIPRI: 0x1, DSYNC: 0x2, SYNC: 0x4, DONTCACHE: 0x80 } as const;

export interface GenerateOptions {
  /** Largest file offset an operation reaches (default 2 MiB). */
  maxFileSize?: number;
  /** Write flags to draw from (default HIPRI, DSYNC, SYNC, DONTCACHE). */
  writeFlags?: number[];
  /** Read flags to draw from (default HIPRI, DONTCACHE). */
  readFlags?: number[];
}

/** The bytes of a write, derived from its own seed so that any subsequence replays the same data. */
export function writeData(op: Extract<Op, { op: 'write' }>): Buffer[] {
  const next = prng(op.data);
  return op.sizes.map((n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = (next() * 4294967296) >>> 0;
      for (let k = 0; k < 4 && i + k < n; k++) b[i + k] = (v >>> (8 * k)) & 0xff;
    }
    return b;
  });
}

/** `count` random operations from `seed`. */
export function generateOps(seed: number, count: number, options: GenerateOptions = {}): Op[] {
  const max = options.maxFileSize ?? 2 * 1024 * 1024;
  const writeFlags = options.writeFlags ?? [RWF.HIPRI, RWF.DSYNC, RWF.SYNC, RWF.DONTCACHE];
  const readFlags = options.readFlags ?? [RWF.HIPRI, RWF.DONTCACHE];
  const r = prng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  let size = 0; // a rough idea of the file size, to aim offsets near its end
  const offset = (): number => {
    const page = 4096;
    switch (int(6)) {
      case 0: return -1; // the file position
      case 1: return Math.min(max, size); // append
      case 2: return Math.max(0, Math.min(max, size + int(3) - 1)); // around the end
      case 3: return Math.max(0, Math.min(max, int(max / page) * page + pick([-1, 0, 0, 1]))); // at a page boundary
      default: return int(Math.max(1, Math.min(max, size + 65536)));
    }
  };
  const length = (): number => {
    switch (int(8)) {
      case 0: return 1 + int(16);
      case 1: return 4096 * (1 + int(4)) + pick([-1, 0, 1]);
      case 2: return 65536 + int(262144);
      default: return 1 + int(16384);
    }
  };
  const flagSet = (choices: number[], rareSync: boolean): number => {
    let flags = 0;
    for (const f of choices) {
      const slow = f === RWF.DSYNC || f === RWF.SYNC;
      if (r() < (slow && rareSync ? 0.05 : 0.35)) flags |= f;
    }
    return flags;
  };
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const roll = r();
    let op: Op;
    if (roll < 0.5) {
      const parts = 1 + int(int(4) === 0 ? 40 : 4);
      const total = length();
      const sizes = Array.from({ length: parts }, () => 0);
      for (let k = 0; k < total; k++) sizes[int(parts)]++;
      const position = offset();
      op = { op: 'write', api: pick(['pwritev2', 'pwritev2Sync', 'pwritev2Callback'] as const), position, sizes, flags: flagSet(writeFlags, true), data: (r() * 4294967296) >>> 0 };
      if (position >= 0) size = Math.max(size, Math.min(max, position + total));
    } else if (roll < 0.82) {
      op = { op: 'read', api: pick(['preadv2', 'preadv2Sync'] as const), position: offset(), length: length(), flags: flagSet(readFlags, false) };
    } else if (roll < 0.88) {
      size = pick([0, int(size + 1), size + int(8192), int(max)]);
      op = { op: 'truncate', size };
    } else if (roll < 0.93) {
      op = { op: 'sync', api: pick(['fdatasync', 'fdatasyncSync', 'fsync', 'syncFileRange'] as const) };
    } else {
      op = { op: 'drop' };
    }
    ops.push(op);
  }
  return ops;
}

/** The in-memory file: content, size and file position. */
export class FileModel {
  private bytes = new Uint8Array(0);
  size = 0;
  position = 0;

  private reserve(n: number): void {
    if (n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(n, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }

  write(position: number, data: Buffer[]): number {
    let at = position < 0 ? this.position : position;
    for (const d of data) {
      this.reserve(at + d.length);
      if (at > this.size) this.bytes.fill(0, this.size, at);
      this.bytes.set(d, at);
      at += d.length;
      this.size = Math.max(this.size, at);
    }
    if (position < 0) this.position = at;
    return data.reduce((n, d) => n + d.length, 0);
  }

  read(position: number, length: number): Uint8Array {
    const at = position < 0 ? this.position : position;
    const end = Math.min(this.size, at + length);
    const out = at >= end ? new Uint8Array(0) : this.bytes.slice(at, end);
    if (position < 0) this.position = at + out.length;
    return out;
  }

  truncate(size: number): void {
    this.reserve(size);
    if (size > this.size) this.bytes.fill(0, this.size, size);
    this.size = size;
  }

  content(start = 0, end = this.size): Uint8Array {
    return this.bytes.subarray(Math.min(start, this.size), Math.min(end, this.size));
  }
}

/** The functions under test: the package's own by default; a test may pass a broken one. */
export type Io = Pick<
  typeof api,
  'pwritev2' | 'pwritev2Sync' | 'pwritev2Callback' | 'preadv2' | 'preadv2Sync' | 'fdatasync' | 'fdatasyncSync' | 'fsync' | 'syncFileRange' | 'fadvise'
>;

export interface RunOptions {
  /** Full-file comparison every this many operations (default 64). */
  fullCheckEvery?: number;
  io?: Io;
}

export interface Failure {
  /** Index of the operation after which the file and the model differed (or that threw). */
  index: number;
  message: string;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Reads `[start, end)` of the real file with Node's own fs (not the code under test). */
function readReal(fd: number, start: number, end: number): Buffer {
  const out = Buffer.alloc(Math.max(0, end - start));
  let done = 0;
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, out.length - done, start + done);
    if (n === 0) break;
    done += n;
  }
  return out.subarray(0, done);
}

function compare(fd: number, model: FileModel, start: number, end: number): string | undefined {
  const size = fs.fstatSync(fd).size;
  if (size !== model.size) return `file size ${size}, model ${model.size}`;
  const real = readReal(fd, start, Math.min(end, size));
  const want = model.content(start, end);
  const at = firstDifference(real, want);
  if (at >= 0) return `content differs at byte ${start + at}: file ${real[at]}, model ${want[at]} (range ${start}..${end})`;
  return undefined;
}

const SYNC_FILE_RANGE_WRITE = 2;
const SYNC_FILE_RANGE_WAIT_AFTER = 4;
const POSIX_FADV_DONTNEED = 4;

/** Runs one operation on fd and on the model; returns the byte range it touched. */
async function step(io: Io, fd: number, model: FileModel, op: Op): Promise<[number, number] | undefined> {
  switch (op.op) {
    case 'write': {
      const data = writeData(op);
      const total = data.reduce((n, d) => n + d.length, 0);
      const start = op.position < 0 ? model.position : op.position;
      let bytes: number;
      if (op.api === 'pwritev2Sync') bytes = io.pwritev2Sync(fd, data, op.position, op.flags);
      else if (op.api === 'pwritev2') bytes = await io.pwritev2(fd, data, op.position, op.flags);
      else {
        bytes = await new Promise<number>((resolve, reject) =>
          io.pwritev2Callback(fd, data, op.position, op.flags, (err, n) => (err ? reject(err) : resolve(n))),
        );
      }
      model.write(op.position, data);
      if (bytes !== total) throw new Error(`${op.api} returned ${bytes}, wrote ${total}`);
      return [start, start + total];
    }
    case 'read': {
      const buffers = [Buffer.alloc(op.length >> 1), Buffer.alloc(op.length - (op.length >> 1))];
      const bytes = op.api === 'preadv2Sync' ? io.preadv2Sync(fd, buffers, op.position, op.flags) : await io.preadv2(fd, buffers, op.position, op.flags);
      const want = model.read(op.position, op.length);
      const got = Buffer.concat(buffers).subarray(0, bytes);
      if (bytes !== want.length) throw new Error(`${op.api} returned ${bytes} bytes, model has ${want.length}`);
      const at = firstDifference(got, want);
      if (at >= 0) throw new Error(`${op.api} read ${got[at]} at +${at}, model has ${want[at]}`);
      return undefined;
    }
    case 'truncate': {
      const before = model.size;
      fs.ftruncateSync(fd, op.size);
      model.truncate(op.size);
      return [Math.max(0, Math.min(before, op.size) - 4096), Math.max(before, op.size) + 4096];
    }
    case 'sync':
      if (op.api === 'fdatasyncSync') io.fdatasyncSync(fd);
      else if (op.api === 'syncFileRange') await io.syncFileRange(fd, 0, 0, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      else await io[op.api](fd);
      return undefined;
    case 'drop':
      await io.fdatasync(fd);
      await io.fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      return [0, model.size];
  }
}

/**
 * Runs `ops` on a new file at `file` (created, then removed) and on a model.
 * Returns the first failure, or undefined when file and model agreed throughout.
 */
export async function runOps(file: string, ops: Op[], options: RunOptions = {}): Promise<Failure | undefined> {
  const io = options.io ?? api;
  const every = options.fullCheckEvery ?? 64;
  const model = new FileModel();
  const fd = fs.openSync(file, 'w+');
  try {
    for (let i = 0; i < ops.length; i++) {
      let touched: [number, number] | undefined;
      try {
        touched = await step(io, fd, model, ops[i]);
      } catch (error) {
        return { index: i, message: `${ops[i].op} threw: ${(error as Error).message}` };
      }
      const problem =
        (touched && compare(fd, model, touched[0], touched[1])) ||
        ((i + 1) % every === 0 || i === ops.length - 1 ? compare(fd, model, 0, model.size) : undefined);
      if (problem) return { index: i, message: problem };
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

/**
 * Delta debugging (ddmin): the shortest subsequence of `items` found for which
 * `fails` still holds, trying at most `budget` candidates. `items` must fail.
 */
export async function shrink<T>(items: T[], fails: (candidate: T[]) => Promise<boolean>, budget = 400): Promise<T[]> {
  let current = items;
  let granularity = 2;
  let tries = 0;
  while (current.length >= 2 && tries < budget) {
    const chunk = Math.ceil(current.length / granularity);
    let reduced = false;
    for (let start = 0; start < current.length && tries < budget; start += chunk) {
      const complement = current.slice(0, start).concat(current.slice(start + chunk));
      tries++;
      if (complement.length > 0 && (await fails(complement))) {
        current = complement;
        granularity = Math.max(granularity - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (granularity >= current.length) break;
      granularity = Math.min(current.length, granularity * 2);
    }
  }
  return current;
}

/** The seed for a run: DONTCACHE_SEED to replay one, otherwise a fresh random one. */
export function seedFromEnv(): number {
  const fromEnv = process.env.DONTCACHE_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Math.random() * 4294967296) >>> 0;
}
