// `dontcache cp` and `dontcache write` as users run them (child processes of the built
// CLI) on real ext4, XFS, btrfs and tmpfs loop mounts: bytes (sha256), holes, modes,
// timestamps, exit codes, Ctrl-C, ENOSPC, injected I/O errors, and how much of the
// source and the destination is left in the page cache.
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { constants } from '../src/constants';
import { dropCache, pageCacheState } from '../src/page-cache';
import { formatDuration, progressText } from '../src/cli/progress';
import { CLI, cli, ensureCliBuilt, outcome, spawnCli, type CliRun } from './helpers/cli';
import { straceArgs, straceUnavailableReason } from './helpers/faults';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';
import { FS_KINDS, mountUnavailableReason, withMount, type FsKind } from './helpers/mounts';
import { fillLeaving } from './reliability/support';
import { prng } from './helpers/model';

const MiB = 1024 * 1024;
const KiB = 1024;

beforeAll(ensureCliBuilt, 120_000);
afterEach(cleanupTempFiles); // the shared mounts are small (tmpfs 512 MiB) and shared with other suites

// One random MiB, stamped with its index in every MiB of a file: distinct, cheap, checkable.
const BLOCK = randomFillSync(Buffer.alloc(MiB));

/** Writes `bytes` of pattern data at `offset` (no truncation) and returns the path. */
function writePattern(file: string, bytes: number, offset = 0): string {
  const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w');
  try {
    for (let at = 0; at < bytes; at += MiB) {
      const block = Buffer.from(BLOCK.subarray(0, Math.min(MiB, bytes - at)));
      if (block.length >= 8) block.writeBigUInt64LE(BigInt(offset + at), 0);
      fs.writeSync(fd, block, 0, block.length, offset + at);
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** A file of `bytes` pattern bytes, written back and dropped from the page cache (cold). */
async function coldFile(dir: string, bytes: number, name = 'src'): Promise<string> {
  const file = writePattern(tempPath(dir, name), bytes);
  await dropCache(file);
  return file;
}

/** sha256 of the first `length` bytes (default all). Reads the file: measure residency before. */
function sha256(file: string, length?: number): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(4 * MiB);
    let left = length ?? fs.fstatSync(fd).size;
    for (let at = 0; left > 0; ) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, left), at);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      at += n;
      left -= n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

async function cachedBytes(file: string, offset = 0, length = 0): Promise<number> {
  const state = await pageCacheState(file, { offset, length });
  if (state.status === 'unknown') throw new Error(state.reason);
  return Number(state.bytes.cached);
}

/** Bytes allocated on disk (st_blocks). */
const allocated = (file: string) => fs.statSync(file).blocks * 512;

interface Summary {
  files: Array<{
    source: string; dest: string; status: string; bytes: number; dataBytes: number; holeBytes: number;
    seconds: number; mbps: number; strategy: { read: string | null; write: string | null };
    fallbacks: Array<{ stream: string; from: string; to: string; code: string; position: number }>;
    residency: { source: { before: { fraction: number } | null; after: { fraction: number } | null }; dest: { after: { fraction: number } | null } };
    leftover?: { kind: string; bytes?: number };
    error?: { code?: string; message: string };
  }>;
  total: { files: number; copied: number; bytes: number; seconds: number; mbps: number };
}

function summary(r: CliRun): Summary {
  try {
    return JSON.parse(r.stdout) as Summary;
  } catch {
    throw new Error(`no JSON on stdout (code ${r.code}, signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/** The strategy `cache: 'auto'` picks on each file system here (6.18: ext4/XFS take the flag). */
const AUTO: Record<FsKind, string> = { ext4: 'dontcache', xfs: 'dontcache', btrfs: 'writeback', tmpfs: 'buffered' };

type Running = { exitCode: number | null; signalCode: string | null };

/** Polls `ready` every 5 ms until it holds (or the child ended). */
async function until(what: string, ready: () => boolean, child: Running): Promise<void> {
  for (let i = 0; i < 12_000; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never: ${what}`);
}

/** Waits until `file` has at least `bytes` (or the child ended). */
function untilSize(file: string, bytes: number, child: Running): Promise<void> {
  return until(`${file} has ${bytes} bytes`, () => fs.existsSync(file) && fs.statSync(file).size >= bytes, child);
}

const PREFIX_LINE = /holds the first (\d+) bytes of/;

describe.each(FS_KINDS)('dontcache cp on %s', (kind) => {
  const mount = testFs(kind);
  const dir = () => mount.dir!;
  const memory = kind === 'tmpfs'; // the page cache is the storage: nothing to drop

  it.skipIf(!mount.dir)('copies every byte; neither file is left cached; --json tells bytes, strategy, residency', async () => {
    const src = await coldFile(dir(), 48 * MiB + 12345);
    const dest = tempPath(dir(), 'dest');
    const r = await cli(['cp', '--json', src, dest]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [cachedSrc, cachedDest] = [await cachedBytes(src), await cachedBytes(dest)];
    const s = summary(r);
    expect(s.files).toHaveLength(1);
    expect(s.files[0]).toMatchObject({
      source: src, dest, status: 'copied', bytes: 48 * MiB + 12345, dataBytes: 48 * MiB + 12345, holeBytes: 0,
      strategy: { read: AUTO[kind], write: AUTO[kind] }, fallbacks: [],
    });
    expect(s.files[0].seconds).toBeGreaterThan(0);
    expect(s.files[0].mbps).toBeGreaterThan(0);
    expect(s.total).toMatchObject({ files: 1, copied: 1, bytes: 48 * MiB + 12345 });
    if (!memory) {
      expect(cachedSrc, 'source bytes cached after').toBeLessThanOrEqual(0.01 * 48 * MiB);
      expect(cachedDest, 'dest bytes cached after').toBeLessThanOrEqual(0.01 * 48 * MiB);
      expect(s.files[0].residency.source.before!.fraction).toBe(0);
      expect(s.files[0].residency.source.after!.fraction).toBeLessThanOrEqual(0.01);
      expect(s.files[0].residency.dest.after!.fraction).toBeLessThanOrEqual(0.01);
    }
    expect(sha256(dest)).toBe(sha256(src));
    expect(r.stdout.endsWith('\n')).toBe(true);
  });

  // On btrfs the read stream takes its 'writeback' strategy: it keeps what was cached when
  // it started and drops what its reads and their readahead brought in.
  it.skipIf(!mount.dir || memory)('pages of the source cached before stay cached; pages the copy brought in do not', async () => {
    const src = await coldFile(dir(), 40 * MiB);
    // Someone reads the first 8 MiB (plain reads): those pages are theirs.
    const fd = fs.openSync(src, 'r');
    fs.readSync(fd, Buffer.alloc(8 * MiB), 0, 8 * MiB, 0);
    fs.closeSync(fd);
    const before = await cachedBytes(src);
    expect(await cachedBytes(src, 0, 8 * MiB)).toBe(8 * MiB);
    const dest = tempPath(dir(), 'dest');
    const r = await cli(['cp', src, dest]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    // XFS here (6.18) loses a few cached pages of such a file now and then even when it is
    // only read plainly (8 pages in 1 of 8 rounds, no reclaim in /proc/vmstat): allow
    // that much, not more.
    expect(await cachedBytes(src, 0, 8 * MiB), 'the 8 MiB cached before').toBeGreaterThanOrEqual(8 * MiB - 32 * constants.PAGE_SIZE);
    expect(await cachedBytes(src), 'the whole source').toBeLessThanOrEqual(before);
    expect(await cachedBytes(dest)).toBeLessThanOrEqual(0.01 * 40 * MiB);
    expect(sha256(dest)).toBe(sha256(src));
  });

  it.skipIf(!mount.dir)('keeps the holes of a sparse source (and a trailing hole); --sparse makes holes of zero blocks', async () => {
    // hole [0, 8M), data [8M, 10M), hole, 4 KiB of data at 40M, hole up to 64M.
    const src = tempPath(dir(), 'sparse');
    fs.closeSync(fs.openSync(src, 'w'));
    fs.truncateSync(src, 64 * MiB);
    writePattern(src, 2 * MiB, 8 * MiB);
    writePattern(src, 4 * KiB, 40 * MiB);
    await dropCache(src);
    expect(allocated(src)).toBeLessThan(4 * MiB);
    const dest = tempPath(dir(), 'dest');
    const r = await cli(['cp', '--json', src, dest]);
    expect(r.code).toBe(0);
    const s = summary(r).files[0];
    expect(s).toMatchObject({ bytes: 64 * MiB, dataBytes: 2 * MiB + 4 * KiB, holeBytes: 64 * MiB - 2 * MiB - 4 * KiB });
    expect(fs.statSync(dest).size).toBe(64 * MiB);
    expect(allocated(dest), 'allocated bytes of the copy').toBeLessThanOrEqual(2 * MiB + 4 * KiB + MiB);
    if (!memory) expect(await cachedBytes(dest)).toBeLessThanOrEqual(0.01 * 64 * MiB);
    expect(sha256(dest)).toBe(sha256(src));

    // A dense file with 8 MiB of written zeros: copied densely, unless --sparse.
    const dense = tempPath(dir(), 'dense');
    writePattern(dense, 4 * MiB);
    const zfd = fs.openSync(dense, 'r+');
    fs.writeSync(zfd, Buffer.alloc(8 * MiB), 0, 8 * MiB, 4 * MiB);
    fs.closeSync(zfd);
    writePattern(dense, 4 * MiB, 12 * MiB);
    await dropCache(dense);
    expect(allocated(dense)).toBeGreaterThanOrEqual(16 * MiB);
    const plain = tempPath(dir(), 'plain');
    const holey = tempPath(dir(), 'holey');
    expect((await cli(['cp', dense, plain])).code).toBe(0);
    expect((await cli(['cp', '--sparse', dense, holey])).code).toBe(0);
    expect(allocated(plain)).toBeGreaterThanOrEqual(16 * MiB);
    expect(allocated(holey)).toBeLessThanOrEqual(8 * MiB + MiB);
    expect(sha256(plain)).toBe(sha256(dense));
    expect(sha256(holey)).toBe(sha256(dense));
  });

  it.skipIf(!mount.dir)('random layouts of data, written zeros and holes at odd offsets: byte-exact with and without --sparse', async () => {
    const seed = Number(process.env.DONTCACHE_SEED ?? Date.now() % 100000);
    const next = prng(seed);
    for (let round = 0; round < 2; round++) {
      const src = tempPath(dir(), 'layout');
      const fd = fs.openSync(src, 'w');
      let at = 0;
      while (at < 16 * MiB) {
        const length = 1 + Math.floor(next() * (next() < 0.5 ? 9000 : 3 * MiB));
        const kind = next();
        if (kind < 0.4) fs.writeSync(fd, randomFillSync(Buffer.alloc(length)), 0, length, at);
        else if (kind < 0.7) fs.writeSync(fd, Buffer.alloc(length), 0, length, at);
        at += length; // else: a hole (nothing written)
      }
      fs.ftruncateSync(fd, at);
      fs.closeSync(fd);
      const expected = sha256(src);
      for (const flags of [[], ['--sparse']]) {
        const dest = tempPath(dir(), 'dest');
        const r = await cli(['cp', ...flags, src, dest]);
        expect(r.code, `seed ${seed} round ${round} ${flags.join(' ')}: ${r.stderr}`).toBe(0);
        expect(sha256(dest), `seed ${seed} round ${round} ${flags.join(' ')} (DONTCACHE_SEED=${seed} replays)`).toBe(expected);
      }
      const piped = tempPath(dir(), 'piped');
      expect((await cli(['write', '--sparse', piped], { input: fs.readFileSync(src) })).code).toBe(0);
      expect(sha256(piped), `seed ${seed} round ${round} write --sparse`).toBe(expected);
    }
  });

  it.skipIf(!mount.dir)('--preserve copies mode and times; without it a new file gets the mode minus the umask', async () => {
    const src = await coldFile(dir(), MiB + 1);
    fs.chmodSync(src, 0o640);
    execFileSync('touch', ['-m', '-d', '@1500000000.987654321', src]);
    execFileSync('touch', ['-a', '-d', '@1600000000.123456789', src]);
    const before = fs.statSync(src, { bigint: true });
    const kept = tempPath(dir(), 'kept');
    expect((await cli(['cp', '-p', src, kept])).code).toBe(0);
    const k = fs.statSync(kept, { bigint: true });
    expect(Number(k.mode) & 0o7777).toBe(0o640);
    // fs.futimes takes seconds as a double: within a microsecond.
    expect(Math.abs(Number(k.mtimeNs - before.mtimeNs))).toBeLessThan(1000);
    expect(Math.abs(Number(k.atimeNs - before.atimeNs))).toBeLessThan(1000);

    const plain = tempPath(dir(), 'plain');
    const umask = process.umask();
    expect((await cli(['cp', src, plain])).code).toBe(0);
    const p = fs.statSync(plain, { bigint: true });
    expect(Number(p.mode) & 0o7777).toBe(0o640 & ~umask);
    expect(p.mtimeNs).toBeGreaterThan(before.mtimeNs + 10n ** 9n);
    expect(sha256(kept)).toBe(sha256(src));
  });
});

const ext4 = testFs('ext4');
const work = () => ext4.dir!;

describe.skipIf(!ext4.dir)('dontcache cp: operands, overwrite rules, exit codes', () => {
  it('into a directory, each source keeps its name; several sources need a directory', async () => {
    const a = await coldFile(work(), 3 * MiB, 'a');
    const b = await coldFile(work(), 2 * MiB + 7, 'b');
    const into = tempPath(work(), 'dir');
    fs.mkdirSync(into);
    const r = await cli(['cp', '--json', a, b, into]);
    expect(r.code).toBe(0);
    expect(summary(r).files.map((f) => f.dest)).toEqual([path.join(into, path.basename(a)), path.join(into, path.basename(b))]);
    expect(sha256(path.join(into, path.basename(a)))).toBe(sha256(a));
    expect(sha256(path.join(into, path.basename(b)))).toBe(sha256(b));

    const notDir = tempPath(work(), 'file');
    fs.writeFileSync(notDir, 'keep');
    const bad = await cli(['cp', a, b, notDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`dontcache cp: target '${notDir}' is not a directory\n`);
    expect(fs.readFileSync(notDir, 'utf8')).toBe('keep');
  });

  it('replaces an existing file (truncating it first), keeping its mode', async () => {
    const src = await coldFile(work(), 2 * MiB);
    const dest = tempPath(work(), 'dest');
    fs.writeFileSync(dest, Buffer.alloc(5 * MiB, 7));
    fs.chmodSync(dest, 0o600);
    expect((await cli(['cp', src, dest])).code).toBe(0);
    expect(fs.statSync(dest).size).toBe(2 * MiB);
    expect(fs.statSync(dest).mode & 0o777).toBe(0o600);
    expect(sha256(dest)).toBe(sha256(src));
  });

  it('-n skips an existing destination (exit 0, status skipped) and copies the others', async () => {
    const src = await coldFile(work(), MiB);
    const into = tempPath(work(), 'dir');
    fs.mkdirSync(into);
    const existing = path.join(into, path.basename(src));
    fs.writeFileSync(existing, 'old');
    const other = await coldFile(work(), MiB, 'other');
    const r = await cli(['cp', '-n', '--json', src, other, into]);
    expect(r.code).toBe(0);
    expect(summary(r).files.map((f) => f.status)).toEqual(['skipped', 'copied']);
    expect(fs.readFileSync(existing, 'utf8')).toBe('old');
    expect(sha256(path.join(into, path.basename(other)))).toBe(sha256(other));
  });

  it('never copies a file onto itself (same path, or a hard link): exit 1, the file intact', async () => {
    const src = await coldFile(work(), MiB);
    const hash = sha256(src);
    const link = tempPath(work(), 'link');
    fs.linkSync(src, link);
    for (const dest of [src, link]) {
      const r = await cli(['cp', src, dest]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`dontcache cp: '${src}' -> '${dest}': '${src}' and '${dest}' are the same file\n`);
      expect(sha256(src)).toBe(hash);
    }
  });

  it('a source written to while it is copied: the copy fails (it may mix old and new bytes), never a success', async () => {
    const src = await coldFile(work(), 512 * MiB);
    const dest = tempPath(work(), 'dest');
    const child = spawnCli(['cp', '--json', src, dest]);
    const done = outcome(child);
    await untilSize(dest, 16 * MiB, child);
    fs.appendFileSync(src, 'late');
    const r = await done;
    expect(r.code).toBe(1);
    const s = summary(r).files[0];
    expect(s).toMatchObject({ status: 'failed', error: { code: 'ERR_SOURCE_CHANGED' }, leftover: { kind: 'prefix' } });
    expect(s.error!.message).toBe(`'${src}' changed while it was copied (size ${512 * MiB} -> ${512 * MiB + 4})`);
    fs.rmSync(src);
  });

  it('runtime errors: one line each, the other files still copied, exit 1', async () => {
    const good = await coldFile(work(), MiB);
    const missing = path.join(work(), 'no-such-file');
    const into = tempPath(work(), 'dir');
    fs.mkdirSync(into);
    const r = await cli(['cp', missing, work(), good, into]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`dontcache cp: '${missing}' -> '${path.join(into, 'no-such-file')}': ENOENT: no such file or directory, open '${missing}'`);
    expect(lines[1]).toContain(`omitting directory '${work()}'`);
    expect(sha256(path.join(into, path.basename(good)))).toBe(sha256(good));
    const json = summary(await cli(['cp', '--json', missing, good, into]));
    expect(json.files.map((f) => f.status)).toEqual(['failed', 'copied']);
    expect(json.files[0].error).toMatchObject({ code: 'ENOENT' });
  });

  it('bad usage: exit 2 and a hint, nothing written', async () => {
    const src = await coldFile(work(), 4096);
    const dest = tempPath(work(), 'dest');
    for (const args of [['cp', src], ['cp', '--cache', 'sometimes', src, dest], ['cp', '--progress', '--no-progress', src, dest],
      ['cp', '--frobnicate', src, dest], ['write'], ['write', '--append', '--sparse', dest], ['write', dest, 'extra']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^dontcache ${args[0]}: .*See 'dontcache ${args[0]} --help'\\.\\n$`));
      expect(fs.existsSync(dest)).toBe(false);
    }
    const help = await cli(['cp', '--help']);
    expect(help.code).toBe(0);
    for (const option of ['--fsync', '--preserve', '--no-clobber', '--sparse', '--cache', '--progress', '--no-progress', '--remove-on-error', '--json']) {
      expect(help.stdout).toContain(option);
    }
  });
});

describe('dontcache cp: Ctrl-C mid-copy (a real child, SIGINT)', () => {
  // The source is on ext4; the copy goes to each file system.
  for (const kind of FS_KINDS) {
    const target = testFs(kind);
    it.skipIf(!ext4.dir || !target.dir)(`${kind}: DEST is the prefix written so far, and the message says how long; exit by SIGINT`, async () => {
      const size = (kind === 'tmpfs' || kind === 'btrfs' ? 256 : 512) * MiB;
      const src = await coldFile(work(), size);
      const dest = tempPath(target.dir!, 'dest');
      const child = spawnCli(['cp', src, dest]);
      const done = outcome(child);
      await untilSize(dest, 16 * MiB, child);
      child.kill('SIGINT');
      const r = await done;
      expect(r.signal, r.stderr).toBe('SIGINT');
      const match = PREFIX_LINE.exec(r.stderr);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`dontcache cp: '${src}' -> '${dest}': interrupted by SIGINT; '${dest}' holds the first `);
      const held = Number(match![1]);
      expect(held).toBe(fs.statSync(dest).size);
      expect(held).toBeGreaterThanOrEqual(16 * MiB);
      expect(held).toBeLessThan(size);
      if (kind !== 'tmpfs') expect(await cachedBytes(dest), 'dest cached').toBeLessThanOrEqual(0.01 * size);
      expect(await cachedBytes(src), 'source cached (readahead beyond the stop dropped)').toBeLessThanOrEqual(0.01 * size);
      expect(sha256(dest)).toBe(sha256(src, held));
      fs.rmSync(src);
      fs.rmSync(dest);
    });
  }

  it.skipIf(!ext4.dir)('a sparse copy stopped mid-way is cut back to its last landed byte: still a prefix', async () => {
    // 1 MiB of data every 4 MiB of a 1 GiB file.
    const src = tempPath(work(), 'sparse');
    fs.closeSync(fs.openSync(src, 'w'));
    fs.truncateSync(src, 1024 * MiB);
    for (let at = 0; at < 1024 * MiB; at += 4 * MiB) writePattern(src, MiB, at);
    await dropCache(src);
    const dest = tempPath(work(), 'dest');
    const child = spawnCli(['cp', src, dest]);
    const done = outcome(child);
    await until('8 MiB of data copied', () => fs.existsSync(dest) && allocated(dest) >= 8 * MiB, child);
    child.kill('SIGINT');
    const r = await done;
    expect(r.signal, r.stderr).toBe('SIGINT');
    const held = Number(PREFIX_LINE.exec(r.stderr)![1]);
    expect(held).toBe(fs.statSync(dest).size);
    expect(held).toBeLessThan(1024 * MiB);
    expect(held % (4 * MiB)).toBe(MiB); // it ends with the last data block that landed
    expect(sha256(dest)).toBe(sha256(src, held));
    fs.rmSync(src);
  });

  it.skipIf(!ext4.dir)('from a FIFO whose writer stays silent: Ctrl-C still ends it, with what came through', async () => {
    const fifo = tempPath(work(), 'fifo');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR: holds the FIFO open without waiting for a reader (Linux).
    const writer = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    try {
      const data = randomFillSync(Buffer.alloc(64 * KiB));
      fs.writeSync(writer, data);
      const dest = tempPath(work(), 'dest');
      const child = spawnCli(['cp', fifo, dest]);
      const done = outcome(child);
      await untilSize(dest, data.length, child);
      child.kill('SIGINT');
      const r = await done;
      expect(r.signal, r.stderr).toBe('SIGINT');
      expect(r.stderr).toBe(`dontcache cp: '${fifo}' -> '${dest}': interrupted by SIGINT; '${dest}' holds the first ${data.length} bytes of '${fifo}' (incomplete)\n`);
      expect(fs.readFileSync(dest).equals(data)).toBe(true);
    } finally {
      fs.closeSync(writer);
    }
  });

  it.skipIf(!ext4.dir)('--remove-on-error: DEST is removed, and the message says so', async () => {
    const src = await coldFile(work(), 512 * MiB);
    const dest = tempPath(work(), 'dest');
    const child = spawnCli(['cp', '--remove-on-error', '--json', src, dest]);
    const done = outcome(child);
    await untilSize(dest, 16 * MiB, child);
    child.kill('SIGINT');
    const r = await done;
    expect(r.signal).toBe('SIGINT');
    expect(fs.existsSync(dest)).toBe(false);
    const s = summary(r).files[0];
    expect(s).toMatchObject({ status: 'interrupted', leftover: { kind: 'removed' }, error: { code: 'ERR_INTERRUPTED' } });
    fs.rmSync(src);
  });
});

describe('dontcache cp: ENOSPC on a full small file system', () => {
  const sizes: Record<FsKind, number> = { ext4: 64, xfs: 300, btrfs: 256, tmpfs: 64 };
  for (const kind of FS_KINDS) {
    const reason = mountUnavailableReason(kind) ?? (ext4.dir ? undefined : ext4.skip);
    it.skipIf(reason !== undefined)(`${kind}: exit 1, one line naming ENOSPC and the prefix left; --remove-on-error removes it`, async () => {
      const src = await coldFile(work(), 48 * MiB);
      await withMount(kind, sizes[kind], async (small) => {
        fillLeaving(small.dir, 12 * MiB);
        const dest = path.join(small.dir, 'dest');
        const r = await cli(['cp', src, dest]);
        expect(r.code).toBe(1);
        expect(r.signal).toBeNull();
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(new RegExp(`^dontcache cp: '${src}' -> '${dest}': ENOSPC: no space left on device, \\w+.*; '${dest}' holds the first \\d+ bytes of '${src}' \\(incomplete\\)\\n$`));
        const held = Number(PREFIX_LINE.exec(r.stderr)![1]);
        expect(held).toBe(fs.statSync(dest).size);
        expect(held).toBeLessThan(48 * MiB);
        expect(sha256(dest)).toBe(sha256(src, held));

        fs.rmSync(dest);
        const removed = await cli(['cp', '--remove-on-error', src, dest]);
        expect(removed.code).toBe(1);
        expect(removed.stderr).toMatch(new RegExp(`ENOSPC.*; removed '${dest}'\\n$`));
        expect(fs.existsSync(dest)).toBe(false);
      });
    });
  }
});

describe('dontcache cp --cache dontcache where the flag is refused (btrfs): falls back, says so', () => {
  const btrfs = testFs('btrfs');
  it.skipIf(!btrfs.dir)('both streams fall back to the writeback windows; the bytes and a clean cache are the same', async () => {
    const src = await coldFile(btrfs.dir!, 24 * MiB);
    const dest = tempPath(btrfs.dir!, 'dest');
    const r = await cli(['cp', '--json', '--cache', 'dontcache', src, dest]);
    expect(r.code).toBe(0);
    const s = summary(r).files[0];
    expect(s.strategy).toEqual({ read: 'writeback', write: 'writeback' });
    expect(s.fallbacks.map((f) => [f.stream, f.from, f.to, f.code, f.position])).toEqual(
      expect.arrayContaining([['read', 'dontcache', 'writeback', 'ENOTSUP', 0], ['write', 'dontcache', 'writeback', 'ENOTSUP', 0]]),
    );
    expect(await cachedBytes(src)).toBeLessThanOrEqual(0.01 * 24 * MiB);
    expect(await cachedBytes(dest)).toBeLessThanOrEqual(0.01 * 24 * MiB);
    expect(sha256(dest)).toBe(sha256(src));
  });
});

const noStrace = straceUnavailableReason();
describe.skipIf(noStrace !== undefined || !ext4.dir)(`dontcache cp under strace on ext4${noStrace ? ` (skipped: ${noStrace})` : ''}`, () => {
  it('EIO reading the source: exit 1, the error, and DEST is the prefix it names, never a success', async () => {
    const src = await coldFile(work(), 16 * MiB);
    const dest = tempPath(work(), 'dest');
    // strace counts per thread: the 5th preadv2 of one threadpool thread fails.
    const r = await cli(['cp', src, dest], { prefix: straceArgs([{ syscall: 'preadv2', error: 'EIO', when: '5' }]) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EIO: i\/o error, preadv2.*; '.*' holds the first \d+ bytes of/);
    const held = Number(PREFIX_LINE.exec(r.stderr)![1]);
    expect(held).toBe(fs.statSync(dest).size);
    expect(held % MiB).toBe(0); // whole 1 MiB reads made it, nothing of the failed one
    expect(held).toBeLessThan(16 * MiB);
    expect(sha256(dest)).toBe(sha256(src, held));
  });

  it('--fsync makes the file and, for a new file, its directory entry durable (fsync of both)', async () => {
    const src = await coldFile(work(), 2 * MiB);
    const count = async (args: string[]) => {
      const log = tempPath(work(), 'strace');
      const prefix = ['strace', '-f', '-qq', '-o', log, '-e', 'trace=fsync'];
      expect((await cli(args, { prefix })).code).toBe(0);
      // Calls from threadpool threads may be logged as '<unfinished ...>': count the starts.
      return (fs.readFileSync(log, 'utf8').match(/\bfsync\(\d+/g) ?? []).length;
    };
    expect(await count(['cp', src, tempPath(work(), 'plain')])).toBe(0);
    const dest = tempPath(work(), 'durable');
    expect(await count(['cp', '--fsync', src, dest])).toBe(2);
    expect(await count(['cp', '--fsync', src, dest])).toBe(1); // existing file: no new entry
    expect(sha256(dest)).toBe(sha256(src));
  });
});

describe.skipIf(!ext4.dir)('dontcache write', () => {
  it('standard input (a pipe) into DEST; DEST not left cached; --append adds to it', async () => {
    const data = randomFillSync(Buffer.alloc(9 * MiB + 333));
    const dest = tempPath(work(), 'dest');
    const r = await cli(['write', '--json', dest], { input: data });
    expect(r.code).toBe(0);
    const cached = await cachedBytes(dest);
    const s = summary(r).files[0];
    expect(s).toMatchObject({ source: '-', dest, status: 'copied', bytes: data.length, strategy: { read: 'buffered', write: 'dontcache' } });
    expect(s.residency.source.before).toBeNull();
    expect(cached).toBeLessThanOrEqual(0.01 * data.length);
    expect(fs.readFileSync(dest).equals(data)).toBe(true);

    const more = Buffer.from('and some more\n');
    expect((await cli(['write', '-a', dest], { input: more })).code).toBe(0);
    expect(fs.readFileSync(dest).equals(Buffer.concat([data, more]))).toBe(true);
  });

  it('standard input redirected from a file is read with the dontcache read stream, from its position', async () => {
    const src = await coldFile(work(), 20 * MiB);
    const dest = tempPath(work(), 'dest');
    const fd = fs.openSync(src, 'r');
    try {
      const r = await cli(['write', '--json', dest], { stdinFd: fd });
      expect(r.code).toBe(0);
      const s = summary(r).files[0];
      expect(s.strategy).toEqual({ read: 'dontcache', write: 'dontcache' });
      expect(s.residency.source.before!.fraction).toBe(0);
      expect(await cachedBytes(src)).toBeLessThanOrEqual(0.01 * 20 * MiB);
      expect(await cachedBytes(dest)).toBeLessThanOrEqual(0.01 * 20 * MiB);
    } finally {
      fs.closeSync(fd);
    }
    expect(sha256(dest)).toBe(sha256(src));
  });

  it('-n: an existing DEST is an error (EEXIST), untouched; the same file as standard input is refused', async () => {
    const dest = tempPath(work(), 'dest');
    fs.writeFileSync(dest, 'precious');
    const r = await cli(['write', '-n', dest], { input: 'new data' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`dontcache write: EEXIST: file already exists, open '${dest}'\n`);
    expect(fs.readFileSync(dest, 'utf8')).toBe('precious');
    for (const args of [['write', dest], ['write', '--append', dest]]) {
      const fd = fs.openSync(dest, 'r');
      try {
        const same = await cli(args, { stdinFd: fd });
        expect(same.code).toBe(1);
        expect(same.stderr).toContain(`'standard input' and '${dest}' are the same file`);
      } finally {
        fs.closeSync(fd);
      }
      expect(fs.readFileSync(dest, 'utf8')).toBe('precious');
    }
  });

  it('--sparse leaves zero blocks from a pipe as holes (like dd conv=sparse)', async () => {
    const data = Buffer.concat([randomFillSync(Buffer.alloc(MiB)), Buffer.alloc(16 * MiB), randomFillSync(Buffer.alloc(5000)), Buffer.alloc(3 * MiB)]);
    const dest = tempPath(work(), 'dest');
    const r = await cli(['write', '--sparse', '--json', dest], { input: data });
    expect(r.code).toBe(0);
    expect(summary(r).files[0].holeBytes).toBeGreaterThanOrEqual(19 * MiB - 8192);
    expect(allocated(dest)).toBeLessThanOrEqual(2 * MiB);
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
  });

  it('Ctrl-C: DEST holds exactly the bytes that came in, and says so; --append --remove-on-error cuts it back', async () => {
    const dest = tempPath(work(), 'dest');
    const first = randomFillSync(Buffer.alloc(3 * MiB));
    const child = spawnCli(['write', dest]);
    const done = outcome(child);
    child.stdin!.write(first);
    await untilSize(dest, first.length, child);
    child.kill('SIGINT');
    const r = await done;
    expect(r.signal).toBe('SIGINT');
    expect(r.stderr).toBe(`dontcache write: interrupted by SIGINT; '${dest}' holds the first ${first.length} bytes of standard input (incomplete)\n`);
    expect(fs.readFileSync(dest).equals(first)).toBe(true);

    const appender = spawnCli(['write', '--append', '--remove-on-error', dest]);
    const appended = outcome(appender);
    appender.stdin!.write(Buffer.alloc(2 * MiB, 1));
    await untilSize(dest, first.length + 2 * MiB, appender);
    appender.kill('SIGINT');
    const a = await appended;
    expect(a.signal).toBe('SIGINT');
    expect(a.stderr).toContain(`'${dest}' cut back to its ${first.length} bytes from before`);
    expect(fs.readFileSync(dest).equals(first)).toBe(true);
  });
});

// Reading into new memory per read makes the kernel fault in and zero every page of it:
// the copy ran at a fifth of its speed on this VM. cp hands its read buffers round.
describe.skipIf(!ext4.dir)('dontcache cp: memory', () => {
  const REPORT_FAULTS = path.join(__dirname, 'fixtures', 'report-faults.cjs');
  const env = { NODE_OPTIONS: `--require ${REPORT_FAULTS}` };
  const faultsOf = (r: CliRun): number => {
    expect(r.code, r.stderr).toBe(0);
    return Number(/minor-page-faults (\d+)/.exec(r.stderr)?.[1]);
  };
  async function faultsOfCopy(bytes: number): Promise<number> {
    const src = await coldFile(work(), bytes, `faults-${bytes}`);
    return faultsOf(await cli(['cp', src, tempPath(work(), 'dest')], { env }));
  }

  it('reuses its read buffers: copying 64 MiB faults in far fewer pages than it copies', async () => {
    const base = await faultsOfCopy(MiB);
    const big = await faultsOfCopy(64 * MiB);
    const pages = (64 * MiB) / constants.PAGE_SIZE;
    // Fresh buffers fault in every page once (+16384 here, with 4 KiB pages); reused, a few hundred.
    expect(big - base, `${big} faults copying 64 MiB, ${base} copying 1 MiB`).toBeLessThan(pages / 4);
  });

  it('write reads a pipe into reused buffers too (process.stdin would give a new buffer per read)', async () => {
    const data = randomFillSync(Buffer.alloc(64 * MiB));
    const base = faultsOf(await cli(['write', tempPath(work(), 'small')], { env, input: data.subarray(0, MiB) }));
    const dest = tempPath(work(), 'dest');
    const big = faultsOf(await cli(['write', dest], { env, input: data }));
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
    expect(big - base, `${big} faults writing 64 MiB from a pipe, ${base} writing 1 MiB`).toBeLessThan((64 * MiB) / constants.PAGE_SIZE / 4);
  });
});

describe('progress line', () => {
  it('text: bytes, percent, MB/s and an ETA when the size is known', () => {
    expect(progressText(512 * MiB, 2048 * MiB, 1)).toBe('512.0 MiB / 2.0 GiB  25%  537 MB/s  ETA 0:03');
    expect(progressText(3 * MiB, null, 2)).toBe('3.0 MiB  2 MB/s');
    expect(progressText(0, 100, 0)).toBe('0 B / 100 B  0%  0 MB/s');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(59.6)).toBe('1:00');
  });

  it.skipIf(!ext4.dir)('on a terminal: redrawn in place on stderr, then one summary line; off when piped unless --progress', async () => {
    const dest = tempPath(work(), 'dest');
    // The second MiB comes late enough for a redraw (every 250 ms on a terminal, every second otherwise).
    const slow = `(head -c 1048576 /dev/urandom; sleep 2.5; head -c 1048576 /dev/urandom)`;
    const tty = execFileSync('script', ['-qec', `${slow} | ${process.execPath} ${CLI} write ${dest}`, '/dev/null'], { encoding: 'utf8' });
    expect(tty).toMatch(/\r\x1b\[K1\.0 MiB {2}\d+ MB\/s {2}/); // eslint-disable-line no-control-regex
    expect(tty).toMatch(new RegExp(`standard input -> '${dest}': 2\\.0 MiB in [\\d.]+ s, \\d+ MB/s, dontcache; cached after: source -, dest 0\\.0%`));

    const quiet = await cli(['write', dest], { input: 'x' });
    expect(quiet).toMatchObject({ code: 0, stderr: '' });
    const forced = execFileSync('sh', ['-c', `${slow} | ${process.execPath} ${CLI} write --progress ${dest} 2>&1`], { encoding: 'utf8' });
    expect(forced).toMatch(/^1\.0 MiB {2}\d+ MB\/s {2}/m);
    expect(forced).not.toContain('\r');
  });
});
