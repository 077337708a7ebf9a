'use strict';
// Small pieces the benchmarks share: their command line (util.parseArgs, as the CLI;
// sizes like 2G or 64K parsed by the CLI's parseSize), machine-wide dirty memory, medians.
const fs = require('node:fs');
const util = require('node:util');
const { parseSize } = require('../dist/cli/args');

/**
 * Parses process.argv with util.parseArgs: `options` maps each --name to its default
 * (strings; an environment variable may set it first); --help prints `usage`. Returns
 * the values.
 */
function benchArgs(usage, options) {
  const spec = { help: { type: 'boolean', short: 'h' } };
  for (const [name, fallback] of Object.entries(options)) spec[name] = { type: 'string', ...(fallback === undefined ? {} : { default: String(fallback) }) };
  const { values } = util.parseArgs({ options: spec, strict: true });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

/** Dirty + Writeback from /proc/meminfo, bytes (machine-wide). */
function dirtyBytes() {
  const text = fs.readFileSync('/proc/meminfo', 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return (kb('Dirty') + kb('Writeback')) * 1024;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

module.exports = { benchArgs, parseSize, dirtyBytes, median };
