// Writes the ESM entries (dist/index.mjs, dist/lab/index.mjs) and their types: ESM loads
// the one CommonJS build through createRequire, so both module systems share one addon
// and one set of classes.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');

/** The package's entries, as package.json `exports` lists them. */
const ENTRIES = ['index', path.join('lab', 'index')];

for (const entry of ENTRIES) {
  const cjs = path.join(dist, `${entry}.js`);
  const names = Object.keys(require(cjs)).filter((n) => n !== 'default' && n !== '__esModule');
  const lines = [
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
    "const cjs = require('./index.js');",
    ...names.map((n) => `export const ${n} = cjs.${n};`),
    'export default cjs;',
    '',
  ];
  fs.writeFileSync(path.join(dist, `${entry}.mjs`), lines.join('\n'));
  fs.writeFileSync(
    path.join(dist, `${entry}.d.mts`),
    "export * from './index.js';\nimport * as cjs from './index.js';\nexport default cjs;\n",
  );
}
