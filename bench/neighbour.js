'use strict';
// The neighbours of bench:stream's writer, in the same process: the event loop
// (perf_hooks.monitorEventLoopDelay, as the lab's writer measures it) and the lab's
// threadpool-neighbour read loop (small fs.promises.readFile calls, one at a time).
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { startReadNeighbour } = require('../dist/lab/read-neighbour');

/** Starts both; `stop()` resolves with their p99s in ms and the reads per second. */
function startNeighbours(smallFile) {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const reads = startReadNeighbour(smallFile);
  return {
    async stop() {
      const r = await reads.stop();
      loop.disable();
      return { loopP99Ms: loop.percentile(99) / 1e6, readP99Ms: r.latency.percentile(0.99) / 1000, readsPerSecond: r.reads / (r.elapsedNs / 1e9) };
    },
  };
}

module.exports = { startNeighbours };
