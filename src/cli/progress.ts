// A progress line on stderr for long transfers: rewritten in place on a terminal,
// steady lines (one a second) when forced on elsewhere, nothing when off.
import { formatBytes } from './output';

/** What a progress line writes to (process.stderr, or a stand-in in tests). */
export interface StatusStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Whether to show progress: `--progress`/`--no-progress`, else only on a terminal. */
export function wantsProgress(flag: boolean | undefined, stream: StatusStream): boolean {
  return flag ?? stream.isTTY === true;
}

/** 0:07, 12:34, 1:02:03. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mmss = `${h > 0 ? String(m).padStart(2, '0') : m}:${String(sec).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

/** Decimal megabytes per second, as dd and cp users read them. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / seconds / 1e6 : 0;
}

/** `1.2 GiB / 2.0 GiB  61%  1650 MB/s  ETA 0:01` (no total: bytes and rate only). */
export function progressText(done: number, total: number | null, seconds: number): string {
  const rate = megabytesPerSecond(done, seconds);
  const parts = [total === null ? formatBytes(done) : `${formatBytes(done)} / ${formatBytes(total)}`];
  if (total !== null && total > 0) parts.push(`${Math.min(100, Math.floor((100 * done) / total))}%`);
  parts.push(`${rate.toFixed(0)} MB/s`);
  if (total !== null && done > 0 && rate > 0 && done < total) parts.push(`ETA ${formatDuration((total - done) / (rate * 1e6))}`);
  return parts.join('  ');
}

const TTY_INTERVAL_MS = 250;
const LOG_INTERVAL_MS = 1000;

/**
 * One transfer's progress. `start` begins periodic updates from `done()`; `stop`
 * clears the line, so what is printed next starts on a clean line.
 */
export class ProgressLine {
  private timer: NodeJS.Timeout | null = null;
  private drawn = false;

  constructor(private readonly stream: StatusStream, readonly enabled: boolean) {}

  start(label: string, total: number | null, done: () => number): void {
    this.stop();
    if (!this.enabled) return;
    const started = process.hrtime.bigint();
    const draw = () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.draw(progressText(done(), total, seconds), label);
    };
    this.timer = setInterval(draw, this.stream.isTTY ? TTY_INTERVAL_MS : LOG_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  private draw(figures: string, label: string): void {
    if (!this.stream.isTTY) {
      this.stream.write(`${figures}  ${label}\n`);
      return;
    }
    // A line longer than the terminal wraps, and \r then redraws only its last row:
    // shorten the label (from the left: the file name is at the end).
    const room = (this.stream.columns || 80) - 1 - figures.length - 2;
    const fitted = room <= 1 ? '' : label.length <= room ? label : `…${label.slice(label.length - room + 1)}`;
    this.stream.write(`\r\x1b[K${figures}${fitted ? `  ${fitted}` : ''}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
