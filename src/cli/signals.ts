// Ctrl-C (SIGINT) and SIGTERM for commands that create things they must remove.
import os from 'node:os';

export type Interrupt = 'SIGINT' | 'SIGTERM';

/** The exit status of a command ended by `signal`, as shells report it: 130, 143. */
export function interruptExit(signal: Interrupt): number {
  return 128 + os.constants.signals[signal];
}

export type Interruptible<T> = { value: T; signal?: undefined } | { signal: Interrupt };

/**
 * Runs `work` with SIGINT and SIGTERM caught. The first one aborts the AbortSignal
 * handed to `work` and lets it settle, so that its own cleanup (finally blocks that
 * remove files, workers, mounts) runs; a second one ends the process at once, by that
 * signal's default action. Resolves with the work's value, or with the signal when
 * one came (the work's rejection then is the abort, not news).
 */
export async function interruptible<T>(work: (abort: AbortSignal) => Promise<T>, onFirst?: (signal: Interrupt) => void): Promise<Interruptible<T>> {
  const controller = new AbortController();
  let received: Interrupt | undefined;
  const handler = (signal: Interrupt) => {
    if (received !== undefined) {
      stop();
      process.kill(process.pid, signal);
      return;
    }
    received = signal;
    onFirst?.(signal);
    controller.abort();
  };
  const stop = () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    const value = await work(controller.signal);
    return received === undefined ? { value } : { signal: received };
  } catch (error) {
    if (received !== undefined) return { signal: received };
    throw error;
  } finally {
    stop();
  }
}
