'use strict';
// The neighbours of bench:stream's writer, in the same process: the event loop
// (perf_hooks.monitorEventLoopDelay) and a loop of small fs.promises.readFile calls,
// one at a time, each of which needs a libuv threadpool thread (open, fstat, read,
// close), as dns, crypto and zlib work does.
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const { createHistogram, monitorEventLoopDelay } = require('node:perf_hooks');

const SMALL_FILE_BYTES = 4096;

/** Starts both neighbours; `stop()` resolves with their p99s in ms once the read loop has ended. */
function startNeighbours(smallFile) {
  fs.writeFileSync(smallFile, Buffer.alloc(SMALL_FILE_BYTES, 0x6e));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const reads = createHistogram();
  let stopped = false;
  loop.enable();
  const reader = (async () => {
    while (!stopped) {
      const start = process.hrtime.bigint();
      await fsp.readFile(smallFile);
      reads.record(process.hrtime.bigint() - start || 1n);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await reader;
      loop.disable();
      fs.rmSync(smallFile, { force: true });
      return { loopP99Ms: loop.percentile(99) / 1e6, readP99Ms: reads.percentile(99) / 1e6, reads: reads.count };
    },
  };
}

module.exports = { startNeighbours };
