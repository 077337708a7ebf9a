// DontcacheWriteStream in child Node processes (dist/): eight streams with
// UV_THREADPOOL_SIZE=2 finish (no stream holds more than one threadpool thread for
// writes plus one for its window), RSS stays bounded, and a refusal of RWF_DONTCACHE in
// the middle of a file (injected with strace) falls back without losing a byte.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'write-stream.js');
const ext4 = testFs('ext4');
const skip = !fs.existsSync(DIST) ? 'dist/ is not built: run `npm run compile:ts` first' : ext4.dir ? undefined : ext4.skip;
if (skip) console.warn(`[write-stream.resources] skipping: ${skip}`);
afterAll(cleanupTempFiles);

/** Runs `script` (CommonJS, `dist` bound to the built write-stream module) and returns its JSON result. */
function runChild(script: string, args: unknown, env: NodeJS.ProcessEnv = {}, prefix: string[] = []): any {
  const code = `const dist = require(${JSON.stringify(DIST)}); const args = JSON.parse(process.argv[1]);\n${script}`;
  const command = [...prefix, process.execPath, '--expose-gc', '-e', code, JSON.stringify(args)];
  const child = spawnSync(command[0], command.slice(1), {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (child.status !== 0 || !line) {
    throw new Error(`child ended with ${child.status ?? child.signal}\n${child.stdout}\n${child.stderr}`);
  }
  return JSON.parse(line.slice('RESULT '.length));
}

describe.skipIf(skip !== undefined)(`resource bounds${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('8 streams at once with UV_THREADPOOL_SIZE=2 all finish, byte-exact', () => {
    const files = Array.from({ length: 8 }, (_, i) => tempPath(ext4.dir!, `pool${i}`));
    const result = runChild(`
      const crypto = require('node:crypto');
      const caches = ['dontcache', 'writeback', 'buffered', 'auto'];
      function one(file, i) {
        return new Promise((resolve, reject) => {
          const s = dist.createDontcacheWriteStream(file, { cache: caches[i % 4], windowSize: 1 << 20, flush: i % 3 === 0 });
          const hash = crypto.createHash('sha256');
          let n = 0;
          s.on('error', reject);
          s.on('close', () => resolve(hash.digest('hex')));
          (function pump() {
            while (n < 400) {
              const chunk = crypto.randomBytes(60000 + i);
              hash.update(chunk);
              n++;
              if (!s.write(chunk)) return s.once('drain', pump);
            }
            s.end();
          })();
        });
      }
      Promise.all(args.files.map(one)).then((hashes) => console.log('RESULT ' + JSON.stringify(hashes)), (e) => { console.error(e); process.exit(1); });
    `, { files }, { UV_THREADPOOL_SIZE: '2' });
    expect(result).toHaveLength(8);
    files.forEach((file, i) => {
      expect(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(result[i]);
    });
  });

  it('RSS held while writing 1 GiB in fresh 64 KiB chunks stays under 2 x highWaterMark + 48 MiB', () => {
    const file = tempPath(ext4.dir!, 'rss');
    const highWaterMark = 1 << 20;
    // RSS sampled right after a forced GC (every 16th 'drain'): what the stream holds,
    // not how lazily this Node version frees the written buffers.
    const result = runChild(`
      const s = dist.createDontcacheWriteStream(args.file, { highWaterMark: args.highWaterMark });
      global.gc();
      const base = process.memoryUsage.rss();
      let peak = 0;
      let drains = 0;
      const sample = () => { global.gc(); peak = Math.max(peak, process.memoryUsage.rss() - base); };
      let written = 0;
      s.on('close', () => {
        console.log('RESULT ' + JSON.stringify({ peak, bytes: s.bytesWritten }));
      });
      (function pump() {
        while (written < 1 << 30) {
          const chunk = Buffer.allocUnsafe(65536);
          chunk.writeUInt32LE(written >>> 16, 0);
          written += chunk.length;
          if (!s.write(chunk)) {
            if (drains++ % 16 === 0) sample();
            return s.once('drain', pump);
          }
        }
        sample();
        s.end();
      })();
    `, { file, highWaterMark });
    expect(result.bytes).toBe(2 ** 30);
    expect(fs.statSync(file).size).toBe(2 ** 30);
    // The fixed part: heap pages a Node process keeps after a GC (up to ~42 MiB on
    // Node 24), the same allowance as test/reliability/stream-memory.test.ts.
    expect(result.peak).toBeLessThan(2 * highWaterMark + 48 * 2 ** 20);
    fs.rmSync(file);
  });

  const noStrace = spawnSync('strace', ['-V']).status === 0 ? undefined : 'strace is not installed';
  it.skipIf(noStrace !== undefined)(`EOPNOTSUPP at the 4th pwritev2: one 'fallback' mid-file, byte-exact${noStrace ? ` (skipped: ${noStrace})` : ''}`, () => {
    const file = tempPath(ext4.dir!, 'midfallback');
    const result = runChild(`
      const crypto = require('node:crypto');
      const s = dist.createDontcacheWriteStream(args.file, { cache: 'dontcache', highWaterMark: 65536 });
      const hash = crypto.createHash('sha256');
      const fallbacks = [];
      s.on('fallback', (e) => fallbacks.push({ from: e.from, to: e.to, position: e.position, code: e.reason.code }));
      s.on('close', () => console.log('RESULT ' + JSON.stringify({ hash: hash.digest('hex'), fallbacks, stats: s.stats })));
      let n = 0;
      (function pump() {
        while (n++ < 200) {
          const chunk = crypto.randomBytes(50000);
          hash.update(chunk);
          if (!s.write(chunk)) return s.once('drain', pump);
        }
        s.end();
      })();
    `, { file }, { UV_THREADPOOL_SIZE: '1' }, ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=pwritev2', '-e', 'inject=pwritev2:error=EOPNOTSUPP:when=4']);
    expect(result.fallbacks).toHaveLength(1);
    expect(result.fallbacks[0]).toMatchObject({ from: 'dontcache', to: 'writeback', code: 'ENOTSUP' });
    expect(result.fallbacks[0].position).toBeGreaterThan(0);
    expect(result.stats).toMatchObject({ strategy: 'writeback', fallbacks: 1, bytes: 200 * 50000 });
    expect(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(result.hash);
  });
});
