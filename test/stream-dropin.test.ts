// The drop-in contract, checked side by side with node:fs's own streams of the Node
// version running the tests: FileHandle lifetime, the `fs` option, option errors,
// paths, constructors, 'drain', short reads, typed events.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import util from 'node:util';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { FallbackEvent } from '../src/stream-options';
import {
  DontcacheReadStream, createDontcacheReadStream, type DontcacheReadStreamOptions,
} from '../src/read-stream';
import {
  DontcacheWriteStream, createDontcacheWriteStream, type DontcacheWriteStreamOptions,
} from '../src/write-stream';
import { KEEP_DESCRIPTOR_OPEN } from '../src/stream-file';
import { cleanupTempFiles, tempPath, testFs } from './helpers/fs';

afterAll(cleanupTempFiles);

const ext4 = testFs('ext4');
const dir = () => ext4.dir ?? path.dirname(tempPath());
const closeOf = (stream: NodeJS.EventEmitter) => new Promise<void>((resolve) => stream.once('close', () => resolve()));
const tick = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

type MakeWrite = (path: any, options?: any) => Writable;
type MakeRead = (path: any, options?: any) => Readable;
const writers: [string, MakeWrite][] = [['fs', fs.createWriteStream as MakeWrite], ['dontcache', createDontcacheWriteStream as MakeWrite]];
const readers: [string, MakeRead][] = [['fs', fs.createReadStream as MakeRead], ['dontcache', createDontcacheReadStream as MakeRead]];

/** Whether `descriptor` is open right now. */
function isOpen(descriptor: number): boolean {
  try {
    fs.fstatSync(descriptor);
    return true;
  } catch {
    return false;
  }
}

/** Tries to transfer a FileHandle through a MessagePort: 'ok' or the error's name. */
function transfer(handle: fsp.FileHandle): string {
  const { port1, port2 } = new MessageChannel();
  try {
    port1.postMessage(handle, [handle as never]);
    return 'ok';
  } catch (error) {
    return (error as Error).name;
  } finally {
    port1.close();
    port2.close();
  }
}

