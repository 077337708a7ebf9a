/**
 * The file position of an open descriptor, from /proc/self/fdinfo (Node has no lseek).
 * After a write at position -1 it is the end of the bytes just written; with O_APPEND
 * those bytes went to the end of the file, wherever other appenders had left it, so the
 * position is how a writer learns where its bytes landed.
 */
import fs from 'node:fs';

const O_APPEND = fs.constants.O_APPEND;

function parse(info: string): { pos: number; flags: number } | undefined {
  const pos = /^pos:\s*(\d+)/m.exec(info);
  if (!pos) return undefined;
  const flags = /^flags:\s*([0-7]+)/m.exec(info);
  return { pos: Number(pos[1]), flags: flags ? parseInt(flags[1], 8) : 0 };
}

/** File offset and O_APPEND of an open descriptor; `{ pos: 0, append: false }` when /proc cannot tell. */
export function descriptorState(fd: number): { pos: number; append: boolean } {
  try {
    const state = parse(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    if (state) return { pos: state.pos, append: (state.flags & O_APPEND) !== 0 };
  } catch {
    /* no /proc */
  }
  return { pos: 0, append: false };
}

/**
 * Reads one descriptor's position again and again at the cost of one pread(2): the
 * fdinfo file stays open (a seq_file renders afresh on every read at offset 0) until
 * {@link close}.
 */
export class PositionReader {
  private infoFd = -1;
  private failed = false;
  private readonly buffer = Buffer.allocUnsafe(128);

  constructor(private readonly fd: number) {}

  /** The descriptor's position now, or undefined when /proc cannot tell (then never again). */
  read(): number | undefined {
    if (this.failed) return undefined;
    try {
      if (this.infoFd < 0) this.infoFd = fs.openSync(`/proc/self/fdinfo/${this.fd}`, 'r');
      const n = fs.readSync(this.infoFd, this.buffer, 0, this.buffer.length, 0);
      const state = parse(this.buffer.toString('latin1', 0, n));
      if (state) return state.pos;
    } catch {
      /* no /proc, or the descriptor is gone */
    }
    this.failed = true;
    this.close();
    return undefined;
  }

  /** Closes the fdinfo file; a later read opens it again. */
  close(): void {
    if (this.infoFd < 0) return;
    try {
      fs.closeSync(this.infoFd);
    } catch {
      /* already closed */
    }
    this.infoFd = -1;
  }
}
