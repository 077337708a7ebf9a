// Ctrl-C (and SIGTERM, SIGHUP) during a transfer: the first signal aborts the work so
// the command can finish what is in flight and say what it left behind; a second one
// ends the process at once. The command then exits "by the signal" (see cli.ts), so a
// shell loop around it stops too, as it would for cp.
import os from 'node:os';

const WATCHED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface SignalWatch {
  /** Aborted, with an Error whose `code` is 'ERR_INTERRUPTED', at the first signal. */
  readonly signal: AbortSignal;
  /** The signal received, if any. */
  readonly received: NodeJS.Signals | null;
  /** Stops watching (the default actions apply again). */
  dispose(): void;
}

/** An error saying that `signal` interrupted the work. */
export function interruptedError(signal: NodeJS.Signals): Error {
  return Object.assign(new Error(`interrupted by ${signal}`), { code: 'ERR_INTERRUPTED', signal });
}

/** Starts watching for the signals above. Call dispose() when the transfer is over. */
export function watchSignals(): SignalWatch {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const dispose = () => {
    for (const name of WATCHED) process.off(name, onSignal);
  };
  function onSignal(name: NodeJS.Signals): void {
    if (received !== null) {
      // Asked twice: no more cleanup, the default action (the process ends).
      dispose();
      process.kill(process.pid, name);
      return;
    }
    received = name;
    controller.abort(interruptedError(name));
  }
  for (const name of WATCHED) process.on(name, onSignal);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose,
  };
}

/** The exit status a shell shows for death by `signal`: 128 + its number (130 for SIGINT). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + os.constants.signals[signal];
}

/** The signal behind an exit code made by {@link signalExitCode}, if it is one of those watched. */
export function signalOfExitCode(code: number): NodeJS.Signals | undefined {
  return WATCHED.find((name) => signalExitCode(name) === code);
}
