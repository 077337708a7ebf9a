/**
 * Read buffers handed round again once their bytes are written. Each read of fresh
 * memory makes the kernel fault in and zero every page it touches: copying a 2 GiB file
 * through a new 1 MiB buffer per read took 530,000 page faults and ran at a fifth of
 * the speed of the same copy with reused buffers (`dontcache cp`, this VM). Internal:
 * only a reader and a writer that both belong to one transfer may share a pool, since
 * a released buffer is overwritten by the next read.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly own = new WeakSet<ArrayBuffer>();

  /** Buffers of `size` bytes; at most `keep` of them wait unused. */
  constructor(readonly size: number, private readonly keep = 8) {}

  /** A buffer of `bytes` (a pooled one when it fits, else a new one of its own). */
  take(bytes: number): Buffer {
    if (bytes > this.size) return Buffer.allocUnsafeSlow(bytes);
    let memory = this.free.pop();
    if (!memory) {
      memory = new ArrayBuffer(this.size);
      this.own.add(memory);
    }
    return Buffer.from(memory, 0, bytes);
  }

  /**
   * Gives back the memory under `chunk` (a buffer from take(), or part of one): its
   * owner must not use it again. Memory of other origin, and memory given back twice,
   * is left alone.
   */
  release(chunk: Uint8Array): void {
    const memory = chunk.buffer as ArrayBuffer;
    if (this.own.has(memory) && this.free.length < this.keep && !this.free.includes(memory)) this.free.push(memory);
  }
}

/**
 * The pool a read stream reads into, pushing its chunks without a copy, when it has one
 * (internal: set by `dontcache cp`, not part of the stream's public shape).
 */
export const readBuffersOf = new WeakMap<object, BufferPool>();