describe('FileHandle lifetime, as fs streams', () => {
  /** The sequence: write, the owner closes the handle, another file gets a descriptor, write again. */
  async function ownerClosesWhileWriting(make: MakeWrite) {
    const a = tempPath(dir());
    const b = tempPath(dir());
    const handle = await fsp.open(a, 'w');
    const number = handle.fd;
    const stream = make(null, { fd: handle });
    const events: string[] = [];
    stream.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code}`));
    stream.on('finish', () => events.push('finish'));
    const closed = closeOf(stream);
    await new Promise<void>((resolve) => stream.write('first', () => resolve()));
    await handle.close();
    events.push('handle closed');
    const other = fs.openSync(b, 'w');
    const reused = other === number;
    const second = await new Promise<string>((resolve) => stream.write('second', (e) => resolve(String((e as NodeJS.ErrnoException)?.code))));
    stream.end();
    await closed;
    fs.closeSync(other);
    return { events, second, reused, a: fs.readFileSync(a, 'utf8'), b: fs.readFileSync(b, 'utf8') };
  }

  it("write stream: the owner's close() ends the stream; later writes fail and never reach a reused descriptor", async () => {
    const ours = await ownerClosesWhileWriting(createDontcacheWriteStream as MakeWrite);
    expect(ours).toMatchObject({ second: 'ERR_STREAM_WRITE_AFTER_END', a: 'first', b: '' });
    expect(ours.events.slice(0, 2)).toEqual(['finish', 'handle closed']);
    expect(ours).toEqual({ ...(await ownerClosesWhileWriting(fs.createWriteStream as MakeWrite)), reused: ours.reused });
  });

  async function ownerClosesWhileReading(make: MakeRead) {
    const a = tempPath(dir());
    const b = tempPath(dir());
    fs.writeFileSync(a, 'A'.repeat(100));
    fs.writeFileSync(b, 'B'.repeat(100));
    const handle = await fsp.open(a, 'r');
    const stream = make(null, { fd: handle, highWaterMark: 10 });
    const closed = closeOf(stream);
    const got: string[] = [];
    await new Promise((resolve) => stream.once('readable', resolve));
    got.push(String(stream.read()));
    await handle.close();
    const other = fs.openSync(b, 'r');
    stream.on('data', (chunk) => got.push(String(chunk)));
    await closed;
    await tick();
    fs.closeSync(other);
    return { got: got.join(''), destroyed: stream.destroyed };
  }

  it("read stream: the owner's close() closes the stream; nothing is read from a reused descriptor", async () => {
    const ours = await ownerClosesWhileReading(createDontcacheReadStream as MakeRead);
    expect(ours.got).not.toContain('B');
    expect(ours).toEqual(await ownerClosesWhileReading(fs.createReadStream as MakeRead));
  });

  it('the descriptor stays open until the stream is done with it; the handle cannot be transferred meanwhile', async () => {
    const file = tempPath(dir());
    const handle = await fsp.open(file, 'w');
    const number = handle.fd;
    const stream = createDontcacheWriteStream(null, { fd: handle });
    expect(transfer(handle)).toBe('DataCloneError');
    stream.write(Buffer.alloc(1 << 20, 7));
    const closing = handle.close();
    // close() only let go of the owner's reference: the stream's write still lands.
    expect(isOpen(number)).toBe(true);
    await closing;
    expect(handle.fd).toBe(-1);
    expect(stream.closed).toBe(true);
    expect(fs.statSync(file).size).toBe(1 << 20);
    // A handle no stream holds transfers (so the refusal above was the stream's doing).
    const free = await fsp.open(file, 'r');
    expect(transfer(free)).toBe('ok');
  });

  it('one handle given to a write and a read stream: each holds it; closing the handle closes both', async () => {
    const file = tempPath(dir());
    fs.writeFileSync(file, 'x'.repeat(1000));
    const results: Record<string, unknown> = {};
    for (const [name, makeWrite, makeRead] of [
      ['fs', fs.createWriteStream, fs.createReadStream],
      ['dontcache', createDontcacheWriteStream, createDontcacheReadStream],
    ] as [string, MakeWrite, MakeRead][]) {
      const handle = await fsp.open(file, 'r+');
      const number = handle.fd;
      const ws = makeWrite(null, { fd: handle, start: 0 });
      const rs = makeRead(null, { fd: handle, start: 500 });
      const both = Promise.all([closeOf(ws), closeOf(rs)]);
      ws.write('ab');
      const transferable = transfer(handle);
      await handle.close();
      await both;
      results[name] = { transferable, open: isOpen(number) && fs.readlinkSync(`/proc/self/fd/${number}`) === file, fd: handle.fd };
    }
    expect(results.dontcache).toEqual({ transferable: 'DataCloneError', open: false, fd: -1 });
    expect(results.dontcache).toEqual(results.fs);
    expect(fs.readFileSync(file, 'utf8').slice(0, 3)).toBe('abx');
  });

  it('autoClose false: the handle stays open after finish; destroy() closes it (as fs.WriteStream)', async () => {
    const outcome: Record<string, unknown> = {};
    for (const [name, make] of writers) {
      const handle = await fsp.open(tempPath(dir()), 'w');
      const stream = make(null, { fd: handle, autoClose: false });
      await new Promise<void>((resolve) => stream.end('data', () => resolve()));
      await tick();
      const afterFinish = handle.fd >= 0 && !stream.destroyed;
      const transferable = transfer(handle);
      const closed = closeOf(stream);
      stream.destroy();
      await closed;
      await tick();
      outcome[name] = { afterFinish, transferable, afterDestroy: handle.fd };
    }
    expect(outcome.dontcache).toEqual({ afterFinish: true, transferable: 'DataCloneError', afterDestroy: -1 });
    expect(outcome.dontcache).toEqual(outcome.fs);
  });

  it('a descriptor number with autoClose false is closed by destroy(), as with fs streams', async () => {
    const outcome: Record<string, boolean[]> = {};
    for (const [name, make] of writers) {
      const fd = fs.openSync(tempPath(dir()), 'w');
      const stream = make(null, { fd, autoClose: false });
      await new Promise<void>((resolve) => stream.end('x', () => resolve()));
      const afterFinish = isOpen(fd);
      const closed = closeOf(stream);
      stream.destroy();
      await closed;
      outcome[name] = [afterFinish, isOpen(fd)];
    }
    expect(outcome.dontcache).toEqual([true, false]);
    expect(outcome.dontcache).toEqual(outcome.fs);
  });
});

describe('the fs option', () => {
  it('KEEP_DESCRIPTOR_OPEN: destroy() leaves a caller-owned descriptor open; pwritev2 and the strategies stay', async () => {
    const file = tempPath(dir());
    const fd = fs.openSync(file, 'w');
    const stream = createDontcacheWriteStream(null, { fd, autoClose: false, fs: KEEP_DESCRIPTOR_OPEN, cache: 'writeback' });
    await new Promise<void>((resolve) => stream.write('abc', () => resolve()));
    const closed = closeOf(stream);
    stream.destroy();
    await closed;
    expect(isOpen(fd)).toBe(true);
    expect(stream.stats).toMatchObject({ strategy: 'writeback', syscalls: 1 });
    fs.closeSync(fd);
    expect(fs.readFileSync(file, 'utf8')).toBe('abc');
  });


  function spyFs(calls: string[]) {
    return {
      open: (...args: any[]) => (calls.push('open'), Reflect.apply(fs.open, fs, args)),
      close: (...args: any[]) => (calls.push('close'), Reflect.apply(fs.close, fs, args)),
      write: (...args: any[]) => (calls.push('write'), Reflect.apply(fs.write, fs, args)),
      writev: (...args: any[]) => (calls.push('writev'), Reflect.apply(fs.writev, fs, args)),
      fsync: (...args: any[]) => (calls.push('fsync'), Reflect.apply(fs.fsync, fs, args)),
      read: (...args: any[]) => (calls.push('read'), Reflect.apply(fs.read, fs, args)),
    };
  }

  it('custom open/write/writev/fsync/close are used, and the stream is buffered', async () => {
    const file = tempPath(dir());
    const calls: string[] = [];
    const stream = createDontcacheWriteStream(file, { fs: spyFs(calls), flush: true, highWaterMark: 4 });
    const closed = closeOf(stream);
    stream.write('abc');
    stream.write('def');
    stream.write('ghi');
    stream.end('jkl');
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe('abcdefghijkl');
    expect(calls[0]).toBe('open');
    expect(calls).toContain('writev');
    expect(calls.slice(-2)).toEqual(['fsync', 'close']);
    expect(stream.stats.strategy).toBe('buffered');
    expect(stream.bytesWritten).toBe(12);
  });

  it('only write given: chunks go through it; a short write continues at the right byte', async () => {
    const file = tempPath(dir());
    const calls: string[] = [];
    const short = {
      open: fs.open,
      close: fs.close,
      write: (fd: number, buffer: Buffer, offset: number, length: number, position: number | null, cb: (error: NodeJS.ErrnoException | null, written: number, buffer: Buffer) => void) => {
        calls.push(`write ${length}`);
        fs.write(fd, buffer, offset, Math.min(length, 3), position, cb);
      },
    };
    const stream = createDontcacheWriteStream(file, { fs: short });
    const closed = closeOf(stream);
    stream.end('0123456789');
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe('0123456789');
    expect(calls).toEqual(['write 10', 'write 7', 'write 4', 'write 1']);
  });

  it("node:fs's own write/writev (graceful-fs style {...fs, open}) keep pwritev2 and the cache strategies", async () => {
    const file = tempPath(dir());
    const calls: string[] = [];
    const stream = createDontcacheWriteStream(file, { fs: { ...fs, open: spyFs(calls).open }, cache: 'writeback' });
    const closed = closeOf(stream);
    stream.end('abc');
    await closed;
    expect(calls).toEqual(['open']);
    expect(stream.stats).toMatchObject({ strategy: 'writeback', syscalls: 1 });
  });

  it('read stream: custom open/read/close are used', async () => {
    const file = tempPath(dir());
    fs.writeFileSync(file, 'hello world');
    const calls: string[] = [];
    const chunks: Buffer[] = [];
    const stream = createDontcacheReadStream(file, { fs: spyFs(calls), highWaterMark: 4 });
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    await tick();
    expect(Buffer.concat(chunks).toString()).toBe('hello world');
    expect(calls).toEqual(['open', 'read', 'read', 'read', 'read', 'close']);
    expect(stream.stats.strategy).toBe('buffered');
  });

  it('bad fs options throw what fs streams throw', () => {
    const cases: Record<string, unknown>[] = [
      { fs: { open: null } },
      { fs: { open() {}, close() {}, write: null } },
      { fs: { open() {}, write() {}, close: 1 } },
      { fs: { open() {}, write() {}, read() {}, close: 1 }, autoClose: false },
      { fs: { open() {}, close() {}, write() {}, read: 1 } },
      { fs: { open() {}, write() {}, close() {} }, flush: true },
    ];
    const file = tempPath(dir());
    for (const options of cases) {
      expect(codeOf(() => createDontcacheWriteStream(file, options))).toBe(codeOf(() => fs.createWriteStream(file, options)));
      expect(codeOf(() => createDontcacheReadStream(file, options))).toBe(codeOf(() => fs.createReadStream(file, options)));
    }
    expect(codeOf(() => createDontcacheWriteStream(file, { fs: { open: null } } as never))).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('a FileHandle with fs is refused as fs streams refuse it', async () => {
    const handle = await fsp.open(tempPath(dir()), 'w');
    try {
      const options = { fd: handle, fs };
      expect(codeOf(() => createDontcacheWriteStream(null, options as never))).toBe('ERR_METHOD_NOT_IMPLEMENTED');
      expect(codeOf(() => createDontcacheWriteStream(null, options as never))).toBe(codeOf(() => fs.createWriteStream(null as never, options as never)));
      expect(transfer(handle)).toBe('ok');
    } finally {
      await handle.close().catch(() => undefined);
    }
  });
});

/** The code of what `make` throws, or 'ok' (destroying what it made). */
function codeOf(make: () => unknown): string {
  try {
    const stream = make() as Writable | Readable;
    stream.on('error', () => undefined);
    stream.destroy();
    return 'ok';
  } catch (error) {
    return String((error as NodeJS.ErrnoException).code ?? (error as Error).name);
  }
}

describe('options, paths and constructors, as fs streams of this Node version', () => {
  const options: Record<string, unknown> = {
    'flush: null': { flush: null }, 'autoClose: null': { autoClose: null }, 'emitClose: null': { emitClose: null },
    'highWaterMark: null': { highWaterMark: null }, 'mode: null': { mode: null }, 'autoClose: 0': { autoClose: 0 },
    'highWaterMark: 0': { highWaterMark: 0 }, 'signal: null': { signal: null }, 'signal: {}': { signal: {} },
    'encoding: bogus': { encoding: 'bogus' }, 'encoding: null': { encoding: null }, 'flags: null': { flags: null },
    'start: null': { start: null }, 'start: -1': { start: -1 }, 'start: 1.5': { start: 1.5 }, "start: '1'": { start: '1' },
    'end: null': { end: null }, 'end: -1': { end: -1 }, "end: '5'": { end: '5' }, 'start > end': { start: 5, end: 2 },
    'fd: null': { fd: null }, 'fd: -1': { fd: -1 }, "fd: '3'": { fd: '3' }, 'fd: 1.5': { fd: 1.5 }, 'fd: {}': { fd: {} },
    'fd: 2**31': { fd: 2 ** 31 }, 'highWaterMark: -1': { highWaterMark: -1 }, "highWaterMark: 'x'": { highWaterMark: 'x' },
    'highWaterMark: 1.5': { highWaterMark: 1.5 }, "emitClose: 'x'": { emitClose: 'x' }, "autoClose: 'x'": { autoClose: 'x' },
    "flush: 'x'": { flush: 'x' }, "mode: '644'": { mode: '644' }, 'options: 1': 1, "options: 'utf8'": 'utf8',
    "options: 'bogus'": 'bogus', 'options: null': null, 'options: true': true,
  };
  const paths: Record<string, unknown> = {
    '42': 42, null: null, undefined, 'NUL byte': 'a\0b', 'Buffer with NUL': Buffer.from('a\0b'),
    'file URL with %2F': new URL('file:///tmp/a%2Fb'), 'http URL': new URL('http://example.invalid/'), '{}': {}, "''": '',
  };

  it('every option case throws the code fs throws, or nothing when fs throws nothing', () => {
    for (const [kind, ours, theirs] of [
      ['write', createDontcacheWriteStream, fs.createWriteStream],
      ['read', createDontcacheReadStream, fs.createReadStream],
    ] as const) {
      for (const [name, value] of Object.entries(options)) {
        const file = tempPath(dir());
        const expected = codeOf(() => (theirs as (p: string, o: unknown) => unknown)(file, value));
        expect(`${kind} ${name}: ${codeOf(() => (ours as (p: string, o: unknown) => unknown)(file, value))}`).toBe(`${kind} ${name}: ${expected}`);
      }
      for (const [name, value] of Object.entries(paths)) {
        const expected = codeOf(() => (theirs as (p: unknown) => unknown)(value));
        expect(`${kind} path ${name}: ${codeOf(() => (ours as (p: unknown) => unknown)(value))}`).toBe(`${kind} path ${name}: ${expected}`);
      }
    }
  });

  it('the option values fs accepts behave as there: null means the default; autoClose 0 and highWaterMark 0 as in fs', async () => {
    const accepted = { flush: null, autoClose: null, emitClose: null, highWaterMark: null, mode: null, encoding: null };
    const stream = createDontcacheWriteStream(tempPath(dir()), accepted);
    const theirs = fs.createWriteStream(tempPath(dir()), accepted as never) as fs.WriteStream & { autoClose: boolean; flush: boolean };
    expect(stream.writableHighWaterMark).toBe(1024 * 1024);
    expect([stream.autoClose, stream.flush, stream.writableObjectMode]).toEqual([theirs.autoClose, theirs.flush, theirs.writableObjectMode]);
    await new Promise<void>((resolve) => stream.end('x', () => resolve()));
    theirs.end('x');
    await Promise.all([closeOf(stream), closeOf(theirs)]);
    for (const options of [{ autoClose: 0, highWaterMark: 0 }, { autoClose: false }]) {
      const ours = createDontcacheWriteStream(tempPath(dir()), options as never);
      const node = fs.createWriteStream(tempPath(dir()), options as never);
      expect([ours.autoClose, ours.write('a')]).toEqual([(node as unknown as { autoClose: boolean }).autoClose, node.write('a')]);
      if (options.highWaterMark === 0) expect(ours.writableHighWaterMark).toBe(0);
      ours.destroy();
      node.destroy();
      await Promise.all([closeOf(ours), closeOf(node)]);
    }
  });

  it('a Buffer path stays a Buffer: a non-UTF-8 name is created byte for byte', async () => {
    const name = Buffer.concat([Buffer.from(`${dir()}/dontcache-test.${process.pid}.`), Buffer.from([0x66, 0xff])]);
    try {
      const stream = createDontcacheWriteStream(name);
      expect(Buffer.isBuffer(stream.path)).toBe(true);
      expect((stream.path as Buffer).equals(name)).toBe(true);
      await new Promise<void>((resolve) => stream.end('x', () => resolve()));
      await closeOf(stream);
      expect(fs.readFileSync(name, 'utf8')).toBe('x');
      const read = createDontcacheReadStream(name);
      expect(Buffer.isBuffer(read.path)).toBe(true);
      const chunks: Buffer[] = [];
      for await (const chunk of read) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('x');
    } finally {
      fs.rmSync(name, { force: true });
    }
  });

  it('a file: URL goes through url.fileURLToPath', async () => {
    const file = tempPath(dir());
    const stream = createDontcacheWriteStream(new URL(`file://${file}`));
    expect(stream.path).toBe(file);
    stream.destroy();
    await closeOf(stream);
    expect(codeOf(() => createDontcacheWriteStream(new URL('file:///tmp/a%2Fb')))).toBe('ERR_INVALID_FILE_URL_PATH');
  });

  it('the classes can be called without new and subclassed old-style or with class', async () => {
    const file = tempPath(dir());
    fs.writeFileSync(file, '');
    const plain = (DontcacheWriteStream as unknown as (p: string, o?: object) => DontcacheWriteStream)(file);
    expect(plain).toBeInstanceOf(DontcacheWriteStream);
    expect(plain).toBeInstanceOf(Writable);
    expect(plain.constructor).toBe(DontcacheWriteStream);
    plain.destroy();
    const reader = (DontcacheReadStream as unknown as (p: string) => DontcacheReadStream)(file);
    expect(reader).toBeInstanceOf(DontcacheReadStream);
    reader.destroy();

    function Legacy(this: DontcacheWriteStream, p: string, o: DontcacheWriteStreamOptions) {
      DontcacheWriteStream.call(this, p, o);
    }
    util.inherits(Legacy, DontcacheWriteStream);
    const legacy = new (Legacy as unknown as new (p: string, o: DontcacheWriteStreamOptions) => DontcacheWriteStream)(file, { cache: 'buffered' });
    expect(legacy).toBeInstanceOf(DontcacheWriteStream);
    await new Promise<void>((resolve) => legacy.end('legacy', () => resolve()));

    class Modern extends DontcacheReadStream {
      constructor(p: string, o?: DontcacheReadStreamOptions) {
        super(p, o);
      }
    }
    const modern = new Modern(file, { encoding: 'utf8' });
    let text = '';
    for await (const chunk of modern) text += chunk;
    expect(text).toBe('legacy');
  });
});

