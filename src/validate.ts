/**
 * Every argument check of the JavaScript layer, with Node's error codes and wording
 * (lib/internal/errors.js, lib/internal/validators.js), so that a wrong argument reads
 * the same here as in `node:fs`. The native addon checks the raw binding's arguments
 * itself (native/args.cc), in the same wording.
 */
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

type CodedError<E extends Error> = E & { code: string };

function coded<E extends Error>(error: E, code: string): CodedError<E> {
  return Object.assign(error, { code });
}

// Node writes integers above 2^32 with underscores: 4_294_967_296.
function withSeparators(digits: string): string {
  const sign = digits.startsWith('-') ? '-' : '';
  let rest = digits.slice(sign.length);
  let out = '';
  for (; rest.length > 3; rest = rest.slice(0, -3)) out = `_${rest.slice(-3)}${out}`;
  return sign + rest + out;
}

/** What Node's messages say of a received value: "null", "type number (1)", "an instance of Foo". */
export function describeReceived(value: unknown): string {
  if (value == null) return String(value);
  if (typeof value === 'function' && value.name) return `function ${value.name}`;
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `an instance of ${name}` : inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

// "argument" for a parameter, "property" for an options field, as Node words it.
const noun = (name: string) => (name.includes('.') ? 'property' : 'argument');

/** TypeError ERR_INVALID_ARG_TYPE: `The "name" argument must be <expected>. Received <value>`. */
export function invalidArgType(name: string, expected: string, actual: unknown): CodedError<TypeError> {
  return coded(new TypeError(`The "${name}" ${noun(name)} must be ${expected}. Received ${describeReceived(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** TypeError ERR_INVALID_ARG_VALUE: `The argument 'name' <reason>. Received <value>`. */
export function invalidArgValue(name: string, actual: unknown, reason: string): CodedError<TypeError> {
  let shown = inspect(actual);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return coded(new TypeError(`The ${noun(name)} '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE');
}

/** RangeError ERR_OUT_OF_RANGE: `The value of "name" is out of range. It must be <range>. Received <value>`. */
export function outOfRange(name: string, range: string, actual: unknown): CodedError<RangeError> {
  let shown: string;
  if (typeof actual === 'number' && Number.isInteger(actual) && Math.abs(actual) > 2 ** 32) shown = withSeparators(String(actual));
  else if (typeof actual === 'bigint') shown = `${actual > 2n ** 32n || actual < -(2n ** 32n) ? withSeparators(String(actual)) : actual}n`;
  else shown = inspect(actual);
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

/** Node's validateInteger: a number (ERR_INVALID_ARG_TYPE), a safe integer in [min, max] (ERR_OUT_OF_RANGE). */
export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** The largest file offset (off_t). */
const MAX_OFFSET = 2n ** 63n - 1n;

/**
 * A byte offset or length: a safe integer >= 0, or a bigint up to 2^63 - 1 (files reach
 * that size; above 2^53 - 1 a number may already be rounded, so a bigint is asked for).
 */
export function validateByteCount(value: unknown, name: string): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_OFFSET) throw outOfRange(name, `>= 0n && <= ${MAX_OFFSET}n`, value);
    return value;
  }
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number or bigint', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) throw outOfRange(name, `>= 0 && <= ${Number.MAX_SAFE_INTEGER} (a bigint for more)`, value);
  return BigInt(value);
}

/** Node's validateFunction. */
export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
}

/** Node's validateBoolean. */
export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

/** Node's validateString. */
export function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

/** Node's validateObject (null and arrays refused). */
export function validateObject(value: unknown, name: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgType(name, 'of type object', value);
}

/** An integer option of ours (`windowSize`): undefined or null mean `fallback`. */
export function integerOption(name: string, value: unknown, min: number, fallback: number): number {
  return value == null ? fallback : validateInteger(value, name, min);
}

/** A choice option of ours (`cache`, `fallback`): undefined or null mean `fallback`. */
export function choiceOption<T extends string>(name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value == null) return fallback;
  if (!choices.includes(value as T)) {
    throw invalidArgValue(name, value, `must be one of: ${choices.map((c) => `'${c}'`).join(', ')}`);
  }
  return value as T;
}

// A URL instance, or a URL-like object (what Node's isURL accepts).
function isUrl(value: unknown): boolean {
  if (value instanceof URL) return true;
  const v = value as { href?: unknown; protocol?: unknown; auth?: unknown; path?: unknown } | null;
  return typeof v === 'object' && v !== null && Boolean(v.href) && Boolean(v.protocol) && v.auth === undefined && v.path === undefined;
}

/**
 * Node's toPathIfFileURL + validatePath: a file: URL becomes its path through
 * url.fileURLToPath (so %2F and other schemes throw as in fs); a Buffer stays a
 * Buffer (names need not be UTF-8); strings and Buffers may not hold NUL bytes.
 */
export function validatePath(path: unknown, name = 'path', expected = 'of type string or an instance of Buffer or URL'): string | Buffer {
  const value = isUrl(path) ? fileURLToPath(path as URL) : path;
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw invalidArgType(name, expected, value);
  const hasNul = typeof value === 'string' ? value.includes('\u0000') : value.includes(0);
  if (hasNul) throw invalidArgValue(name, value, 'must be a string, Uint8Array, or URL without null bytes');
  return typeof value === 'string' || Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
