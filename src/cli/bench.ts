// `dontcache bench [dir]`: the latency lab (src/lab) from the command line.
import fs from 'node:fs';
import path from 'node:path';
import {
  MODE_NAMES, SCENARIO_NAMES, formatReportTable, renderReportHtml, runLab,
  type LabProgress, type ModeName, type ScenarioName,
} from '../lab';
import { formatUs } from '../lab/table';
import { EXIT, UsageError, parseSize, type Command, type ParsedArgs } from './args';
import type { Output } from './output';
import { signalExitCode, watchSignals } from './interrupt';

/** --size: at least 1 MiB. */
function sizeOf(text: string): number {
  const bytes = parseSize(text, 'size');
  if (bytes < 1024 * 1024) throw new UsageError(`--size must be at least 1M; got '${text}'`);
  return bytes;
}

function list<T extends string>(args: ParsedArgs, name: string, choices: readonly T[]): T[] | undefined {
  const value = args.values[name];
  if (typeof value !== 'string') return undefined;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.find((item) => !choices.includes(item as T));
  if (bad !== undefined || items.length === 0) throw new UsageError(`--${name} takes a comma-separated list of ${choices.join(', ')}; got '${value}'`);
  return items as T[];
}

function trialsOf(args: ParsedArgs): number | undefined {
  const value = args.values.trials;
  if (typeof value !== 'string') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--trials must be an integer from 1 to 100; got '${value}'`);
  return n;
}

/** Progress on stderr: one rewritten line on a terminal, steady lines otherwise, nothing when quiet. */
function progressPrinter(quiet: boolean): { onProgress: (e: LabProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let open = false;
  const write = (text: string, transient: boolean) => {
    if (quiet) return;
    if (tty && transient) {
      process.stderr.write(`\r\x1b[K${text}`);
      open = true;
    } else {
      process.stderr.write(`${tty && open ? '\r\x1b[K' : ''}${text}\n`);
      open = false;
    }
  };
  const onProgress = (e: LabProgress) => {
    if (e.type === 'probe') write(e.probe ? `probe: ${e.probe.fsType}, Linux ${e.probe.kernel}, writeback ${e.probe.writeback}` : `probe failed: ${e.error}`, false);
    else if (e.type === 'warmup') write('warming up (untimed buffered write)', true);
    else if (e.type === 'scenario') write(e.skipped ? `${e.scenario}: skipped (${e.skipped})` : `${e.scenario}`, !e.skipped);
    else {
      const bar = tty ? `[${'#'.repeat(Math.round((20 * e.done) / Math.max(1, e.total))).padEnd(20)}] ` : '';
      const what = e.error
        ? `failed: ${e.error}`
        : `${e.result!.throughputMBps.toFixed(0)} MB/s, p99.9 ${formatUs((e.result!.syscallUs ?? e.result!.callbackUs).p999)}`;
      write(`${bar}${e.done}/${e.total} ${e.scenario} ${e.mode} trial ${e.trial}/${e.trials}: ${what}`, tty && !e.error);
    }
  };
  return { onProgress, done: () => open && !quiet && process.stderr.write('\r\x1b[K') };
}

export const benchCommand: Command = {
  operands: '[dir]',
  minOperands: 0,
  maxOperands: 1,
  description: [
    'Writes in dir (default: the current directory; every file, worker process and cgroup',
    'is removed at the end, on a failure and on Ctrl-C) in each scenario with each mode,',
    'interleaved, repeated, after a warm-up, and prints medians, the probe\'s writeback',
    'behaviour, whether the measurements agree with it, and advice.',
    `Scenarios: ${SCENARIO_NAMES.join(', ')} (memcg needs root; sustained only with --sustained or --scenarios).`,
    `Modes: ${MODE_NAMES.join(', ')}.`,
    'The default profile (--size 256M, 3 trials) takes about 2 minutes on a 2-core VM and stays',
    'under the dirty limits, where buffered writes never wait for the disk; --sustained adds the',
    'throttled regime (minutes more: it writes twice the dirty limit per trial and mode).',
  ].join('\n'),
  options: {
    size: { type: 'string', value: 'size', description: 'scenario size, e.g. 256M (default), 1G; seq-write writes this much' },
    trials: { type: 'string', value: 'n', description: 'rounds of every mode (default 3)' },
    scenarios: { type: 'string', value: 'list', description: `comma-separated subset of ${SCENARIO_NAMES.join(',')}` },
    modes: { type: 'string', value: 'list', description: `comma-separated subset of ${MODE_NAMES.join(',')}` },
    full: { type: 'boolean', description: 'the kernel developers\' scale: 2x RAM per file, 32 files in many-files' },
    sustained: { type: 'boolean', description: 'add the sustained scenario: 1 MiB writes past the dirty limits (2x the dirty limit, at most half the free space), 5 trials unless --trials' },
    html: { type: 'string', value: 'file', description: 'also write a self-contained HTML report with latency plots' },
    report: { type: 'string', value: 'file', description: 'also write the JSON report (schema: dontcache-lab-report v1)' },
    'drop-caches': { type: 'boolean', description: 'drop the whole page cache before each trial (root; off by default)' },
    'no-warmup': { type: 'boolean', description: 'skip the untimed warm-up write' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr' },
  },
  async run(args, out: Output) {
    const dir = path.resolve(args.positionals[0] ?? '.');
    const sizeBytes = typeof args.values.size === 'string' ? sizeOf(args.values.size) : undefined;
    const options = {
      dir,
      sizeBytes,
      trials: trialsOf(args),
      scenarios: list<ScenarioName>(args, 'scenarios', SCENARIO_NAMES),
      modes: list<ModeName>(args, 'modes', MODE_NAMES),
      full: args.values.full === true,
      sustained: args.values.sustained === true,
      dropCaches: args.values['drop-caches'] === true,
      warmup: args.values['no-warmup'] !== true,
    };
    if (options.dropCaches && process.getuid?.() !== 0) throw new UsageError('--drop-caches needs root');
    const progress = progressPrinter(args.values.quiet === true);
    const watch = watchSignals();
    try {
      const report = await runLab({ ...options, onProgress: progress.onProgress, signal: watch.signal });
      progress.done();
      if (typeof args.values.report === 'string') fs.writeFileSync(args.values.report, `${JSON.stringify(report, null, 2)}\n`);
      if (typeof args.values.html === 'string') fs.writeFileSync(args.values.html, renderReportHtml(report));
      if (args.values.json) out.json(report);
      else out.line(formatReportTable(report));
      return EXIT.ok;
    } catch (error) {
      progress.done();
      if (watch.received) {
        out.error('dontcache bench: interrupted; its files, workers and cgroups are removed');
        return signalExitCode(watch.received);
      }
      throw error;
    } finally {
      watch.dispose();
    }
  },
};
