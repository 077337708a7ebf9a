'use strict';
// Where the time between the C loop and a stream goes: the same pwritev2 calls as the
// C ceiling (bench/ceiling.c), made from Node through the addon, one call at a time:
//   'sync-loop':  pwritev2Sync on the main thread (the addon and V8, no threadpool);
//   'async-loop': await pwritev2, each call a trip through the libuv threadpool (queue,
//                 wake a worker, wake the event loop with the result), as a stream's is.
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const { pwritev2, pwritev2Sync } = require('../dist/io');
const { LatencyHistogram } = require('../dist/latency');

const LOOPS = { 'sync-loop': 'Node pwritev2Sync loop', 'async-loop': 'Node await pwritev2 loop' };

/** Writes `size` bytes into `file` in `chunk`-byte calls with `flags`; MB/s and the p99.9 of one call (ms). */
async function runNodeLoop(kind, file, size, chunk, flags) {
  const buffer = Buffer.alloc(chunk, 0x5a);
  const calls = new LatencyHistogram();
  const started = performance.now();
  const fd = fs.openSync(file, 'w');
  try {
    for (let written = 0; written < size;) {
      const part = size - written < chunk ? buffer.subarray(0, size - written) : buffer;
      const t = performance.now();
      const n = kind === 'sync-loop' ? pwritev2Sync(fd, [part], written, flags) : await pwritev2(fd, [part], written, flags);
      calls.record((performance.now() - t) * 1000);
      written += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { mbps: size / ((performance.now() - started) / 1000) / 1e6, callP999Ms: calls.percentile(0.999) / 1000 };
}

module.exports = { LOOPS, runNodeLoop };
