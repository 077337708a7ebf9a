import path from 'node:path';
import { adviceFor, probe, type Evidence, type ProbeResult } from '../probe';
import { EXIT, type Command } from './args';
import { table, type Output } from './output';
import { signalExitCode, watchSignals } from './interrupt';

function verdictColor(out: Output, result: ProbeResult): (s: string) => string {
  if (result.writeback === 'unsupported') return out.red;
  if (result.writeback === 'unknown') return out.yellow;
  return out.green;
}

function support(out: Output, ok: boolean, refused?: string): string {
  return ok ? out.green('supported') : out.red(`refused${refused ? ` (${refused})` : ''}`);
}

function overwriteText(out: Output, result: ProbeResult): string {
  const cached = result.overwriteEvidence.cachedAfter;
  const figures = cached === null ? '' : ` (${cached}/${result.overwriteEvidence.pages} pages cached after sync)`;
  if (result.overwriteDropped === true) return out.green(`dropped${figures}`);
  if (result.overwriteDropped === false) return out.yellow(`left cached${figures}; the stream drops them itself`);
  return out.dim(`unknown: ${result.overwriteEvidence.detail}`);
}

function evidenceRows(out: Output, evidence: Evidence[]): string[] {
  return table(
    evidence.map((e) => [e.source, e.says === 'unknown' ? out.dim(e.says) : e.says, e.weight, e.detail]),
    'llll',
  );
}

/** The human report of `dontcache probe`. */
export function printProbe(out: Output, dir: string, result: ProbeResult): void {
  const readRefused = result.dontcacheRead ? undefined : result.refusedWith;
  out.line(out.bold(`RWF_DONTCACHE in ${dir}`));
  for (const row of table([
    ['kernel', result.kernel],
    ['file system', result.fsType],
    ['write', support(out, result.dontcacheWrite, result.dontcacheWrite ? undefined : result.refusedWith)],
    ['read', support(out, result.dontcacheRead, readRefused)],
    ['overwrites', overwriteText(out, result)],
    ['writeback', out.bold(verdictColor(out, result)(result.writeback))],
    ['why', result.verdictReason],
  ], 'll')) out.line(`  ${row}`);
  out.line();
  out.line(out.bold('Evidence'));
  for (const row of evidenceRows(out, result.evidence)) out.line(`  ${row}`);
  out.line();
  out.line(out.bold('What this means'));
  for (const line of adviceFor(result)) out.line(`  ${line}`);
}

export const probeCommand: Command = {
  operands: '[dir]',
  minOperands: 0,
  maxOperands: 1,
  description: [
    'Tries a dontcache write and read on a temporary file in dir (default: the current',
    'directory; the file has no name, or loses it at once, so nothing is left behind',
    'even by a kill), then weighs the kernel release, tracefs, kallsyms and an empirical',
    'cachestat test to tell the writeback behaviour, and overwrites data it wrote, synced',
    'and dropped with RWF_DONTCACHE to tell whether such overwrites leave the page cache',
    'too ("overwrites"). Writeback:',
    '  inline-flush  the writer submits writeback itself (Linux 6.14-7.1)',
    '  flusher-kick  the flusher thread writes back (Linux 7.2+)',
    '  unsupported   the kernel has no RWF_DONTCACHE',
    '  unknown       the evidence does not decide',
  ].join('\n'),
  options: {
    'mount-tracefs': { type: 'boolean', description: 'mount tracefs if needed (root), unmount it afterwards' },
  },
  async run(args, out) {
    const dir = path.resolve(args.positionals[0] ?? '.');
    // Ctrl-C lets the probe finish its own cleanup (a tracefs it mounted); its test file
    // has no name to leave behind (src/probe/scratch.ts).
    const watch = watchSignals();
    try {
      const result = await probe(dir, { mountTracefs: args.values['mount-tracefs'] === true });
      if (!watch.received) {
        if (args.values.json) out.json({ dir, ...result });
        else printProbe(out, dir, result);
        return EXIT.ok;
      }
    } catch (error) {
      if (!watch.received) throw error;
    } finally {
      watch.dispose();
    }
    out.error(`dontcache probe: interrupted by ${watch.received}; nothing is left behind`);
    return signalExitCode(watch.received!);
  },
};
