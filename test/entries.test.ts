// What each entry loads: the main entry is the I/O layer, the streams, the probe and the
// page-cache helpers, never the latency lab (`dontcache/lab`); the CLI loads only the
// subcommand it runs. Each case runs the built package in a child process and lists the
// modules it loaded (require.cache at exit: the ESM entries load the CommonJS build).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, PACKAGE_ROOT, ensureCliBuilt } from './helpers/cli';

const DIST = path.join(PACKAGE_ROOT, 'dist');
const COMMANDS = ['probe', 'stat', 'drop', 'bench', 'cp', 'write'];

let scratch: string;
let preload: string;

beforeAll(() => {
  ensureCliBuilt();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dontcache-entries-'));
  preload = path.join(scratch, 'list-modules.js');
  fs.writeFileSync(
    preload,
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.MODULES_OUT, JSON.stringify(Object.keys(require.cache))));\n",
  );
});

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The modules of dist/ a child node loaded, relative to dist/ ('lab/index.js', 'cli/stat.js', ...). */
function loadedModules(args: string[]): string[] {
  const out = path.join(scratch, `modules-${Math.random().toString(36).slice(2)}.json`);
  execFileSync(process.execPath, ['--require', preload, ...args], {
    cwd: scratch,
    env: { ...process.env, MODULES_OUT: out, NO_COLOR: '1' },
    stdio: 'pipe',
  });
  const all = JSON.parse(fs.readFileSync(out, 'utf8')) as string[];
  return all.filter((m) => m.startsWith(DIST + path.sep)).map((m) => path.relative(DIST, m));
}

const lab = (modules: string[]) => modules.filter((m) => m.startsWith(`lab${path.sep}`));
const commands = (modules: string[]) => COMMANDS.filter((c) => modules.includes(path.join('cli', `${c}.js`)));

describe('the main entry loads no lab code', () => {
  it('require(main) loads the streams, the probe and the page-cache helpers, nothing of dist/lab or dist/cli', () => {
    const modules = loadedModules(['-e', `require(${JSON.stringify(path.join(DIST, 'index.js'))})`]);
    expect(modules).toEqual(expect.arrayContaining(['index.js', 'write-stream.js', 'read-stream.js', 'page-cache.js', path.join('probe', 'index.js')]));
    expect(lab(modules)).toEqual([]);
    expect(modules.filter((m) => m.startsWith(`cli${path.sep}`) || m === 'cli.js')).toEqual([]);
  });

  it('import(main) (the ESM entry) loads no lab module either', () => {
    const modules = loadedModules(['--input-type=module', '-e', `await import(${JSON.stringify(path.join(DIST, 'index.mjs'))})`]);
    expect(modules).toContain('write-stream.js');
    expect(lab(modules)).toEqual([]);
  });

  it('the lab comes from its own entry, in CommonJS and ESM', () => {
    const cjs = require(path.join(DIST, 'lab', 'index.js')) as Record<string, unknown>;
    expect(typeof cjs.runLab).toBe('function');
    expect(lab(loadedModules(['-e', `require(${JSON.stringify(path.join(DIST, 'lab', 'index.js'))})`]))).toContain(path.join('lab', 'runner.js'));
    const esm = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const lab = await import(${JSON.stringify(path.join(DIST, 'lab', 'index.mjs'))}); console.log(typeof lab.runLab, lab.default.runLab === lab.runLab)`],
      { encoding: 'utf8' },
    );
    expect(esm.trim()).toBe('function true');
  });
});

describe('the CLI loads only the subcommand it runs', () => {
  it('--version and --help load no subcommand', () => {
    for (const args of [['--version'], ['--help']]) {
      const modules = loadedModules([CLI, ...args]);
      expect(commands(modules)).toEqual([]);
      expect(lab(modules)).toEqual([]);
    }
  });

  it.each(COMMANDS)('%s --help loads no other subcommand', (name) => {
    const modules = loadedModules([CLI, name, '--help']);
    expect(commands(modules)).toEqual([name]);
    // Only bench is the latency lab.
    if (name === 'bench') expect(lab(modules)).toContain(path.join('lab', 'runner.js'));
    else expect(lab(modules)).toEqual([]);
  });

  it('stat on a file loads the page-cache helpers, not the streams', () => {
    const file = path.join(scratch, 'a-file');
    fs.writeFileSync(file, 'x');
    const modules = loadedModules([CLI, 'stat', file]);
    expect(modules).toContain('page-cache.js');
    expect(commands(modules)).toEqual(['stat']);
    expect(modules).not.toContain('write-stream.js');
    expect(lab(modules)).toEqual([]);
  });
});
