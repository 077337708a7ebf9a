#!/usr/bin/env node
// `dontcache`: a small dispatcher; each subcommand lives in src/cli/<name>.ts and is
// loaded only when it runs (`bench` alone brings in the latency lab).
/* eslint-disable @typescript-eslint/no-require-imports */
import { commandHelp, EXIT, parseCommandArgs, UsageError, type Command, type CommandEntry } from './cli/args';
import { createOutput, errorLine, type Output } from './cli/output';
import { signalOfExitCode } from './cli/interrupt';

/** The subcommands with their line in `dontcache --help`, in its order. */
const SUMMARIES = {
  probe: 'Does RWF_DONTCACHE work in a directory, and how does this kernel write it back?',
  stat: 'How much of each file is in the page cache (like fincore/vmtouch).',
  drop: "Push files' pages out of the page cache (write back dirty pages, then drop).",
  bench: 'Latency lab: what dontcache writes cost the writer here, against buffered, window writeback and O_DIRECT',
  cp: 'Copy files without leaving the source or the copy in the page cache.',
  write: 'Write standard input to a file without leaving it in the page cache (like dd of=).',
};

/** Each subcommand's module (src/cli/<name>.ts), required when that subcommand runs. */
const LOADERS: Record<keyof typeof SUMMARIES, () => Command> = {
  probe: () => (require('./cli/probe') as typeof import('./cli/probe')).probeCommand,
  stat: () => (require('./cli/stat') as typeof import('./cli/stat')).statCommand,
  drop: () => (require('./cli/drop') as typeof import('./cli/drop')).dropCommand,
  bench: () => (require('./cli/bench') as typeof import('./cli/bench')).benchCommand,
  cp: () => (require('./cli/cp') as typeof import('./cli/cp')).cpCommand,
  write: () => (require('./cli/write') as typeof import('./cli/write')).writeCommand,
};

export const COMMANDS: readonly CommandEntry[] = (Object.keys(SUMMARIES) as (keyof typeof SUMMARIES)[]).map((name) => ({
  name,
  summary: SUMMARIES[name],
  load: LOADERS[name],
}));

function version(): string {
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
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    out.error(`dontcache: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(', ')}. See 'dontcache --help'.`);
    return EXIT.usage;
  }
  try {
    const command = entry.load();
    const args = parseCommandArgs(command, rest);
    if (args.values.help) {
      out.line(commandHelp(entry, command).trimEnd());
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
