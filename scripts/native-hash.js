// Records (write TARGET) or verifies (check) what each committed prebuild was built from: per
// target (linux-x64, linux-arm64) a hash of the native sources and the sha256 of the .node file.
// A change to native/ or binding.gyp without rebuilt prebuilds, a prebuild rebuilt without its
// record, or a missing target is caught.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const record = path.join(root, 'prebuilds', 'native-sources.sha256');
/** The prebuilds the package ships; each must be present and current. */
const TARGETS = ['linux-x64', 'linux-arm64'];

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');

function sourcesHash() {
  const files = ['binding.gyp', ...fs.readdirSync(path.join(root, 'native')).sort().map((f) => `native/${f}`)];
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.join(root, file)));
  }
  return hash.digest('hex');
}

function binaryOf(target) {
  const dir = path.join(root, 'prebuilds', target);
  const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.node')) : undefined;
  return file && path.join(dir, file);
}

/** target -> { sources, binary } from the record (lines: TARGET SOURCES-SHA256 BINARY-SHA256). */
function readRecord() {
  const lines = fs.existsSync(record) ? fs.readFileSync(record, 'utf8').split('\n').filter(Boolean) : [];
  return new Map(lines.map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3).map(([t, sources, binary]) => [t, { sources, binary }]));
}

const [mode, target] = process.argv.slice(2);
const current = sourcesHash();
if (mode === 'write' && TARGETS.includes(target)) {
  const file = binaryOf(target);
  if (!file) {
    console.error(`no .node file in prebuilds/${target}`);
    process.exit(1);
  }
  const entries = readRecord();
  entries.set(target, { sources: current, binary: sha256(fs.readFileSync(file)) });
  const lines = [...entries].sort(([a], [b]) => a.localeCompare(b)).map(([t, e]) => `${t} ${e.sources} ${e.binary}`);
  fs.writeFileSync(record, `${lines.join('\n')}\n`);
  console.log(`prebuilds/${target}: native sources ${current.slice(0, 12)} recorded in ${path.relative(root, record)}`);
} else if (mode === 'check') {
  const entries = readRecord();
  const problems = [];
  for (const t of TARGETS) {
    const file = binaryOf(t);
    const entry = entries.get(t);
    if (!file) problems.push(`prebuilds/${t} has no .node file`);
    else if (!entry) problems.push(`prebuilds/${t} is not recorded`);
    else if (entry.sources !== current) problems.push(`prebuilds/${t} was built from native sources ${entry.sources.slice(0, 12)}, they are now ${current.slice(0, 12)}`);
    else if (entry.binary !== sha256(fs.readFileSync(file))) problems.push(`prebuilds/${t}: the .node file is not the one recorded`);
  }
  if (problems.length) {
    console.error(`prebuilds are stale:\n  ${problems.join('\n  ')}\nRun: npm run prebuild (linux-arm64 needs g++-aarch64-linux-gnu) and commit prebuilds/`);
    process.exit(1);
  }
  console.log(`prebuilds (${TARGETS.join(', ')}) match the native sources (${current.slice(0, 12)})`);
} else {
  console.error(`usage: native-hash.js write ${TARGETS.join('|')} | check`);
  process.exit(2);
}
