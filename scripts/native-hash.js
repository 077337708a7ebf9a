// Records (write) or verifies (check) a hash of the native sources beside the
// committed prebuilds, so that a change to native/ or binding.gyp without a rebuilt
// prebuild is caught.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const record = path.join(root, 'prebuilds', 'native-sources.sha256');

function sourcesHash() {
  const files = ['binding.gyp', ...fs.readdirSync(path.join(root, 'native')).sort().map((f) => `native/${f}`)];
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.join(root, file)));
  }
  return hash.digest('hex');
}

const mode = process.argv[2];
const current = sourcesHash();
if (mode === 'write') {
  fs.writeFileSync(record, `${current}\n`);
  console.log(`native sources ${current} recorded in ${path.relative(root, record)}`);
} else if (mode === 'check') {
  const recorded = fs.existsSync(record) ? fs.readFileSync(record, 'utf8').trim() : '(none)';
  if (recorded !== current) {
    console.error(`prebuilds are stale: native sources hash ${current}, prebuild built from ${recorded}. Run: npm run prebuild`);
    process.exit(1);
  }
  console.log(`prebuilds match the native sources (${current.slice(0, 12)})`);
} else {
  console.error('usage: native-hash.js write|check');
  process.exit(2);
}
