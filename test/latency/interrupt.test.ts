// Ctrl-C in the middle of a run: the CLI (dist/cli.js, a child here) must leave no run
// directory, worker process or memory cgroup behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testFs } from '../helpers/fs';
import { memcgUnavailableReason } from '../../src/lab/memcg';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const MEMCG_ROOT = '/sys/fs/cgroup/memory';

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
const runDirs = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('.dontcache-lab.'));
const groupsOf = (pid: number) => (fs.existsSync(MEMCG_ROOT) ? fs.readdirSync(MEMCG_ROOT).filter((n) => n.startsWith(`dontcache-lab.${pid}.`)) : []);

async function until<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const target = testFs('ext4');
if (!target.dir) console.warn(`[latency tests] skipping interrupt test: ${target.skip}`);

describe.skipIf(!target.dir || !fs.existsSync(CLI))('an interrupted bench', () => {
  it('removes its files, workers and cgroups', async () => {
    const dir = target.dir!;
    const memcg = memcgUnavailableReason() === undefined;
    // memcg when it can (a cgroup exists while its trial runs), else noisy-neighbour (two workers).
    const scenario = memcg ? 'memcg' : 'noisy-neighbour';
    const cli = spawn(process.execPath, [CLI, 'bench', dir, '--size', '512M', '--trials', '20', '--scenarios', scenario, '--no-warmup', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    cli.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => cli.on('exit', (code, signal) => resolve({ code, signal })));
    const pid = cli.pid!;

    const workers = await until('a worker', () => childrenOf(pid).length > 0 && childrenOf(pid));
    await until('files in the run directory', () => runDirs(dir).some((d) => fs.readdirSync(path.join(dir, d)).length > 0));
    if (memcg) await until('the memory cgroup', () => groupsOf(pid).length > 0);

    cli.kill('SIGINT');
    // A CLI that does not exit after cleaning up (a leaked timer or handle) fails here, killed.
    const timer = setTimeout(() => cli.kill('SIGKILL'), 30_000);
    const ended = await exited;
    clearTimeout(timer);
    // After its cleanup the CLI ends by the signal, as interrupted programs do (a shell shows 130).
    expect(ended, stderr).toEqual({ code: null, signal: 'SIGINT' });
    expect(stderr).toContain('interrupted');
    expect(runDirs(dir)).toEqual([]);
    for (const worker of workers) expect(alive(worker), `worker ${worker}`).toBe(false);
    expect(groupsOf(pid)).toEqual([]);
  });
});
