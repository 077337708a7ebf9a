// Buffers arguments that attack the native argument reader, each in a child process
// (fixtures/eval.js) so that a crash or an abort is seen as such: calls re-entered from
// an element getter, huge and sparse arrays, getters that detach a buffer already read,
// and buffers transferred while their preadv2/pwritev2 is in flight.
import { describe, expect, it } from 'vitest';
import { distUnavailableReason, runNodeChild, type ChildResult } from '../helpers/faults';
import { guardLeaks } from './leaks';

guardLeaks();

const noDist = distUnavailableReason();

/** Runs a snippet in a child node (see fixtures/eval.js) and expects it to end well with a result. */
function inChild(code: string): unknown {
  const child: ChildResult = runNodeChild('eval.js', [code], { execArgv: ['--expose-gc'], timeoutMs: 120_000 });
  const tail = `--- stderr\n${child.stderr.slice(-3000)}`;
  expect(child.signal, `killed by a signal\n${tail}`).toBeNull();
  expect(child.status, tail).toBe(0);
  return child.result;
}

describe.skipIf(noDist !== undefined)(`sync calls are re-entrant${noDist ? ` (skipped: ${noDist})` : ''}`, () => {
  it('a getter of the buffers array that writes another file leaves the outer write intact', () => {
    const result = inChild(`
      const a = fs.openSync(path.join(dir, 'a'), 'w+');
      const b = fs.openSync(path.join(dir, 'b'), 'w+');
      let inner, innermost;
      const nested = [Buffer.from('inner-0 ')];
      Object.defineProperty(nested, 1, { enumerable: true, get() {
        innermost = raw.pwritev2Sync(a, Buffer.from('!'), 0, 0);
        return Buffer.from('inner-1');
      } });
      const buffers = [Buffer.from('outer-0 ')];
      Object.defineProperty(buffers, 1, { enumerable: true, get() {
        inner = dontcache.pwritev2Sync(b, nested, 3);
        return Buffer.from('outer-1');
      } });
      const outer = dontcache.pwritev2Sync(a, buffers, 10);
      done({ outer, inner, innermost, a: fs.readFileSync(path.join(dir, 'a'), 'latin1'), b: fs.readFileSync(path.join(dir, 'b'), 'latin1') });`);
    expect(result).toEqual({
      outer: 15, inner: 15, innermost: 1,
      a: '!\0\0\0\0\0\0\0\0\0outer-0 outer-1', b: '\0\0\0inner-0 inner-1',
    });
  });

  it('a getter that reads another file during an outer preadv2Sync: each read gets its own file', () => {
    const result = inChild(`
      fs.writeFileSync(path.join(dir, 'a'), 'AAAAAAAAAA');
      fs.writeFileSync(path.join(dir, 'b'), 'BBBBBBBBBB');
      const a = fs.openSync(path.join(dir, 'a'), 'r');
      const b = fs.openSync(path.join(dir, 'b'), 'r');
      const innerInto = Buffer.alloc(3);
      let inner;
      const into = [Buffer.alloc(4)];
      Object.defineProperty(into, 1, { enumerable: true, get() { inner = raw.preadv2Sync(b, [innerInto], 0, 0); return (this.second ??= Buffer.alloc(6)); } });
      const outer = dontcache.preadv2Sync(a, into, 0);
      done({ outer, inner, first: into[0].toString(), second: into[1].toString(), innerInto: innerInto.toString() });`);
    expect(result).toEqual({ outer: 10, inner: 3, first: 'AAAA', second: 'AAAAAA', innerInto: 'BBB' });
  });
});

