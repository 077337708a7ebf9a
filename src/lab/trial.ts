/**
 * Runs one trial: forks the worker processes of a plan (the writer, maybe a
 * neighbour), puts the writer in its memory cgroup, starts them together, samples
 * /proc/meminfo while they run and collects their outcomes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MeminfoPeaks, type MemSample } from './meminfo';
import { attachToMemcg, createMemcg, removeMemcg } from './memcg';
import type { LabResources } from './resources';
import type { ChurnJob, FromWorker, Job, JobOutcome, ToWorker, WriterJob, WriterOutcome } from './job-types';

/** What one trial runs. */
export interface TrialPlan {
  main: WriterJob;
  /** Runs at the same time: a buffered writer (noisy-neighbour) or a churner (temp-file). */
  companion?: WriterJob | ChurnJob;
  /** Put the writer in a memory cgroup with this limit. */
  memcgLimitBytes?: number;
}

export interface TrialOutcome {
  main: WriterOutcome;
  companion?: JobOutcome;
  /** Peak growth of Dirty/Writeback/Cached while the trial ran, bytes. */
  memory: MemSample;
}

/** The compiled worker: next to this module in dist/, or dist/lab when running from src/ (tests). */
export function workerPath(): string {
  const here = path.join(__dirname, 'worker.js');
  return fs.existsSync(here) ? here : path.join(__dirname, '..', '..', 'dist', 'lab', 'worker.js');
}

/** A forked worker, driven by messages. */
class Worker {
  readonly child: ChildProcess;
  private readonly messages: FromWorker[] = [];
  private waiting: ((m: FromWorker) => void) | undefined;
  private exited: string | undefined;

  constructor(job: Job, resources: LabResources) {
    const threads = job.kind === 'writer' ? Math.max(4, job.files.length + 2) : 4;
    this.child = fork(workerPath(), [], {
      execArgv: [],
      env: { ...process.env, UV_THREADPOOL_SIZE: String(threads) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    resources.track(this.child);
    let stderr = '';
    this.child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    this.child.on('message', (m: FromWorker) => this.deliver(m));
    this.child.on('exit', (code, signal) => {
      this.exited = `worker exited (${signal ?? code})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`;
      this.deliver({ type: 'error', message: this.exited });
    });
    this.child.on('error', (error) => this.deliver({ type: 'error', message: error.message }));
    this.send({ type: 'job', job });
  }

  private deliver(message: FromWorker): void {
    const waiter = this.waiting;
    this.waiting = undefined;
    if (waiter) waiter(message);
    else this.messages.push(message);
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  /** The next message; rejects on an error message. */
  async next(): Promise<FromWorker> {
    const message = this.messages.shift() ?? (await new Promise<FromWorker>((resolve) => (this.waiting = resolve)));
    if (message.type === 'error') {
      const error = new Error(message.message) as NodeJS.ErrnoException;
      if (message.code) error.code = message.code;
      throw error;
    }
    return message;
  }

  async expect<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    const message = await this.next();
    if (message.type !== type) throw new Error(`worker said ${message.type}, expected ${type}`);
    return message as Extract<FromWorker, { type: T }>;
  }

  exit(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
    });
  }
}

/** Runs `plan` once; rejects with the writer's (or companion's) error. Workers and cgroup are always gone after. */
export async function runTrial(plan: TrialPlan, resources: LabResources): Promise<TrialOutcome> {
  let group: string | undefined;
  const workers: Worker[] = [];
  let ok = false;
  const peaks = new MeminfoPeaks();
  try {
    const main = new Worker(plan.main, resources);
    workers.push(main);
    if (plan.memcgLimitBytes !== undefined) {
      group = createMemcg(plan.memcgLimitBytes);
      resources.cgroups.add(group);
      attachToMemcg(group, main.child.pid!);
    }
    const companion = plan.companion ? new Worker(plan.companion, resources) : undefined;
    if (companion) workers.push(companion);
    await Promise.all(workers.map((w) => w.expect('ready')));
    peaks.start();
    workers.forEach((w) => w.send({ type: 'go' }));
    const mainDone = await main.expect('done');
    let companionOutcome: JobOutcome | undefined;
    if (companion) {
      if (plan.companion?.kind === 'churn') companion.send({ type: 'stop' });
      companionOutcome = (await companion.expect('done')).outcome;
    }
    const memory = peaks.stop();
    ok = true;
    return { main: mainDone.outcome as WriterOutcome, companion: companionOutcome, memory };
  } finally {
    peaks.stop();
    // After success the workers remove their files and exit on their own; give them time.
    if (ok) await Promise.race([Promise.all(workers.map((w) => w.exit())), new Promise((r) => setTimeout(r, 10_000).unref())]);
    for (const w of workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    }
    await Promise.all(workers.map((w) => w.exit()));
    if (!ok && !plan.main.keepFiles) for (const file of plan.main.files) fs.rmSync(file, { force: true });
    if (group) {
      removeMemcg(group);
      resources.cgroups.delete(group);
    }
  }
}
