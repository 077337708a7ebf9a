// The read buffers `dontcache cp` hands round (BufferPool), and the promise it rests on:
// ExtentWriter says a chunk is released only once no write of its memory is pending.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferPool } from '../src/buffer-pool';
import { ExtentWriter } from '../src/cli/extent-writer';
import { cleanupTempFiles, tempPath } from './helpers/fs';

afterEach(cleanupTempFiles);

describe('BufferPool', () => {
  it('hands the memory of a released buffer out again, once', () => {
    const pool = new BufferPool(4096);
    const a = pool.take(4096);
    pool.release(a.subarray(0, 100)); // a part of it gives back the whole
    const b = pool.take(1000);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(1000);
    expect(pool.take(4096).buffer).not.toBe(a.buffer);
  });

  it('ignores memory it did not make, memory given back twice, and keeps at most `keep`', () => {
    const pool = new BufferPool(4096, 2);
    pool.release(Buffer.alloc(4096)); // same size, someone else's
    const [x, y, z] = [pool.take(4096), pool.take(4096), pool.take(4096)];
    expect(new Set([x.buffer, y.buffer, z.buffer]).size).toBe(3);
    pool.release(x);
    pool.release(x);
    const first = pool.take(4096);
    expect(first.buffer).toBe(x.buffer);
    expect(pool.take(4096).buffer).not.toBe(x.buffer); // not handed out a second time
    pool.release(x);
    pool.release(y);
    pool.release(z); // over `keep`: left to the collector
    const again = [pool.take(4096), pool.take(4096), pool.take(4096)].map((b) => b.buffer);
    expect(again.filter((m) => m === z.buffer)).toHaveLength(0);
  });

  it('gives a larger request memory of its own', () => {
    const pool = new BufferPool(4096);
    const big = pool.take(8192);
    expect(big.length).toBe(8192);
    pool.release(big);
    expect(pool.take(4096).buffer).not.toBe(big.buffer);
  });
});

describe('ExtentWriter releases a chunk only when its bytes are written', () => {
  // A released chunk is overwritten at once, as the pool's next read does: the file must
  // still hold what the chunk held when it was written.
  async function copyReusing(chunks: Buffer[], holeBlock: number): Promise<Buffer> {
    const file = tempPath(undefined, 'extent');
    const fd = fs.openSync(file, 'w');
    try {
      const writer = new ExtentWriter(fd, { cache: 'auto', holeBlock, append: false, signal: new AbortController().signal });
      let released = 0;
      for (const chunk of chunks) {
        await writer.write(chunk, () => {
          released++;
          chunk.fill(0xee);
        });
      }
      await writer.end();
      expect(released).toBe(chunks.length);
    } finally {
      fs.closeSync(fd);
    }
    return fs.readFileSync(file);
  }

  function chunksOf(data: Buffer, sizes: number[]): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    for (let i = 0; at < data.length; i++) {
      const size = sizes[i % sizes.length];
      out.push(Buffer.from(data.subarray(at, at + size)));
      at += size;
    }
    return out;
  }

  const data = Buffer.alloc(3 * 1024 * 1024 + 777);
  for (let i = 0; i < data.length; i += 4096 * 3) data.fill(i & 0xff || 1, i, Math.min(data.length, i + 4096)); // data, then two zero blocks
  const sizes = [1024 * 1024, 5000, 70_001, 4096];

  it('dense', async () => {
    expect((await copyReusing(chunksOf(data, sizes), 0)).equals(data)).toBe(true);
  });

  it('sparse, with chunks that end inside a block (the unfinished block is kept in memory of its own)', async () => {
    expect((await copyReusing(chunksOf(data, sizes), 4096)).equals(data)).toBe(true);
  });
});
