import { getSystemErrorMap } from 'node:util';

/** A Node-style system error, shaped like the ones `node:fs` throws. */
export interface SystemError extends Error {
  /** Negative errno, as in Node (`-9` for EBADF). */
  errno: number;
  /** libuv's name of the error, as in Node (`'EBADF'`, `'ENOTSUP'` for EOPNOTSUPP). */
  code: string;
  syscall: string;
  path?: string;
  /** For writes: bytes written (and on disk as far as the kernel said) before the error. */
  bytesWritten?: number;
}

export interface SystemErrorDetails {
  path?: string;
  bytesWritten?: number;
  /** Appended to the message in parentheses: what this error usually means here. */
  hint?: string;
}

let errorMap: Map<number, [string, string]> | undefined;

// libuv describes errno 95 (EOPNOTSUPP, which Linux also uses for ENOTSUP) as
// "operation not supported on socket"; every syscall here works on files, where the
// kernel's own text, strerror's "Operation not supported", is the right one.
const DESCRIPTIONS = new Map<number, string>([[-95, 'operation not supported']]);

/** Builds the error Node's fs would build for `errno` (positive or negative) from `syscall`. */
export function systemError(errno: number, syscall: string, details: SystemErrorDetails = {}): SystemError {
  errorMap ??= getSystemErrorMap();
  const negative = -Math.abs(errno);
  const [code, libuvDescription] = errorMap.get(negative) ?? [`Unknown system error ${negative}`, `unknown error ${negative}`];
  const description = DESCRIPTIONS.get(negative) ?? libuvDescription;
  let message = `${code}: ${description}, ${syscall}`;
  if (details.path !== undefined) message += ` '${details.path}'`;
  if (details.hint !== undefined) message += ` (${details.hint})`;
  const error = new Error(message) as SystemError;
  error.errno = negative;
  error.code = code;
  error.syscall = syscall;
  if (details.path !== undefined) error.path = details.path;
  if (details.bytesWritten !== undefined) error.bytesWritten = details.bytesWritten;
  Error.captureStackTrace(error, systemError);
  return error;
}

export const ENOSYS = 38;
export const EOPNOTSUPP = 95;
