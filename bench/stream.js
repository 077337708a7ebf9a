#!/usr/bin/env node
'use strict';
// Benchmark: DontcacheWriteStream (each `cache` mode) against fs.createWriteStream with
// default options, writing one big file in the current directory with several chunk
// sizes. Variants are interleaved (A B C A B C ...) after a warm-up, repeated, and
// reported as medians with the ratio to fs.createWriteStream.
//
//   npm run compile:ts && npm run bench:stream -- [--size 2G] [--chunks 16K,64K,1M]
//     [--trials 5] [--modes auto,dontcache,writeback,buffered] [--dir .] [--hwm 1M]
//
// Environment: DONTCACHE_BENCH_SIZE, DONTCACHE_BENCH_TRIALS, DONTCACHE_BENCH_DIR.
// Run figures under `flock /tmp/dontcache-bench.lock` so benchmarks do not overlap.
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { createDontcacheWriteStream, DEFAULT_WRITE_HIGH_WATER_MARK } = require('../dist/write-stream');
const { LatencyHistogram } = require('../dist/latency');
const { cachestatSync } = require('../dist/io');
const { benchArgs, dirtyBytes, median, parseSize } = require('./common');
const { constants } = require('../dist/constants');

function parseArgs() {
  const values = benchArgs('bench:stream [--size 2G] [--chunks 16K,64K,1M] [--trials 5] [--modes auto,dontcache,writeback,buffered] [--dir .] [--hwm 1M]', {
    size: process.env.DONTCACHE_BENCH_SIZE || '2G',
    chunks: '16K,64K,1M',
    trials: process.env.DONTCACHE_BENCH_TRIALS || 5,
    modes: 'auto,dontcache,writeback,buffered',
    dir: process.env.DONTCACHE_BENCH_DIR || '.',
    hwm: undefined,
  });
  return {
    size: parseSize(values.size, 'size'),
    trials: Number(values.trials),
    dir: values.dir,
    hwm: values.hwm === undefined ? undefined : parseSize(values.hwm, 'hwm'),
    chunkSizes: values.chunks.split(',').map((chunk) => parseSize(chunk, 'chunks')),
    variants: ['node', ...values.modes.split(',').filter(Boolean)],
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

/** Writes `size` bytes in `chunk`-byte fresh buffers, honouring backpressure. */
async function runOne(variant, file, size, chunk, hwm) {
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
    const buffer = Buffer.allocUnsafe(Math.min(chunk, size - written));
    buffer.writeUInt32LE(written % 0xffffffff, 0);
    const t = performance.now();
    const more = stream.write(buffer, () => latency.record((performance.now() - t) * 1000));
    if (!more) await new Promise((resolve) => stream.once('drain', resolve));
  }
  stream.end();
  await closed;
  const seconds = (performance.now() - started) / 1000;
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
  };
}

function fmtSize(bytes) {
  return bytes >= 2 ** 20 ? `${bytes / 2 ** 20} MiB` : `${bytes / 1024} KiB`;
}

async function main() {
  const opts = parseArgs();
  const dir = path.resolve(opts.dir);
  const file = path.join(dir, `.dontcache-bench-stream.${process.pid}`);
  const cleanup = () => fs.rmSync(file, { force: true });
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const hwm = opts.hwm ?? DEFAULT_WRITE_HIGH_WATER_MARK;
  console.log(`# bench:stream  dir=${dir}  size=${fmtSize(opts.size)}  trials=${opts.trials}  ` +
    `highWaterMark=${fmtSize(hwm)} (fs.createWriteStream: 16 KiB)  node ${process.version}`);
  const baseline = dirtyBytes();
  // Warm-up: touch fresh memory and the disk with every variant once (not counted).
  const warm = Math.min(opts.size, 512 * 2 ** 20);
  for (const variant of opts.variants) await runOne(variant, file, warm, 1 << 20, opts.hwm);
  const results = new Map();
  for (let trial = 0; trial < opts.trials; trial++) {
    for (const chunk of opts.chunkSizes) {
      // Rotate the order each trial, so no variant always runs first or last.
      const shift = trial % opts.variants.length;
      for (const variant of [...opts.variants.slice(shift), ...opts.variants.slice(0, shift)]) {
        global.gc?.();
        warmMemory(file, opts.size);
        await settle(baseline);
        const r = await runOne(variant, file, opts.size, chunk, opts.hwm);
        const key = `${chunk}:${variant}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(r);
        console.error(`  trial ${trial + 1} ${fmtSize(chunk)} ${variant}: ${r.mbps.toFixed(0)} MB/s`);
      }
    }
  }
  console.log('\n| chunk | variant | strategy | MB/s | x fs | residency | peak dirty+wb MiB | write cb p99.9 ms | peak RSS+ MiB |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const chunk of opts.chunkSizes) {
    const nodeMbps = median(results.get(`${chunk}:node`).map((r) => r.mbps));
    for (const variant of opts.variants) {
      const runs = results.get(`${chunk}:${variant}`);
      const m = (field) => median(runs.map((r) => r[field]));
      const name = variant === 'node' ? 'fs.createWriteStream' : `cache: '${variant}'`;
      console.log(`| ${fmtSize(chunk)} | ${name} | ${variant === 'node' ? '-' : runs[0].strategy} | ` +
        `${m('mbps').toFixed(0)} | ${(m('mbps') / nodeMbps).toFixed(2)} | ${(m('residency') * 100).toFixed(2)}% | ` +
        `${m('dirtyMiB').toFixed(0)} | ${m('p999ms').toFixed(2)} | ${m('rssMiB').toFixed(0)} |`);
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
