// The probe's test file: one that no name points to, so that nothing is left behind
// however the process ends (Ctrl-C, SIGKILL, a crash).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * __O_TMPFILE of the kernel's generic fcntl.h, which every architecture Node runs on
 * uses (only alpha, parisc and sparc differ). Node's fs.constants has no O_TMPFILE.
 */
const GENERIC_O_TMPFILE = 0o20000000;
const GENERIC_ARCHS = new Set(['x64', 'arm64', 'arm', 'ia32', 'riscv64', 'ppc64', 's390x', 'loong64', 'mips', 'mipsel', 'mips64el']);

/** O_TMPFILE for open(2) (it includes O_DIRECTORY, whose value varies), or undefined where unknown. */
export function oTmpfile(arch: string = process.arch): number | undefined {
  const known = (fs.constants as Record<string, number | undefined>).O_TMPFILE;
  if (known !== undefined) return known;
  return GENERIC_ARCHS.has(arch) ? GENERIC_O_TMPFILE | fs.constants.O_DIRECTORY : undefined;
}

/** Errors of an O_TMPFILE open that mean "not here", not "not allowed". */
const NO_TMPFILE = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EINVAL']);

export interface ScratchFile {
  fd: number;
  /** 'unnamed': O_TMPFILE; 'unlinked': created with a name that was removed at once (file systems without O_TMPFILE). */
  kind: 'unnamed' | 'unlinked';
}

/**
 * Opens a new, empty, read-write file in `dir` that has no name: O_TMPFILE where the
 * file system supports it (ext4, XFS, btrfs, tmpfs, ...). Elsewhere a new file
 * (O_EXCL, never an existing one or a link) that is unlinked right away: both calls
 * are synchronous, so no JavaScript signal handler runs between them, and without one
 * only a signal landing between two syscalls could keep the name. Its space is freed
 * when the fd is closed.
 */
export function openScratchFile(dir: string, flag = oTmpfile()): ScratchFile {
  const { O_RDWR, O_CREAT, O_EXCL } = fs.constants;
  if (flag !== undefined) {
    try {
      return { fd: fs.openSync(dir, flag | O_RDWR, 0o600), kind: 'unnamed' };
    } catch (error) {
      if (!NO_TMPFILE.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  }
  const file = path.join(dir, `.dontcache-probe.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fd = fs.openSync(file, O_RDWR | O_CREAT | O_EXCL, 0o600);
  try {
    fs.unlinkSync(file);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return { fd, kind: 'unlinked' };
}