describe('legacy shapes fs streams still accept', () => {
  it('options inherited through a prototype count (Object.create({...}))', async () => {
    const file = tempPath(dir());
    fs.writeFileSync(file, 'xyz\n');
    const stream = createDontcacheReadStream(file, Object.create({ start: 1, end: 2, encoding: 'utf8' }));
    expect([stream.start, stream.end]).toEqual([1, 2]);
    let text = '';
    for await (const chunk of stream) text += chunk;
    expect(text).toBe('yz');
  });

  it("a subclass's own open() opens the file: 'open' and its 'ready' in one tick, as fs streams", async () => {
    const orders: Record<string, string[]> = {};
    for (const [name, Base] of [['fs', fs.WriteStream], ['dontcache', DontcacheWriteStream]] as const) {
      function Legacy(this: any, ...args: unknown[]) {
        Reflect.apply(Base as unknown as (...a: unknown[]) => void, this, args);
      }
      Object.setPrototypeOf(Legacy.prototype, Base.prototype);
      Legacy.prototype.open = function (this: any) {
        fs.open(this.path, this.flags, this.mode, (error, fd) => {
          if (error) return this.emit('error', error);
          this.fd = fd;
          this.emit('open', fd);
          this.emit('ready');
        });
      };
      const stream = new (Legacy as any)(tempPath(dir())) as Writable & { fd: number };
      const order: string[] = [];
      await new Promise<void>((resolve) => {
        stream.on('open', (fd: number) => {
          order.push(`open ${fd === stream.fd}`);
          process.nextTick(() => order.push('tick'));
        });
        stream.on('ready', () => {
          order.push('ready');
          resolve();
        });
      });
      order.push('ready seen');
      await new Promise<void>((resolve) => stream.end('x', () => resolve()));
      orders[name] = order;
    }
    expect(orders.dontcache.slice(0, 2)).toEqual(['open true', 'ready']);
    expect(orders.dontcache).toEqual(orders.fs);
  });

  it("the deprecated open() (DEP0135) is there exactly where this Node's fs streams have it; autoClose off an instance is ERR_INVALID_THIS", () => {
    expect(typeof (DontcacheWriteStream.prototype as unknown as { open?: unknown }).open).toBe(typeof (fs.WriteStream.prototype as unknown as { open?: unknown }).open);
    expect(typeof (DontcacheReadStream.prototype as unknown as { open?: unknown }).open).toBe(typeof (fs.ReadStream.prototype as unknown as { open?: unknown }).open);
    expect(() => DontcacheWriteStream.prototype.autoClose).toThrow(expect.objectContaining({ code: 'ERR_INVALID_THIS' }));
    expect(() => DontcacheReadStream.prototype.autoClose).toThrow(expect.objectContaining({ code: 'ERR_INVALID_THIS' }));
  });
});

