// Per-call cost of dontcache's pwritev2 against Node's own fs on the same workload:
// sequential writes into a 64 MiB region of a file in the current directory (hot
// page cache, so the figures are call overhead, not the disk). Variants run
// interleaved in one process, several trials, medians; usage:
//   npm run bench:io [-- --trials 5 --dir /some/dir]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const dc = require('../dist/index.js');
const { benchArgs, median } = require('./common');

const values = benchArgs('bench:io [--trials 5] [--dir .]', { trials: 5, dir: '.' });
const TRIALS = Number(values.trials);
const REGION = 64 * 1024 * 1024;
const SIZES = [
  { label: '4 KiB', size: 4096, ops: 20000 },
  { label: '1 MiB', size: 1024 * 1024, ops: 400 },
];

function fsWrite(fd, buf, pos) {
  return new Promise((resolve, reject) => fs.write(fd, buf, 0, buf.length, pos, (e, n) => (e ? reject(e) : resolve(n))));
}

// A variant has `run` (async) or `sync`, and the Node variant it is compared with.
const VARIANTS = [
  { name: 'pwritev2 (promise)', baseline: 'fs.write (callback)', run: (c, b, p) => dc.pwritev2(c.fd, b, p) },
  { name: 'fs.write (callback)', run: (c, b, p) => fsWrite(c.fd, b, p) },
  { name: 'FileHandle.write', run: (c, b, p) => c.handle.write(b, 0, b.length, p) },
  { name: 'pwritev2Sync', baseline: 'fs.writeSync', sync: (c, b, p) => dc.pwritev2Sync(c.fd, b, p) },
  { name: 'fs.writeSync', sync: (c, b, p) => fs.writeSync(c.fd, b, 0, b.length, p) },
  { name: 'pwritev2 + RWF_DONTCACHE (info)', run: (c, b, p) => dc.pwritev2(c.fd, b, p, dc.constants.RWF_DONTCACHE) },
];

async function measure(variant, ctx, buf, ops) {
  // Clean pages first: no flusher writeback of this region may start during the timed
  // loop (pages under writeback make the next write of them wait), whichever variant it hits.
  fs.fdatasyncSync(ctx.fd);
  const start = process.hrtime.bigint();
  let pos = 0;
  if (variant.sync) {
    for (let i = 0; i < ops; i++, pos = (pos + buf.length) % REGION) variant.sync(ctx, buf, pos);
  } else {
    for (let i = 0; i < ops; i++, pos = (pos + buf.length) % REGION) await variant.run(ctx, buf, pos);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return ops / seconds;
}

async function main() {
  const file = path.join(values.dir, `.dontcache-bench-io.${process.pid}`);
  const handle = await fs.promises.open(file, 'w+');
  const ctx = { fd: handle.fd, handle };
  const cleanup = () => fs.rmSync(file, { force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    // Warm-up: touch the whole region once so every variant finds it cached.
    await dc.pwritev2(ctx.fd, Buffer.alloc(REGION, 1), 0);
    console.log(`bench:io  node ${process.version}  ${TRIALS} trials, interleaved, medians; file in ${path.resolve(values.dir)}`);
    for (const { label, size, ops } of SIZES) {
      const buf = Buffer.alloc(size, 7);
      const results = new Map(VARIANTS.map((v) => [v.name, []]));
      for (const v of VARIANTS) await measure(v, ctx, buf, Math.ceil(ops / 10)); // warm-up
      for (let t = 0; t < TRIALS; t++) {
        // Rotate the order every trial so no variant always follows the same one.
        const order = VARIANTS.map((_, i) => VARIANTS[(i + t) % VARIANTS.length]);
        for (const v of order) {
          global.gc?.();
          results.get(v.name).push(await measure(v, ctx, buf, ops));
        }
      }
      console.log(`\n${label} writes (${ops} per trial)`);
      console.log(`${'variant'.padEnd(34)} ${'ops/s'.padStart(10)} ${'min..max'.padStart(20)}  ratio`);
      for (const v of VARIANTS) {
        const xs = results.get(v.name);
        const m = median(xs);
        const ratio = v.baseline ? `${(m / median(results.get(v.baseline))).toFixed(2)}x vs ${v.baseline}` : '';
        const spread = `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;
        console.log(`${v.name.padEnd(34)} ${String(Math.round(m)).padStart(10)} ${spread.padStart(20)}  ${ratio}`);
      }
      const filehandle = median(results.get('FileHandle.write'));
      console.log(`${'pwritev2 (promise)'.padEnd(34)} vs FileHandle.write: ${(median(results.get('pwritev2 (promise)')) / filehandle).toFixed(2)}x`);
    }
  } finally {
    await handle.close();
    cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
