// The published shape: `npm pack`, then install the tarball into an empty project on
// a PATH without any C/C++ compiler, and use it from CommonJS and ESM.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..');
const COMPILERS = /^(cc|c\+\+|gcc|g\+\+|cpp|make|gmake|clang|clang\+\+|ld|\w+-linux-gnu-.*)([-.\d]*)$/;

/**
 * A bin directory with everything from PATH except compilers, make and linkers; its `node` is
 * the one running the tests, so npm and the install script run on it (test/arm64: arm64 Node).
 */
function compilerFreeBin(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  for (const from of ['/usr/local/bin', '/usr/bin', '/bin']) {
    if (!fs.existsSync(from)) continue;
    for (const name of fs.readdirSync(from)) {
      if (COMPILERS.test(name) || fs.existsSync(path.join(bin, name))) continue;
      fs.symlinkSync(path.join(from, name), path.join(bin, name));
    }
  }
  return bin;
}

describe('npm pack + install without a compiler', () => {
  let scratch: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dontcache-pack-'));
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const project = path.join(scratch, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), '{"name":"scratch","version":"1.0.0","private":true}\n');
    env = { ...process.env, PATH: compilerFreeBin(scratch), CC: '', CXX: '' };
    for (const key of Object.keys(env)) if (key.startsWith('npm_') || key.startsWith('VITEST')) delete env[key];
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(scratch, tarball)], {
      cwd: project,
      env,
      stdio: 'pipe',
    });
  }, 300_000);

  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('has no compiler on the PATH it installs with', () => {
    expect(() => execFileSync('g++', ['--version'], { env, stdio: 'ignore' })).toThrow();
    expect(() => execFileSync('make', ['--version'], { env, stdio: 'ignore' })).toThrow();
  });

  const scripts: Record<string, string> = {
    'cjs.js': `const { pwritev2, constants, addonPath } = require('dontcache');
const fs = require('fs');
const fd = fs.openSync(process.argv[2], 'w');
pwritev2(fd, [Buffer.from('hello '), Buffer.from('from cjs')], 0, constants.RWF_DONTCACHE)
  .then((n) => { fs.closeSync(fd); console.log(JSON.stringify({ n, addonPath })); });`,
    'esm.mjs': `import { pwritev2, constants, addonPath } from 'dontcache';
import dc from 'dontcache';
import fs from 'node:fs';
const fd = fs.openSync(process.argv[2], 'w');
const n = await pwritev2(fd, Buffer.from('hello from esm'), 0, constants.RWF_DONTCACHE);
fs.closeSync(fd);
console.log(JSON.stringify({ n, addonPath, sameDefault: dc.pwritev2 === pwritev2 }));`,
  };

  for (const [script, source] of Object.entries(scripts)) {
    it(`${script} writes a file with RWF_DONTCACHE through the prebuild`, () => {
      const project = path.join(scratch, 'project');
      fs.writeFileSync(path.join(project, script), source);
      const out = path.join(scratch, `${script}.out`);
      const result = JSON.parse(execFileSync(process.execPath, [script, out], { cwd: project, env, encoding: 'utf8' }));
      expect(result.addonPath).toMatch(new RegExp(`node_modules/dontcache/prebuilds/${process.platform}-${process.arch}/dontcache\\.glibc\\.node$`));
      expect(fs.readFileSync(out, 'utf8')).toBe(script === 'cjs.js' ? 'hello from cjs' : 'hello from esm');
      expect(result.n).toBe(14);
      if (script === 'esm.mjs') expect(result.sameDefault).toBe(true);
    });
  }

  // The latency lab is the subpath `dontcache/lab`; the main entry does not carry it.
  const labScripts: Record<string, string> = {
    'lab-cjs.js': `const lab = require('dontcache/lab');
console.log(JSON.stringify({ runLab: typeof lab.runLab, schema: lab.LAB_REPORT_SCHEMA.$id, inMain: 'runLab' in require('dontcache') }));`,
    'lab-esm.mjs': `import { runLab, LAB_REPORT_SCHEMA } from 'dontcache/lab';
import lab from 'dontcache/lab';
import * as main from 'dontcache';
console.log(JSON.stringify({ runLab: typeof runLab, schema: LAB_REPORT_SCHEMA.$id, inMain: 'runLab' in main, sameDefault: lab.runLab === runLab }));`,
  };

  for (const [script, source] of Object.entries(labScripts)) {
    it(`${script} loads the lab from dontcache/lab`, () => {
      const project = path.join(scratch, 'project');
      fs.writeFileSync(path.join(project, script), source);
      const result = JSON.parse(execFileSync(process.execPath, [script], { cwd: project, env, encoding: 'utf8' }));
      expect(result).toMatchObject({ runLab: 'function', schema: expect.stringMatching(/^urn:dontcache:lab-report:v\d+$/), inMain: false });
      if (script === 'lab-esm.mjs') expect(result.sameDefault).toBe(true);
    });
  }

  // TypeScript finds the types of both entries under each resolution users pick: node16 from
  // CommonJS (.cts, `require` condition) and ESM (.mts, `import` condition), bundler, and the
  // old node10 (typesVersions).
  const typeCheck = `import { runLab, LAB_REPORT_SCHEMA, type LabOptions, type LabReport } from 'dontcache/lab';
import * as main from 'dontcache';
const options: LabOptions = { dir: '.', sizeBytes: 1 << 20, scenarios: ['seq-write'] };
const report: Promise<LabReport> = runLab(options);
const id: unknown = LAB_REPORT_SCHEMA.$id;
const stream: main.DontcacheWriteStream = main.createDontcacheWriteStream('/dev/null');
// @ts-expect-error the lab is not on the main entry
main.runLab;
// @ts-expect-error a wrong option type is caught
runLab({ dir: 1 });
export { report, id, stream };
`;
  const resolutions: [string, string, string][] = [
    ['node16 (CommonJS)', 'node16', 'types.cts'],
    ['node16 (ESM)', 'node16', 'types.mts'],
    ['bundler', 'bundler', 'types.ts'],
    ['node10', 'node10', 'types.ts'],
  ];
  // Types do not depend on the architecture: the arm64 run (tsc under qemu-user, slow) leaves them to the native one.
  const typesSkip = process.env.DONTCACHE_ARM64_NODE_WRAPPER ? ' (skipped under qemu-user: the x64 run checks the types)' : '';
  it.skipIf(typesSkip !== '').each(resolutions)(`TypeScript resolves dontcache and dontcache/lab with moduleResolution %s${typesSkip}`, (_, resolution, file) => {
    const dir = path.join(scratch, 'project', `ts-${resolution}-${file.replace('.', '-')}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, file), typeCheck);
    const module = resolution === 'bundler' ? 'esnext' : resolution === 'node10' ? 'commonjs' : 'node16';
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module, moduleResolution: resolution, target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false,
        types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')],
        ...(resolution === 'node10' ? { ignoreDeprecations: '5.0' } : {}),
      },
      files: [file],
    }));
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = () => execFileSync(process.execPath, [tsc, '-p', dir, '--traceResolution'], { cwd: dir, env, encoding: 'utf8' });
    let trace = '';
    try {
      trace = run();
    } catch (error) {
      throw new Error(`tsc failed:\n${(error as { stdout?: string }).stdout?.split('\n').filter((l) => /error TS/.test(l)).join('\n')}`);
    }
    const resolved = (name: string) => new RegExp(`Module name '${name}' was successfully resolved to '([^']+)'`).exec(trace)?.[1];
    const esm = file.endsWith('.mts') || resolution === 'bundler';
    expect(resolved('dontcache/lab')).toMatch(new RegExp(`node_modules/dontcache/dist/lab/index\\.d\\.${esm ? 'mts' : 'ts'}$`));
    expect(resolved('dontcache')).toMatch(new RegExp(`node_modules/dontcache/dist/index\\.d\\.${esm ? 'mts' : 'ts'}$`));
  });

  it('ships no build directory and no sources the install does not need', () => {
    const pkg = path.join(scratch, 'project', 'node_modules', 'dontcache');
    expect(fs.existsSync(path.join(pkg, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(pkg, 'dist', 'index.d.ts'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'dist', 'index.d.mts'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'dist', 'lab', 'index.d.mts'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'src'))).toBe(false);
  });
});