describe.skipIf(noDist !== undefined)('huge, sparse and odd arrays give argument errors, never an abort', () => {
  it('new Array(2 ** 32 - 1) and other lengths past the limit: RangeError before any element is read, in every form', () => {
    const result = inChild(`(async () => {
      const fd = fs.openSync(path.join(dir, 'f'), 'w+');
      const errors = [];
      const huge = [new Array(2 ** 32 - 1), Object.assign(new Array(2 ** 32 - 1), { 0: Buffer.from('x') }), Object.assign([], { length: 2 ** 24 + 1 })];
      for (const buffers of huge) {
        for (const call of [
          () => raw.pwritev2Sync(fd, buffers, 0, 0), () => raw.preadv2Sync(fd, buffers, 0, 0),
          () => raw.pwritev2(fd, buffers, 0, 0, () => {}), () => dontcache.pwritev2Sync(fd, buffers),
          () => dontcache.pwritev2Callback(fd, buffers, 0, 0, () => {}),
        ]) {
          try { call(); errors.push('returned'); } catch (e) { errors.push(e.name + ' ' + e.code + ' ' + e.message); }
        }
      }
      let rejected;
      await dontcache.preadv2(fd, new Array(2 ** 32 - 1)).catch((e) => { rejected = e.code; });
      done({ errors: [...new Set(errors)], rejected, size: fs.fstatSync(fd).size });
    })();`);
    expect(result).toEqual({
      errors: [
        'RangeError ERR_OUT_OF_RANGE The value of "buffers.length" is out of range. It must be <= 16777216. Received 4294967295',
        'RangeError ERR_OUT_OF_RANGE The value of "buffers.length" is out of range. It must be <= 16777216. Received 16777217',
      ],
      rejected: 'ERR_OUT_OF_RANGE',
      size: 0,
    });
  });

  it('holes are a TypeError at the first one; elements inherited from the prototype are read like any element', () => {
    const result = inChild(`
      const fd = fs.openSync(path.join(dir, 'f'), 'w+');
      let hole, longHole;
      try { raw.pwritev2Sync(fd, [Buffer.from('a'), , Buffer.from('c')], 0, 0); } catch (e) { hole = e.message; }
      try { raw.pwritev2Sync(fd, Object.assign([Buffer.from('a')], { length: 2 ** 24 }), 0, 0); } catch (e) { longHole = e.message; }
      const inherited = raw.pwritev2Sync(fd, Object.setPrototypeOf([, Buffer.from('b')], [Buffer.from('a')]), 0, 0);
      done({ hole, longHole, inherited, content: fs.readFileSync(path.join(dir, 'f'), 'latin1') });`);
    expect(result).toEqual({
      hole: 'The "buffers[1]" argument must be an instance of Buffer, TypedArray or DataView. Received undefined',
      longHole: 'The "buffers[1]" argument must be an instance of Buffer, TypedArray or DataView. Received undefined',
      inherited: 2,
      content: 'ab',
    });
  });

  it('a getter that detaches a buffer read before it: that buffer counts as empty, nothing is read from or into freed memory', () => {
    const result = inChild(`
      const fd = fs.openSync(path.join(dir, 'f'), 'w+');
      function detaching(first, tail) {
        const buffers = [first];
        Object.defineProperty(buffers, 1, { enumerable: true, get() {
          structuredClone(first.buffer, { transfer: [first.buffer] });
          global.gc();
          return tail;
        } });
        return buffers;
      }
      const wrote = raw.pwritev2Sync(fd, detaching(Buffer.alloc(64 * 1024, 65), Buffer.from('tail')), 0, 0);
      const size = fs.fstatSync(fd).size;
      const tail = Buffer.alloc(4);
      const read = raw.preadv2Sync(fd, detaching(Buffer.alloc(64 * 1024), tail), 0, 0);
      done({ wrote, size, read, tail: tail.toString() });`);
    expect(result).toEqual({ wrote: 4, size: 4, read: 4, tail: 'tail' });
  });
});

