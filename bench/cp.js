#!/usr/bin/env node
'use strict';
// Benchmark: `dontcache cp` against `cp` and `dd oflag=nocache`, copying one big cold
// file on the same file system. Each run is a child process timed from spawn to exit;
// afterwards the page-cache residency of the source and the copy is read with
// cachestat, and what the copy left dirty or under writeback (cp returns with all of it
// still to be written). Variants are interleaved (order rotated every trial) after an
// untimed warm-up round, repeated, and reported as medians with ratios to cp.
//
//   npm run compile:ts && npm run bench:cp -- [--size 2G] [--trials 5] [--dir .]
//     [--variants cp,dd-nocache,dd-nocache-sync,dontcache,dontcache-writeback]
//
// Environment: DONTCACHE_BENCH_SIZE, DONTCACHE_BENCH_TRIALS, DONTCACHE_BENCH_DIR.
// Run figures under `flock /tmp/dontcache-bench.lock` so benchmarks do not overlap.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { cachestatSync } = require('../dist/io');
const { constants } = require('../dist/constants');
const { dropCache } = require('../dist/page-cache');
const { benchArgs, dirtyBytes, median, parseSize } = require('./common');

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
const PAGE = constants.PAGE_SIZE;

/** What each variant runs to copy `src` to `dest`. */
const VARIANTS = {
  cp: { label: 'cp', argv: (src, dest) => ['cp', '--reflink=never', src, dest] },
  'dd-nocache': { label: 'dd bs=1M oflag=nocache', argv: (src, dest) => ['dd', `if=${src}`, `of=${dest}`, 'bs=1M', 'oflag=nocache', 'status=none'] },
  'dd-nocache-sync': {
    label: 'dd bs=1M iflag=nocache oflag=nocache conv=fdatasync',
    argv: (src, dest) => ['dd', `if=${src}`, `of=${dest}`, 'bs=1M', 'iflag=nocache', 'oflag=nocache', 'conv=fdatasync', 'status=none'],
  },
  dontcache: { label: 'dontcache cp', argv: (src, dest) => [process.execPath, CLI, 'cp', '--no-progress', src, dest] },
  'dontcache-writeback': {
    label: 'dontcache cp --cache writeback',
    argv: (src, dest) => [process.execPath, CLI, 'cp', '--no-progress', '--cache', 'writeback', src, dest],
  },
};
const DEFAULT_VARIANTS = 'cp,dd-nocache,dd-nocache-sync,dontcache,dontcache-writeback';

function parseArgs() {
  const values = benchArgs(`bench:cp [--size 2G] [--trials 5] [--dir .] [--variants ${DEFAULT_VARIANTS}]`, {
    size: process.env.DONTCACHE_BENCH_SIZE || '2G',
    trials: process.env.DONTCACHE_BENCH_TRIALS || 5,
    dir: process.env.DONTCACHE_BENCH_DIR || '.',
    variants: DEFAULT_VARIANTS,
  });
  const variantNames = values.variants.split(',').filter(Boolean);
  for (const name of variantNames) if (!VARIANTS[name]) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
  if (!variantNames.includes('cp')) variantNames.unshift('cp');
  return { size: parseSize(values.size, 'size'), trials: Number(values.trials), dir: values.dir, variantNames };
}

/** A file of `size` bytes: one random MiB, stamped with its index in every MiB. */
function makeSource(file, size) {
  const block = require('node:crypto').randomFillSync(Buffer.alloc(1 << 20));
  const fd = fs.openSync(file, 'w');
  try {
    for (let at = 0; at < size; at += block.length) {
      block.writeBigUInt64LE(BigInt(at), 0);
      fs.writeSync(fd, block, 0, Math.min(block.length, size - at), at);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function cacheOf(file) {
  const fd = fs.openSync(file, 'r');
  try {
    return cachestatSync(fd, 0, 0);
  } finally {
    fs.closeSync(fd);
  }
}

function run(argv) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve(seconds);
      else reject(new Error(`${argv.join(' ')} ended with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

/** One copy from a cold source to a fresh destination, starting with no dirty pages around. */
async function runOne(variant, src, dest, size) {
  fs.rmSync(dest, { force: true });
  execFileSync('sync');
  await dropCache(src);
  const seconds = await run(VARIANTS[variant].argv(src, dest));
  const s = cacheOf(src);
  const d = cacheOf(dest);
  if (fs.statSync(dest).size !== size) throw new Error(`${variant}: the copy has ${fs.statSync(dest).size} bytes, not ${size}`);
  return {
    mbps: size / seconds / 1e6,
    srcCached: (s.cached * PAGE) / size,
    destCached: (d.cached * PAGE) / size,
    destDirtyMiB: ((d.dirty + d.writeback) * PAGE) / 2 ** 20,
  };
}

const pct = (x) => `${(x * 100).toFixed(2)}%`;

async function main() {
  const opts = parseArgs();
  const dir = path.resolve(opts.dir);
  const src = path.join(dir, `.dontcache-bench-cp.${process.pid}.src`);
  const dest = path.join(dir, `.dontcache-bench-cp.${process.pid}.dest`);
  const cleanup = () => [src, dest].forEach((f) => fs.rmSync(f, { force: true }));
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const fsType = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  console.log(`# bench:cp  dir=${dir} (${fsType})  size=${(opts.size / 2 ** 30).toFixed(2)} GiB  trials=${opts.trials}  ` +
    `node ${process.version}  baseline dirty ${(dirtyBytes() / 2 ** 20).toFixed(0)} MiB`);
  makeSource(src, opts.size);
  // Warm-up: every variant once (fresh memory and the disk), not counted.
  for (const variant of opts.variantNames) await runOne(variant, src, dest, opts.size);
  const results = new Map(opts.variantNames.map((v) => [v, []]));
  for (let trial = 0; trial < opts.trials; trial++) {
    const shift = trial % opts.variantNames.length;
    for (const variant of [...opts.variantNames.slice(shift), ...opts.variantNames.slice(0, shift)]) {
      const r = await runOne(variant, src, dest, opts.size);
      results.get(variant).push(r);
      console.error(`  trial ${trial + 1} ${variant}: ${r.mbps.toFixed(0)} MB/s, cached src ${pct(r.srcCached)} dest ${pct(r.destCached)}`);
    }
  }
  const cpMbps = median(results.get('cp').map((r) => r.mbps));
  console.log('\n| variant | MB/s (median) | min..max | x cp | source cached after | copy cached after | copy dirty+writeback at exit |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const variant of opts.variantNames) {
    const runs = results.get(variant);
    const m = (field) => median(runs.map((r) => r[field]));
    const mbps = runs.map((r) => r.mbps);
    console.log(`| ${VARIANTS[variant].label} | ${m('mbps').toFixed(0)} | ${Math.min(...mbps).toFixed(0)}..${Math.max(...mbps).toFixed(0)} | ` +
      `${(m('mbps') / cpMbps).toFixed(2)} | ${pct(m('srcCached'))} | ${pct(m('destCached'))} | ${m('destDirtyMiB').toFixed(0)} MiB |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
