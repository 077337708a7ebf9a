// Shared command-line plumbing: one Command per subcommand, parsing with
// node:util parseArgs, usage errors and help text.
import { parseArgs } from 'node:util';
import type { Output } from './output';

/** A mistake in how the command was called: exit code 2 and a hint to --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit codes of every subcommand. */
export const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2 });

export interface OptionSpec {
  type: 'boolean' | 'string';
  short?: string;
  /** May be given more than once (values arrive as an array). */
  multiple?: boolean;
  /** For string options: the placeholder in the help text. */
  value?: string;
  description: string;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/**
 * A subcommand as the dispatcher lists it (src/cli.ts): its module is loaded only when
 * it runs, so that `dontcache --version` or `dontcache stat` loads nothing of the others.
 */
export interface CommandEntry {
  name: string;
  /** One line for `dontcache --help`. */
  summary: string;
  load(): Command;
}

/** What a subcommand's module (src/cli/<name>.ts) exports: its usage and its work. */
export interface Command {
  /** Positional arguments in the usage line, e.g. '[dir]' or '<file...>'. */
  operands: string;
  /** Bounds on the number of positionals. */
  minOperands: number;
  maxOperands: number;
  /** Paragraph(s) after the usage line. */
  description: string;
  /** Options besides --help and --json, which every command has. */
  options: Record<string, OptionSpec>;
  /** Does the work; resolves with the exit code. Throw UsageError for bad usage. */
  run(args: ParsedArgs, out: Output): Promise<number>;
}

/** --help and --json: every command has them. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show this help and exit' },
  json: { type: 'boolean', description: 'print one JSON document on stdout instead of text' },
};

function allOptions(command: Command): Record<string, OptionSpec> {
  return { ...command.options, ...COMMON_OPTIONS };
}

/** Parses argv for `command`; throws UsageError on unknown options or wrong operand counts. */
export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  const options = Object.fromEntries(
    // parseArgs rejects keys set to undefined: copy only what is there.
    Object.entries(allOptions(command)).map(([name, { type, short, multiple }]) => [
      name, { type, ...(short ? { short } : {}), ...(multiple ? { multiple } : {}) },
    ]),
  );
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes; keep their first sentence.
    const message = (error as Error).message.split('\n')[0];
    throw new UsageError(message.split(/\.\s/)[0].replace(/\.$/, '').replace(/^Unknown/, 'unknown'));
  }
  if (parsed.values.help) return parsed;
  const n = parsed.positionals.length;
  if (n < command.minOperands) throw new UsageError(`missing operand: ${command.operands}`);
  if (n > command.maxOperands) throw new UsageError(`unexpected operand '${parsed.positionals[command.maxOperands]}'`);
  return parsed;
}

/** A string option's value, checked against `choices`. */
export function choice<T extends string>(args: ParsedArgs, name: string, choices: readonly T[], fallback: T): T {
  const value = args.values[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}; got '${String(value)}'`);
  }
  return value as T;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size on the command line in bytes: "256M", "1G", "512MiB", "64k", "1048576" (binary
 * units). Throws UsageError naming the option `--<name>`. Also used by bench/*.js.
 */
export function parseSize(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(String(text).trim());
  if (!match) throw new UsageError(`--${name} must be a size like 256M or 1G; got '${text}'`);
  return Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
}

/** The text `dontcache <command> --help` prints. */
export function commandHelp({ name, summary }: CommandEntry, command: Command): string {
  const rows = Object.entries(allOptions(command)).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
    return `  ${flag.padEnd(28)} ${o.description}`;
  });
  return [
    `Usage: dontcache ${name} [options] ${command.operands}`.trimEnd(),
    '',
    summary,
    '',
    command.description,
    '',
    'Options:',
    ...rows,
    '',
    'Exit status: 0 ok, 1 runtime error (one line on stderr), 2 bad usage.',
    '',
  ].join('\n');
}