describe.skipIf(noDist !== undefined)('buffers transferred while their call is in flight', () => {
  // A FIFO keeps a preadv2 waiting (nothing to read yet) or a pwritev2 waiting (the pipe is
  // full) on a threadpool thread while the buffer is detached and its memory freed.
  const setup = `
    const { execFileSync } = require('node:child_process');
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    const fd = fs.openSync(path.join(dir, 'fifo'), fs.constants.O_RDWR);
    const detachers = {
      structuredClone: (ab) => structuredClone(ab, { transfer: [ab] }),
      postMessage: (ab) => { const { port1, port2 } = new MessageChannel(); port1.postMessage(ab, [ab]); port1.close(); port2.close(); },
      resize: (ab) => ab.resize?.(0),
    };
    if (ArrayBuffer.prototype.transfer) detachers.transfer = (ab) => ab.transfer(2 * ab.byteLength);
    const settle = async () => { for (let i = 0; i < 3; i++) { global.gc(); await new Promise(setImmediate); } };
    const newBuffer = (kind) => (kind === 'resize' ? new Uint8Array(new ArrayBuffer(4096, { maxByteLength: 8192 })) : Buffer.alloc(4096));
  `;

  it('preadv2: the data never lands in freed memory (a buffer allocated after the transfer stays untouched)', () => {
    const result = inChild(`${setup}
      (async () => {
        const seen = {};
        for (const kind of Object.keys(detachers)) {
          seen[kind] = { rounds: 0, foreign: 0, delivered: 0 };
          for (let round = 0; round < 40; round++) {
            const target = newBuffer(kind);
            const pending = new Promise((resolve) => raw.preadv2(fd, target, -1, 0, (errno, bytes) => resolve({ errno, bytes })));
            detachers[kind](target.buffer);
            await settle();
            const fresh = Array.from({ length: 64 }, () => Buffer.alloc(4096));
            fs.writeSync(fd, Buffer.alloc(4096, 0xab));
            const { errno, bytes } = await pending;
            if (errno !== 0 || bytes !== 4096) throw new Error('read ended with ' + errno + ', ' + bytes);
            seen[kind].rounds++;
            seen[kind].foreign += fresh.filter((b) => b.includes(0xab)).length;
            seen[kind].delivered += target.includes(0xab) ? 1 : 0;
          }
        }
        done(seen);
      })();`) as Record<string, { rounds: number; foreign: number; delivered: number }>;
    console.log(`[hostile-buffers] detach during preadv2: ${JSON.stringify(result)}`);
    for (const [kind, seen] of Object.entries(result)) {
      expect(seen, kind).toEqual({ rounds: 40, foreign: 0, delivered: 0 });
    }
  });

  it('pwritev2: the call completes and the process goes on (the bytes written for a detached buffer are unspecified)', () => {
    const result = inChild(`${setup}
      const readExactly = (n) => { const into = Buffer.alloc(n); for (let got = 0; got < n; ) got += fs.readSync(fd, into, got, n - got); return into; };
      (async () => {
        const outcomes = [];
        for (const kind of Object.keys(detachers)) {
          for (let round = 0; round < 10; round++) {
            fs.writeSync(fd, Buffer.alloc(65536)); // a full pipe: the next write waits for room
            const source = newBuffer(kind);
            const pending = new Promise((resolve) => raw.pwritev2(fd, [source, Buffer.alloc(16, 1)], -1, 0, (errno, bytes) => resolve({ errno, bytes })));
            detachers[kind](source.buffer);
            await settle();
            Array.from({ length: 64 }, () => Buffer.alloc(4096, 0xcd));
            readExactly(65536);
            const { errno, bytes } = await pending;
            const tail = readExactly(bytes).subarray(-16);
            outcomes.push(errno === 0 ? 'ok ' + bytes + ' ' + tail.every((b) => b === 1) : 'errno ' + errno);
          }
        }
        done([...new Set(outcomes)]);
      })();`) as string[];
    console.log(`[hostile-buffers] detach during pwritev2: ${JSON.stringify(result)}`);
    expect(result.every((o) => o === 'ok 4112 true' || o.startsWith('errno 14'))).toBe(true);
  });
});
