// Shared pieces of the reliability fault suites: input files, file checks, error shapes.
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';

export const MiB = 1024 * 1024;

/** An error as a child fixture reports it (JSON of its own properties). */
export interface ErrorShape {
  name: string;
  code: string;
  errno: number;
  syscall: string;
  bytesWritten?: number;
  message: string;
}

let inputs = 0;
/** A file in `dir` of `bytes` random bytes, for a child to read its chunks from. */
export function makeInput(dir: string, bytes: number): { file: string; data: Buffer } {
  const data = randomFillSync(Buffer.allocUnsafe(bytes));
  const file = path.join(dir, `input.${inputs++}`);
  fs.writeFileSync(file, data);
  return { file, data };
}

/** A Node-style system error with this code, errno and syscall. */
export function expectSystemError(error: ErrorShape | undefined, code: string, errno: number, syscall: string): void {
  expect(error, 'an error').toBeDefined();
  expect(error!.name).toBe('Error');
  expect(error!.code).toBe(code);
  expect(error!.errno).toBe(-errno);
  expect(error!.syscall).toBe(syscall);
  expect(error!.message).toContain(`${code}: `);
}

/** The file holds exactly `expected` (compared in one go; a diff of MiBs is useless). */
export function expectFileEquals(file: string, expected: Buffer): void {
  const actual = fs.readFileSync(file);
  expect(actual.length, 'file size').toBe(expected.length);
  expect(Buffer.compare(actual, expected), 'file content').toBe(0);
}

/** Fills the file system of `dir` with a filler file until about `free` bytes are left. */
export function fillLeaving(dir: string, free: number): void {
  const { bavail, bsize } = fs.statfsSync(dir);
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  try {
    const fill = Buffer.alloc(4 * MiB, 1);
    for (let left = bavail * bsize - free; left > 0; ) left -= fs.writeSync(fd, fill, 0, Math.min(fill.length, left));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
