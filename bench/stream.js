#!/usr/bin/env node
'use strict';
// Benchmark: DontcacheWriteStream (each `cache` mode) against fs.createWriteStream with
// default options and against the ceiling, a C loop making the same
// pwritev2(RWF_DONTCACHE) calls (bench/ceiling.c, compiled at bench time), writing one
// big file in the current directory with several chunk sizes. Variants are interleaved
// (A B C A B C ...) after a warm-up, repeated, and reported as medians with their
// spread (smallest-largest over the trials) and the ratios to the C loop and to
// fs.createWriteStream taken within each trial. A second pass measures the neighbours
// (event-loop delay p99, p99 of a small readFile loop on the threadpool) while each
// stream writes the same bytes.
//
//   npm run compile:ts && npm run bench:stream -- [--size 2G] [--chunks 16K,64K,1M]
//     [--trials 5] [--modes auto,dontcache,writeback,buffered] [--dir .] [--hwm 1M]
//     [--neighbours on|off] [--loops on|off]
//
// With the ceiling come two Node loops making the same calls one at a time
// (bench/loops.js): pwritev2Sync on the main thread, and await pwritev2 through the
// threadpool. Between them is the price of the threadpool trip each stream write pays.
// The producer writes from a ring of buffers filled once, each reused once the stream
// called back for it (as a producer that fills its own buffers does): a fresh
// Buffer.allocUnsafe per chunk would make every write fault its pages in, inside the
// syscall, and measure the allocator instead of the stream.
//
// Environment: DONTCACHE_BENCH_SIZE, DONTCACHE_BENCH_TRIALS, DONTCACHE_BENCH_DIR.
// Run figures under `flock /tmp/dontcache-bench.lock` so benchmarks do not overlap.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { createDontcacheWriteStream, DEFAULT_WRITE_HIGH_WATER_MARK } = require('../dist/write-stream');
const { LatencyHistogram } = require('../dist/latency');
const { cachestatSync } = require('../dist/io');
const { benchArgs, dirtyBytes, median, parseSize } = require('./common');
const { buildCeiling, runCeiling } = require('./ceiling');
const { LOOPS, runNodeLoop } = require('./loops');
const { startNeighbours } = require('./neighbour');
const { constants } = require('../dist/constants');

function parseArgs() {
  const values = benchArgs('bench:stream [--size 2G] [--chunks 16K,64K,1M] [--trials 5] [--modes auto,dontcache,writeback,buffered] [--dir .] [--hwm 1M] [--neighbours on|off] [--loops on|off]', {
    size: process.env.DONTCACHE_BENCH_SIZE || '2G',
    chunks: '16K,64K,1M',
    trials: process.env.DONTCACHE_BENCH_TRIALS || 5,
    modes: 'auto,dontcache,writeback,buffered',
    dir: process.env.DONTCACHE_BENCH_DIR || '.',
    hwm: undefined,
    neighbours: 'on',
    loops: 'on',
  });
  return {
    size: parseSize(values.size, 'size'),
    trials: Number(values.trials),
    dir: values.dir,
    hwm: values.hwm === undefined ? undefined : parseSize(values.hwm, 'hwm'),
    chunkSizes: values.chunks.split(',').map((chunk) => parseSize(chunk, 'chunks')),
    variants: ['node', ...values.modes.split(',').filter(Boolean)],
    neighbours: values.neighbours,
    loops: values.loops,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (up to 20 s) until earlier runs' dirty pages are gone, so runs start alike. */
async function settle(baseline) {
  for (let i = 0; i < 400 && dirtyBytes() > baseline + 16 * 1024 * 1024; i++) await sleep(50);
}

/**
 * Writes and deletes a scratch file of `size` bytes with plain writes. In this VM fresh
 * memory is slow on first touch, and a run that follows a buffered run reuses the pages
 * that run freed: without this, whichever variant comes after a buffered one looks
 * several times faster. After it, every run starts with the same warm free memory.
 */
function warmMemory(file, size) {
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const fd = fs.openSync(file, 'w');
  try {
    for (let at = 0; at < size; at += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - at));
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file);
  }
}

function openStream(variant, file, hwm) {
  if (variant === 'node') return fs.createWriteStream(file);
  const options = { cache: variant };
  if (hwm !== undefined) options.highWaterMark = hwm;
  return createDontcacheWriteStream(file, options);
}

/**
 * The producer's buffers: `count` buffers of `size` bytes filled once, handed out in
 * turn; a buffer is handed out again only after the stream called back for its last
 * write (streams call back in order).
 */
class BufferRing {
  constructor(count, size) {
    this.buffers = Array.from({ length: count }, (_, i) => Buffer.alloc(size, 0x61 + (i % 26)));
    this.issued = 0;
    this.completed = 0;
    this.waiter = null;
  }

  /** The next buffer, once its previous write was called back. */
  async take() {
    const n = this.buffers.length;
    if (this.issued - this.completed >= n) await new Promise((resolve) => (this.waiter = resolve));
    return this.buffers[this.issued++ % n];
  }

