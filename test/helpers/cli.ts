// The `dontcache` CLI as users run it: node dist/cli.js in a child process, built
// from the current sources first.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const PACKAGE_ROOT = path.join(__dirname, '..', '..');
export const CLI = path.join(PACKAGE_ROOT, 'dist', 'cli.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Bytes for the child's standard input (a pipe); default: none (EOF). */
  input?: Buffer | string;
  /** A file descriptor to give the child as standard input instead. */
  stdinFd?: number;
  /** Command words put in front (e.g. strace ...). */
  prefix?: string[];
}

/** The environment without colour settings vitest may add. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { FORCE_COLOR, NO_COLOR, ...base } = process.env;
  void FORCE_COLOR;
  void NO_COLOR;
  return { ...base, ...extra };
}

/** Starts `dontcache args...`; stdout and stderr are piped. */
export function spawnCli(args: string[], options: CliOptions = {}): ChildProcess {
  const command = [...(options.prefix ?? []), process.execPath, CLI, ...args];
  return spawn(command[0], command.slice(1), {
    env: cleanEnv(options.env),
    stdio: [options.stdinFd ?? 'pipe', 'pipe', 'pipe'],
  });
}

/** Collects a started child's output and how it ended. */
export function outcome(child: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `dontcache args...` to the end. */
export function cli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const child = spawnCli(args, options);
  const done = outcome(child);
  if (child.stdin) {
    child.stdin.on('error', () => undefined); // the CLI may exit without reading it all
    child.stdin.end(options.input ?? '');
  }
  return done;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Rebuilds dist/ when a source under src/ is newer than dist/cli.js (use in beforeAll). */
export function ensureCliBuilt(): void {
  const built = fs.existsSync(CLI) ? fs.statSync(CLI).mtimeMs : 0;
  if (built < newestSource(path.join(PACKAGE_ROOT, 'src'))) {
    execFileSync('npm', ['run', 'compile:ts'], { cwd: PACKAGE_ROOT, stdio: 'pipe' });
  }
}
