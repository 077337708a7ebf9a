/**
 * Entry of a lab worker process (forked by the runner with an IPC channel): gets one
 * job, prepares it, says ready, runs it on the go, answers with the outcome, exits.
 * If the parent goes away (killed, interrupted), the worker removes its files and exits.
 */
import { prepareWriter, type PreparedWriter } from './writer';
import { runChurn } from './churn';
import type { FromWorker, Job, ToWorker } from './job-types';

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

let prepared: PreparedWriter | undefined;
let job: Job | undefined;
let stopped = false;
let started = false;

function exit(code: number): void {
  prepared?.cleanup();
  prepared = undefined;
  process.disconnect?.();
  process.exit(code);
}

async function start(): Promise<void> {
  if (started || !job) return;
  started = true;
  try {
    const outcome = job.kind === 'writer' ? await prepared!.run() : await runChurn(job, () => stopped);
    await send({ type: 'done', outcome });
    exit(0);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    await send({ type: 'error', message: e.message, code: e.code });
    exit(1);
  }
}

process.on('message', async (message: ToWorker) => {
  if (message.type === 'job') {
    job = message.job;
    try {
      if (job.kind === 'writer') prepared = await prepareWriter(job);
      await send({ type: 'ready' });
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      await send({ type: 'error', message: e.message, code: e.code });
      exit(1);
    }
  } else if (message.type === 'go') {
    void start();
  } else if (message.type === 'stop') {
    stopped = true;
  }
});

// Ctrl-C reaches the whole process group: the parent decides (it kills us and removes
// the run directory), so a worker does not die half-way on its own.
process.on('SIGINT', () => {});

process.on('disconnect', () => {
  stopped = true;
  if (!started || job?.kind === 'writer') exit(1);
});
