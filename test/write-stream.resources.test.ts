// Resource bounds of DontcacheWriteStream, each in a child Node process (dist/):
// eight streams with UV_THREADPOOL_SIZE=2 finish (no stream holds more than one
// threadpool thread for writes plus one for its window), and RSS stays bounded.
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
function runChild(script: string, args: unknown, env: NodeJS.ProcessEnv = {}): any {
  const code = `const dist = require(${JSON.stringify(DIST)}); const args = JSON.parse(process.argv[1]);\n${script}`;
  const child = spawnSync(process.execPath, ['--expose-gc', '-e', code, JSON.stringify(args)], {
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

  it('RSS growth writing 1 GiB in fresh 64 KiB chunks stays under 2 x highWaterMark + 32 MiB', () => {
    const file = tempPath(ext4.dir!, 'rss');
    const highWaterMark = 1 << 20;
    const result = runChild(`
      const s = dist.createDontcacheWriteStream(args.file, { highWaterMark: args.highWaterMark });
      global.gc();
      const base = process.memoryUsage.rss();
      let peak = 0;
      const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss() - base); }, 20);
      let written = 0;
      s.on('close', () => {
        clearInterval(timer);
        peak = Math.max(peak, process.memoryUsage.rss() - base);
        console.log('RESULT ' + JSON.stringify({ peak, bytes: s.bytesWritten }));
      });
      (function pump() {
        while (written < 1 << 30) {
          const chunk = Buffer.allocUnsafe(65536);
          chunk.writeUInt32LE(written >>> 16, 0);
          written += chunk.length;
          if (!s.write(chunk)) return s.once('drain', pump);
        }
        s.end();
      })();
    `, { file, highWaterMark });
    expect(result.bytes).toBe(2 ** 30);
    expect(fs.statSync(file).size).toBe(2 ** 30);
    expect(result.peak).toBeLessThan(2 * highWaterMark + 32 * 2 ** 20);
    fs.rmSync(file);
  });
});
