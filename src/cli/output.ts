// Shared output: where text goes, colours only on a terminal, number formatting.
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';

type Paint = (text: string) => string;

export interface Output {
  /** Writes to stdout (a newline is added). */
  line(text?: string): void;
  /** Prints `value` as JSON on stdout. */
  json(value: unknown): void;
  /** Writes one line to stderr. */
  error(text: string): void;
  bold: Paint;
  dim: Paint;
  green: Paint;
  yellow: Paint;
  red: Paint;
}

/**
 * Colours on when the stream is a terminal, unless NO_COLOR is set; FORCE_COLOR
 * (other than '0') turns them on anyway (https://no-color.org conventions).
 */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

const sgr = (on: boolean, open: number, close: number): Paint =>
  on ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text;

/** An Output writing to the given streams (stdout and stderr by default). */
export function createOutput(stdout: Writable & { isTTY?: boolean } = process.stdout, stderr: Writable = process.stderr): Output {
  const color = wantsColor(stdout);
  return {
    line: (text = '') => void stdout.write(`${text}\n`),
    json: (value) => void stdout.write(`${toJson(value)}\n`),
    error: (text) => void stderr.write(`${text}\n`),
    bold: sgr(color, 1, 22),
    dim: sgr(color, 2, 22),
    green: sgr(color, 32, 39),
    yellow: sgr(color, 33, 39),
    red: sgr(color, 31, 39),
  };
}

/**
 * JSON text of `value` (indented), with bigints written as plain integers: exact, as
 * JSON allows (a reader in JavaScript gets the nearest number, as for any big integer).
 */
export function toJson(value: unknown): string {
  const mark = `bigint:${randomBytes(8).toString('hex')}:`;
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${mark}${v}` : v), 2);
  return text.replace(new RegExp(`"${mark}(-?\\d+)"`, 'g'), '$1');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 0 B, 4.0 KiB, 1.5 GiB ... (binary units, like `ls -h`). */
export function formatBytes(bytes: number | bigint | null): string {
  if (bytes === null) return '-';
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** 0.4567 → '45.7%'. */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/**
 * Lays out rows as columns; `align` has one 'l' or 'r' per column. Padding is computed
 * on the text without colour codes.
 */
export function table(rows: string[][], align: string): string[] {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = align.split('').map((_, i) => Math.max(...rows.map((r) => visible(r[i] ?? ''))));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i] - visible(cell));
        return align[i] === 'r' ? pad + cell : i === row.length - 1 ? cell : cell + pad;
      })
      .join('  '),
  );
}

/** One line for an error: the message only (system errors already carry code, syscall and path). */
export function errorLine(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}

/** `{path, code, message}` for --json error lists. */
export function errorRecord(path: string, error: unknown): { path: string; code?: string; message: string } {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === undefined ? { path, message: errorLine(error) } : { path, code, message: errorLine(error) };
}
