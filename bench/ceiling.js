'use strict';
// The C ceiling of bench:stream: bench/ceiling.c compiled with the system C compiler
// (CC, else cc) into a temporary directory at bench time, run as a child process.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/**
 * Compiles the ceiling loop. Returns { binary, cleanup } or { skip: reason } when there
 * is no compiler or it fails (the bench then goes on without the ceiling).
 */
function buildCeiling() {
  const compiler = process.env.CC || 'cc';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dontcache-ceiling-'));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  const binary = path.join(dir, 'ceiling');
  const r = spawnSync(compiler, ['-O2', '-o', binary, path.join(__dirname, 'ceiling.c')], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    cleanup();
    const why = r.error?.code === 'ENOENT' ? `no C compiler (${compiler}) on PATH` : `${compiler} failed: ${(r.error?.message ?? r.stderr).trim().split('\n')[0]}`;
    return { skip: `C ceiling skipped: ${why}` };
  }
  return { binary, cleanup };
}

/**
 * Runs the loop once: `size` bytes in `chunk`-byte pwritev2 calls with `flags`.
 * Resolves with MB/s and the p99.9 of one call (ms); an error carries the loop's `errno`.
 */
function runCeiling(binary, file, size, chunk, flags) {
  const r = spawnSync(binary, [file, String(size), String(chunk), String(flags)], { encoding: 'utf8' });
  const line = r.stdout?.trim();
  const result = line ? JSON.parse(line) : null;
  if (!result || result.errno !== 0) {
    const why = result ? `${errnoName(result.errno)} after ${result.bytes} bytes` : (r.error?.message ?? `exit ${r.status}`);
    throw Object.assign(new Error(`C ceiling loop failed on ${file}: ${why}`), { errno: result?.errno });
  }
  return { mbps: result.bytes / (result.ns / 1e9) / 1e6, callP999Ms: result.callP999Us / 1000 };
}

function errnoName(errno) {
  const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0];
  return name ? `${name} (errno ${errno})` : `errno ${errno}`;
}

module.exports = { buildCeiling, runCeiling };
