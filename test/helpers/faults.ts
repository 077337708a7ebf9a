// Real faults for tests: child Node processes run under strace (syscall fault
// injection) or prlimit (a file-size limit), so that a crash, an abort or a
// signal ends the child and not the test runner.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The package root (where dist/ and the addon live). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
/** Child fixtures (plain CommonJS) that load the built package from dist/. */
export const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'reliability', 'fixtures');

/** Why the built package cannot be loaded by a child, or undefined when it can. */
export function distUnavailableReason(): string | undefined {
  const entry = path.join(PACKAGE_ROOT, 'dist', 'index.js');
  return fs.existsSync(entry) ? undefined : `dist/ is not built: run \`npm run compile:ts\` first`;
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').concat('/usr/bin', '/bin', '/usr/sbin', '/sbin')
    .some((dir) => fs.existsSync(path.join(dir, name)));
}

/** Why syscall fault injection is not possible here, or undefined when it is. */
export function straceUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'strace fault injection needs Linux';
  if (!onPath('strace')) return 'strace is not installed (apt-get install strace)';
  return distUnavailableReason();
}

/** Why prlimit cannot be used, or undefined when it can. */
export function prlimitUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'prlimit needs Linux';
  if (!onPath('prlimit')) return 'prlimit is not installed (util-linux)';
  return distUnavailableReason();
}

/** One strace fault: `syscall:error=EIO:when=3` style, see strace(1) `-e inject`. */
export interface Injection {
  syscall: string;
  /** An errno name (EIO, EINTR, ...) to fail the call with; the call is not made. */
  error?: string;
  /** A bogus success value to return instead of making the call (strace `retval=`). */
  retval?: number;
  /** Which invocations of the syscall, per thread: `3`, `3+`, `2..4`, `1+2`. */
  when?: string;
}

export interface ChildOptions {
  /** Faults injected with `strace -f -e inject=...`. */
  inject?: Injection[];
  /** RLIMIT_FSIZE for the child in bytes (`prlimit --fsize=N`): writes past it fail with EFBIG. */
  fsize?: number;
  env?: NodeJS.ProcessEnv;
  execArgv?: string[];
  timeoutMs?: number;
}

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The JSON the fixture printed on its last stdout line starting with RESULT. */
  result?: unknown;
}

/**
 * The strace command line prefix for `inject`. strace keeps one injection per
 * syscall (a later `-e inject` replaces an earlier one), so each syscall may appear once.
 */
export function straceArgs(inject: Injection[]): string[] {
  const traced = [...new Set(inject.map((i) => i.syscall))];
  if (traced.length !== inject.length) throw new Error('strace applies only one injection per syscall');
  const args = ['strace', '-f', '-qq', '-o', '/dev/null', '-e', `trace=${traced.join(',')}`];
  for (const i of inject) {
    let spec = i.syscall;
    if (i.error !== undefined) spec += `:error=${i.error}`;
    if (i.retval !== undefined) spec += `:retval=${i.retval}`;
    if (i.when !== undefined) spec += `:when=${i.when}`;
    args.push('-e', `inject=${spec}`);
  }
  return args;
}

// A fuzzed write to fd 1 or 2 can put gigabytes into the child's output files, more than
// one JavaScript string holds; what the tests read (the RESULT line, messages) is at the end.
const OUTPUT_TAIL = 16 * 1024 * 1024;

/** The last OUTPUT_TAIL bytes of `file`, as text. */
function tailOf(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, OUTPUT_TAIL);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Runs `node fixture args...` (fixture relative to test/reliability/fixtures) in a
 * child, under strace and/or prlimit when asked, and returns how it ended.
 */
export function runNodeChild(fixture: string, args: string[], options: ChildOptions = {}): ChildResult {
  const node = [process.execPath, ...(options.execArgv ?? []), path.join(FIXTURES, fixture), ...args];
  let command = node;
  if (options.inject?.length) command = [...straceArgs(options.inject), ...command];
  if (options.fsize !== undefined) command = ['prlimit', `--fsize=${options.fsize}`, '--', ...command];
  // The child's stdout and stderr go to files, not pipes: libuv's pipes are sockets,
  // and a fuzzed read of fd 1 or 2 would wait on them forever; a read of a file opened
  // for writing fails with EBADF instead. stdin is /dev/null (reads EOF).
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dontcache-child.'));
  const outFile = path.join(outDir, 'stdout');
  const errFile = path.join(outDir, 'stderr');
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  let spawned;
  try {
    spawned = spawnSync(command[0], command.slice(1), {
      stdio: ['ignore', out, err],
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  const child = { ...spawned, stdout: tailOf(outFile), stderr: tailOf(errFile) };
  fs.rmSync(outDir, { recursive: true, force: true });
  if (child.error) throw child.error;
  const line = child.stdout.split('\n').reverse().find((l) => l.startsWith('RESULT '));
  return {
    status: child.status,
    signal: child.signal,
    stdout: child.stdout,
    stderr: child.stderr,
    result: line === undefined ? undefined : JSON.parse(line.slice('RESULT '.length)),
  };
}

/** Like runNodeChild, but throws with the child's output unless it exited 0 with a result. */
export function runNodeChildOk<T>(fixture: string, args: string[], options: ChildOptions = {}): T {
  const child = runNodeChild(fixture, args, options);
  if (child.status !== 0 || child.result === undefined) {
    throw new Error(
      `child ${fixture} ended with status ${child.status} signal ${child.signal}\n` +
        `--- stdout\n${child.stdout.slice(-4000)}\n--- stderr\n${child.stderr.slice(-8000)}`,
    );
  }
  return child.result as T;
}
