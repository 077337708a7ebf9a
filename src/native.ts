import path from 'node:path';
import { systemError, ENOSYS } from './errors';

/** Called on the main thread when an asynchronous native operation ends. */
export type NativeCallback = (errno: number, bytes: number, ns: number, calls: number, ...extra: number[]) => void;

export type Buffers = NodeJS.ArrayBufferView | readonly NodeJS.ArrayBufferView[];
export type Position = number | bigint | null;

/**
 * What a raw `*Sync` function returns: the byte count when it succeeded and has no
 * extra numbers, else a Float64Array `[errno, bytes, ns, calls, ...extra]` (errno 0 on success).
 */
export type SyncOutcome = number | Float64Array;

/**
 * The addon's raw surface (native/binding.cc). It checks every argument itself, in Node's
 * order, callbacks included. An async function calls `cb`, or `complete` when given (the
 * package's callback forms pass the caller's callback for the check and their own
 * translating function to be called).
 */
export interface NativeBinding {
  pwritev2(fd: number, buffers: Buffers, position: Position, flags: number, cb: unknown, complete?: NativeCallback): void;
  pwritev2Sync(fd: number, buffers: Buffers, position: Position, flags: number): SyncOutcome;
  preadv2(fd: number, buffers: Buffers, position: Position, flags: number, cb: unknown, complete?: NativeCallback): void;
  preadv2Sync(fd: number, buffers: Buffers, position: Position, flags: number): SyncOutcome;
  fsync(fd: number, dataOnly: boolean, cb: NativeCallback): void;
  fsyncSync(fd: number, dataOnly: boolean): SyncOutcome;
  syncFileRange(fd: number, offset: number | bigint, nbytes: number | bigint, flags: number, cb: NativeCallback): void;
  syncFileRangeSync(fd: number, offset: number | bigint, nbytes: number | bigint, flags: number): SyncOutcome;
  fadvise(fd: number, offset: number | bigint, length: number | bigint, advice: number, cb: NativeCallback): void;
  fadviseSync(fd: number, offset: number | bigint, length: number | bigint, advice: number): SyncOutcome;
  cachestat(fd: number, offset: number | bigint, length: number | bigint, cb: NativeCallback): void;
  cachestatSync(fd: number, offset: number | bigint, length: number | bigint): SyncOutcome;
  residency(fd: number, offset: number | bigint, length: number | bigint, cb: NativeCallback): void;
  residencySync(fd: number, offset: number | bigint, length: number | bigint): SyncOutcome;
  alignmentOffset(view: NodeJS.ArrayBufferView, alignment: number): number;
  constants: Record<string, number>;
}

export interface LoadedBinding {
  binding: NativeBinding;
  /** True when the real addon is loaded (Linux); false for the stand-in. */
  supported: boolean;
  /** Path of the loaded `.node` file, or why there is none. */
  source: string;
}

const packageRoot = path.join(__dirname, '..');

function loadAddon(): { binding: NativeBinding; source: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { (dir: string): unknown; resolve(dir: string): string };
  const source = nodeGypBuild.resolve(packageRoot);
  return { binding: nodeGypBuild(packageRoot) as NativeBinding, source };
}

/**
 * A binding whose every function throws ENOSYS: what non-Linux platforms get, so
 * that the package still installs and imports there.
 */
export function unsupportedBinding(platform: string): NativeBinding {
  const hint = `dontcache needs Linux; this platform is ${platform}`;
  const stub = (name: string) => () => {
    throw systemError(ENOSYS, name, { hint });
  };
  const names = [
    'pwritev2', 'pwritev2Sync', 'preadv2', 'preadv2Sync', 'fsync', 'fsyncSync', 'syncFileRange',
    'syncFileRangeSync', 'fadvise', 'fadviseSync', 'cachestat', 'cachestatSync', 'residency',
    'residencySync', 'alignmentOffset',
  ];
  const binding = Object.fromEntries(names.map((name) => [name, stub(name.replace(/Sync$/, ''))]));
  return { ...binding, constants: {} } as unknown as NativeBinding;
}

/** Loads the addon on Linux; elsewhere returns the ENOSYS stand-in. */
export function loadBinding(platform: string = process.platform, load = loadAddon): LoadedBinding {
  if (platform !== 'linux') {
    return { binding: unsupportedBinding(platform), supported: false, source: `unsupported platform ${platform}` };
  }
  const { binding, source } = load();
  return { binding, supported: true, source };
}

export const loaded = loadBinding();
export const binding = loaded.binding;
