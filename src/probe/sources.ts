// Reading the detection sources of this machine (the impure half of evidence.ts).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { kallsymsEvidence, tracefsEvidence, unavailable } from './evidence';
import type { Evidence } from './types';

const run = promisify(execFile);

/** Where tracefs lives: its own mount point, or the old place under debugfs. */
export const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const FORMAT = 'events/writeback/writeback_start/format';

async function readFirst(files: string[]): Promise<string | undefined> {
  for (const file of files) {
    try {
      return await readFile(file, 'utf8');
    } catch {
      /* try the next place */
    }
  }
  return undefined;
}

/**
 * The tracefs evidence. With `mount` (root), mounts tracefs on /sys/kernel/tracing when
 * the format is not readable, and unmounts what it mounted.
 */
export async function tracefsSource(mount = false): Promise<Evidence> {
  const formats = TRACEFS_DIRS.map((dir) => path.join(dir, FORMAT));
  const text = await readFirst(formats);
  if (text !== undefined) return tracefsEvidence(text);
  if (!mount) return unavailable('tracefs', 'tracefs is not mounted (ask to mount it: mountTracefs / --mount-tracefs)');
  const dir = TRACEFS_DIRS[0];
  try {
    await run('mount', ['-t', 'tracefs', 'nodev', dir]);
  } catch (error) {
    return unavailable('tracefs', `cannot mount tracefs on ${dir}: ${firstLine(error)}`);
  }
  try {
    const mounted = await readFirst([formats[0]]);
    return mounted === undefined ? unavailable('tracefs', 'writeback_start event not found in tracefs') : tracefsEvidence(mounted);
  } finally {
    await run('umount', [dir]).catch(() => undefined);
  }
}

/** The kallsyms evidence from /proc/kallsyms (names are listed also when addresses are hidden). */
export async function kallsymsSource(): Promise<Evidence> {
  try {
    return kallsymsEvidence(await readFile('/proc/kallsyms', 'utf8'));
  } catch (error) {
    return unavailable('kallsyms', `cannot read /proc/kallsyms: ${firstLine(error)}`);
  }
}

function firstLine(error: unknown): string {
  const e = error as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(error)).trim().split('\n')[0];
}