describe('drain and short reads, as fs streams', () => {
  /** hwm 10, 11 writes of 12 bytes, waiting for every 'drain' like a well-behaved producer. */
  async function drainTrace(make: MakeWrite) {
    const stream = make(tempPath(dir()), { highWaterMark: 10 });
    const drains: number[] = [];
    const returns: boolean[] = [];
    stream.on('drain', () => drains.push(stream.writableLength));
    for (let i = 0; i < 11; i++) {
      const ok = stream.write(Buffer.alloc(12));
      returns.push(ok);
      expect(stream.writableNeedDrain).toBe(!ok);
    }
    await new Promise((resolve) => stream.once('drain', resolve));
    await tick();
    const closed = closeOf(stream);
    stream.end();
    await closed;
    return { drains, returns };
  }

  it("one 'drain' per false write(), with nothing left to write", async () => {
    const ours = await drainTrace(createDontcacheWriteStream as MakeWrite);
    expect(ours.drains).toEqual([0]);
    expect(ours).toEqual(await drainTrace(fs.createWriteStream as MakeWrite));
  });

  it('write() and writableNeedDrain agree, whatever the batch in flight', async () => {
    const stream = createDontcacheWriteStream(tempPath(dir()), { highWaterMark: 1000 });
    let drains = 0;
    let falses = 0;
    stream.on('drain', () => drains++);
    for (let i = 0; i < 2000; i++) {
      const ok = stream.write(Buffer.alloc(97));
      expect(stream.writableNeedDrain).toBe(!ok);
      if (!ok) {
        falses++;
        await new Promise((resolve) => stream.once('drain', resolve));
      }
    }
    const closed = closeOf(stream);
    stream.end();
    await closed;
    expect(falses).toBeGreaterThan(0);
    expect(drains).toBe(falses);
  });

  it('a short read is copied: a 170-byte file does not pin a 64 KiB buffer', async () => {
    const file = tempPath(dir());
    fs.writeFileSync(file, Buffer.alloc(170, 1));
    for (const [name, make] of readers) {
      const chunks: Buffer[] = [];
      for await (const chunk of make(file)) chunks.push(chunk as Buffer);
      expect(chunks.map((c) => [c.length, c.buffer.byteLength]), name).toEqual([[170, 170]]);
    }
  });
});

