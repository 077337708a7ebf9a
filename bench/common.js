'use strict';
// Small pieces the benchmarks share: sizes on the command line, machine-wide dirty
// memory, medians.
const fs = require('node:fs');

/** "2G", "64K", "1.5MiB", "4096" -> bytes. */
function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(String(text).trim());
  if (!m) throw new Error(`bad size: ${text}`);
  const scale = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30, t: 2 ** 40 }[m[2].toLowerCase()];
  return Math.round(Number(m[1]) * scale);
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

module.exports = { parseSize, dirtyBytes, median };