  done() {
    this.completed++;
    if (this.waiter && this.issued - this.completed < this.buffers.length) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve();
    }
  }
}

/** Enough buffers that the ring never holds a producer back before the stream does. */
function ringFor(chunk, hwm) {
  return new BufferRing(Math.ceil(Math.max(16 * 2 ** 20, 4 * hwm) / chunk) + 4, chunk);
}

/** Writes `size` bytes in `chunk`-byte writes from the ring, honouring backpressure. */
async function runOne(variant, file, size, chunk, hwm, ring, neighbours) {
  const latency = new LatencyHistogram();
  const baseDirty = dirtyBytes();
  const baseRss = process.memoryUsage.rss();
  let peakDirty = 0;
  let peakRss = 0;
  const sample = () => {
    peakDirty = Math.max(peakDirty, dirtyBytes() - baseDirty);
    peakRss = Math.max(peakRss, process.memoryUsage.rss() - baseRss);
  };
  const timer = setInterval(sample, 50);
  const around = neighbours ? startNeighbours(`${file}.small`) : null;
  const started = performance.now();
  const stream = openStream(variant, file, hwm);
  const closed = new Promise((resolve, reject) => {
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  let strategy = 'buffered';
  stream.on('finish', () => {
    if (stream.stats) strategy = stream.stats.strategy;
  });
  for (let written = 0; written < size; written += chunk) {
    const buffer = await ring.take();
    const t = performance.now();
    const more = stream.write(buffer.subarray(0, Math.min(chunk, size - written)), () => {
      latency.record((performance.now() - t) * 1000);
      ring.done();
    });
    if (!more) await new Promise((resolve) => stream.once('drain', resolve));
  }
  stream.end();
  await closed;
  const seconds = (performance.now() - started) / 1000;
  const neighbour = await around?.stop();
  clearInterval(timer);
  sample();
  const fd = fs.openSync(file, 'r');
  const cached = cachestatSync(fd, 0, 0).cached;
  fs.closeSync(fd);
  fs.rmSync(file);
  return {
    mbps: size / seconds / 1e6,
    residency: (cached * constants.PAGE_SIZE) / size,
    dirtyMiB: peakDirty / 2 ** 20,
    p999ms: latency.percentile(0.999) / 1000,
    rssMiB: peakRss / 2 ** 20,
    strategy,
    ...neighbour,
  };
}

function fmtSize(bytes) {
  return bytes >= 2 ** 20 ? `${bytes / 2 ** 20} MiB` : `${bytes / 1024} KiB`;
}

const NAMES = { node: 'fs.createWriteStream', ceiling: 'C pwritev2 loop', ...LOOPS };
const nameOf = (variant) => NAMES[variant] ?? `cache: '${variant}'`;

/** "median (min-max)" of `values`, each shown with `digits` decimals. */
function spread(values, digits = 0) {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v) => v.toFixed(digits);
  return `${f(median(values))} (${f(sorted[0])}-${f(sorted[sorted.length - 1])})`;
}

/** Per-trial ratios of `field` between two variants' runs (same trial, same chunk size). */
function ratios(runs, base, field) {
  return runs.map((r, i) => r[field] / base[i][field]).filter(Number.isFinite);
}

/** Waits for the disk, warms memory, then runs one variant (the C loop or a stream). */
async function measure(variant, chunk, ctx, neighbours) {
  global.gc?.();
  warmMemory(ctx.file, ctx.size);
  await settle(ctx.baseline);
  if (variant === 'ceiling') return runCeiling(ctx.ceiling.binary, ctx.file, ctx.size, chunk, constants.RWF_DONTCACHE);
  if (LOOPS[variant]) return runNodeLoop(variant, ctx.file, ctx.size, chunk, constants.RWF_DONTCACHE);
  return runOne(variant, ctx.file, ctx.size, chunk, ctx.hwm, ctx.rings.get(chunk), neighbours);
}

/** Runs every variant at every chunk size, `trials` times, rotating the order; returns runs by "chunk:variant". */
async function pass(label, variants, ctx, neighbours) {
  const results = new Map();
  for (let trial = 0; trial < ctx.trials; trial++) {
    for (const chunk of ctx.chunkSizes) {
      // Rotate the order each trial, so no variant always runs first or last.
      const shift = trial % variants.length;
      for (const variant of [...variants.slice(shift), ...variants.slice(0, shift)]) {
        const r = await measure(variant, chunk, ctx, neighbours);
        const key = `${chunk}:${variant}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(r);
        const extra = neighbours ? `, loop p99 ${r.loopP99Ms.toFixed(1)} ms, readFile p99 ${r.readP99Ms.toFixed(1)} ms` : '';
        console.error(`  ${label} trial ${trial + 1} ${fmtSize(chunk)} ${variant}: ${r.mbps.toFixed(0)} MB/s${extra}`);
      }
    }
  }
  return results;
}

function printThroughput(results, ctx) {
  const c = ctx.ceiling.binary ? 'x C loop' : 'x C loop (skipped)';
  console.log(`\n| chunk | variant | strategy | MB/s | ${c} | x fs | residency | peak dirty+wb MiB | write cb p99.9 ms | peak RSS+ MiB |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const chunk of ctx.chunkSizes) {
    const node = results.get(`${chunk}:node`);
    const ceiling = results.get(`${chunk}:ceiling`);
    for (const variant of ctx.variants) {
      const runs = results.get(`${chunk}:${variant}`);
      const m = (field) => median(runs.map((r) => r[field]));
      const toC = ceiling ? spread(ratios(runs, ceiling, 'mbps'), 2) : '-';
      const toFs = spread(ratios(runs, node, 'mbps'), 2);
      if (variant === 'ceiling' || LOOPS[variant]) {
        // A loop's own p99.9 per call: the floor of any stream's write-callback tail.
        console.log(`| ${fmtSize(chunk)} | ${nameOf(variant)} | RWF_DONTCACHE | ${spread(runs.map((r) => r.mbps))} | ${variant === 'ceiling' ? '1' : toC} | ${toFs} | - | - | ` +
          `${spread(runs.map((r) => r.callP999Ms), 2)} (one call) | - |`);
        continue;
      }
      console.log(`| ${fmtSize(chunk)} | ${nameOf(variant)} | ${variant === 'node' ? '-' : runs[0].strategy} | ` +
        `${spread(runs.map((r) => r.mbps))} | ${toC} | ${variant === 'node' ? '1' : toFs} | ${(m('residency') * 100).toFixed(2)}% | ` +
        `${m('dirtyMiB').toFixed(0)} | ${spread(runs.map((r) => r.p999ms), 2)} | ${m('rssMiB').toFixed(0)} |`);
    }
  }
}

function printNeighbours(results, ctx, variants) {
  console.log('\nNeighbours while each stream writes the same bytes (same process): event-loop delay p99 ' +
    '(monitorEventLoopDelay, 10 ms resolution) and p99 of one 4 KiB fs.promises.readFile (a threadpool user), ms; ' +
    'ratios to fs.createWriteStream within each trial (lower is better).');
  console.log('\n| chunk | variant | MB/s | loop delay p99 ms | x fs | readFile p99 ms | x fs | reads/s |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const chunk of ctx.chunkSizes) {
    const node = results.get(`${chunk}:node`);
    for (const variant of variants) {
      const runs = results.get(`${chunk}:${variant}`);
      const same = variant === 'node';
      console.log(`| ${fmtSize(chunk)} | ${nameOf(variant)} | ${spread(runs.map((r) => r.mbps))} | ` +
        `${spread(runs.map((r) => r.loopP99Ms), 1)} | ${same ? '1' : spread(ratios(runs, node, 'loopP99Ms'), 2)} | ` +
        `${spread(runs.map((r) => r.readP99Ms), 1)} | ${same ? '1' : spread(ratios(runs, node, 'readP99Ms'), 2)} | ` +
        `${median(runs.map((r) => r.readsPerSecond)).toFixed(0)} |`);
    }
  }
}

async function main() {
  const opts = parseArgs();
  const dir = path.resolve(opts.dir);
  const file = path.join(dir, `.dontcache-bench-stream.${process.pid}`);
  const ceiling = buildCeiling();
  const cleanup = () => {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.small`, { force: true });
    ceiling.cleanup?.();
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const hwm = opts.hwm ?? DEFAULT_WRITE_HIGH_WATER_MARK;
  console.log(`# bench:stream  dir=${dir}  size=${fmtSize(opts.size)}  trials=${opts.trials}  ` +
    `highWaterMark=${fmtSize(hwm)} (fs.createWriteStream: 16 KiB)  node ${process.version}  load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (ceiling.skip) console.log(`# ${ceiling.skip}`);
  const ctx = {
    ...opts, file, hwm, ceiling, baseline: dirtyBytes(),
    rings: new Map(opts.chunkSizes.map((chunk) => [chunk, ringFor(chunk, Math.max(hwm, 16 * 1024))])),
  };
  // Warm-up: touch fresh memory and the disk with every variant once (not counted).
  const warm = Math.min(opts.size, 512 * 2 ** 20);
  for (const variant of opts.variants) await runOne(variant, file, warm, 1 << 20, opts.hwm, ringFor(1 << 20, hwm), false);
  if (ceiling.binary) {
    try {
      runCeiling(ceiling.binary, file, warm, 1 << 20, constants.RWF_DONTCACHE);
      ctx.variants = ['ceiling', ...(opts.loops === 'on' ? Object.keys(LOOPS) : []), ...opts.variants];
    } catch (error) {
      // EOPNOTSUPP: this file system (or kernel) refuses the flag; there is no ceiling to compare with.
      console.log(`# C ceiling skipped: ${error.message}`);
      ceiling.cleanup();
      ceiling.binary = undefined;
    }
    fs.rmSync(file, { force: true });
  }
  printThroughput(await pass('throughput', ctx.variants, ctx, false), ctx);
  if (opts.neighbours !== 'off') printNeighbours(await pass('neighbours', opts.variants, ctx, true), ctx, opts.variants);
  console.log(`\n# medians (smallest-largest) of ${opts.trials} interleaved trials; load at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
