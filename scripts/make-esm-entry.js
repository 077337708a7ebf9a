// Writes dist/index.mjs (the ESM entry) and its types: ESM loads the one CommonJS
// build through createRequire, so both module systems share one addon and one set of classes.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const names = Object.keys(require(path.join(dist, 'index.js'))).filter((n) => n !== 'default' && n !== '__esModule');
const lines = [
  "import { createRequire } from 'node:module';",
  'const require = createRequire(import.meta.url);',
  "const cjs = require('./index.js');",
  ...names.map((n) => `export const ${n} = cjs.${n};`),
  'export default cjs;',
  '',
];
fs.writeFileSync(path.join(dist, 'index.mjs'), lines.join('\n'));
fs.writeFileSync(
  path.join(dist, 'index.d.mts'),
  "export * from './index.js';\nimport * as cjs from './index.js';\nexport default cjs;\n",
);
