#!/usr/bin/env node
// `dontcache`: a small dispatcher; each subcommand lives in src/cli/<name>.ts.
import { commandHelp, EXIT, parseCommandArgs, UsageError, type Command } from './cli/args';
import { createOutput, errorLine, type Output } from './cli/output';
import { probeCommand } from './cli/probe';
import { statCommand } from './cli/stat';
import { dropCommand } from './cli/drop';
import { benchCommand } from './cli/bench';
import { cpCommand } from './cli/cp';
import { writeCommand } from './cli/write';
import { signalOfExitCode } from './cli/interrupt';

/** The subcommands, in the order `dontcache --help` lists them. */
export const COMMANDS: readonly Command[] = [
  probeCommand,
  statCommand,
  dropCommand,
  benchCommand,
  cpCommand,
  writeCommand,
];

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../package.json') as { version: string }).version;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: dontcache <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'dontcache <command> --help' for a command's options.",
    'Exit status: 0 ok, 1 runtime error (one line on stderr), 2 bad usage;',
    'probe, bench, cp and write end by the signal after cleaning up on Ctrl-C (status 130 in a shell).',
    '',
  ].join('\n');
}

/** Runs the CLI on `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[], out: Output = createOutput()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    out.error(mainHelp().trimEnd());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    out.line(mainHelp().trimEnd());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    out.line(version());
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    out.error(`dontcache: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(', ')}. See 'dontcache --help'.`);
    return EXIT.usage;
  }
  try {
    const args = parseCommandArgs(command, rest);
    if (args.values.help) {
      out.line(commandHelp(command).trimEnd());
      return EXIT.ok;
    }
    return await command.run(args, out);
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(`dontcache ${name}: ${error.message}. See 'dontcache ${name} --help'.`);
      return EXIT.usage;
    }
    // Runtime errors are one line; a stack trace only when asked (a bug report).
    out.error(`dontcache ${name}: ${errorLine(error)}`);
    if (process.env.DONTCACHE_DEBUG && error instanceof Error && error.stack) out.error(error.stack);
    return EXIT.failure;
  }
}

if (require.main === module) {
  // A closed pipe (`dontcache stat * | head`) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    throw error;
  });
  void main(process.argv.slice(2)).then((code) => {
    // cp and write report an interrupt as 128 + signal: end by that signal, as
    // interrupted programs should, so the shell (or a loop around us) sees it.
    const signal = signalOfExitCode(code);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code;
  });
}