describe('typed events', () => {
  it("'open', 'fallback', 'error' and friends carry their types", () => {
    const ws = createDontcacheWriteStream(tempPath(dir()));
    const rs = createDontcacheReadStream(tempPath(dir()));
    ws.on('open', (fd) => expectTypeOf(fd).toEqualTypeOf<number>());
    ws.once('fallback', (event) => expectTypeOf(event).toEqualTypeOf<FallbackEvent>());
    ws.prependListener('error', (error) => expectTypeOf(error).toEqualTypeOf<Error>());
    ws.addListener('pipe', (source) => expectTypeOf(source).toEqualTypeOf<Readable>());
    rs.on('fallback', (event) => expectTypeOf(event).toEqualTypeOf<FallbackEvent>());
    rs.on('data', (chunk) => expectTypeOf(chunk).toEqualTypeOf<Buffer | string>());
    rs.prependOnceListener('open', (fd) => expectTypeOf(fd).toEqualTypeOf<number>());
    expectTypeOf(ws.on('ready', () => undefined)).toEqualTypeOf<DontcacheWriteStream>();
    expectTypeOf<InstanceType<typeof DontcacheWriteStream>>().toEqualTypeOf<DontcacheWriteStream>();
    expectTypeOf<ReturnType<typeof DontcacheReadStream>>().toEqualTypeOf<DontcacheReadStream>();
    ws.on('error', () => undefined).destroy();
    rs.on('error', () => undefined).destroy();
  });
});
