// The host kernel's row: guest.js run directly against loop-mounted ext4 and XFS images (root only).
// Mounts are always undone, also on failure or Ctrl-C.
import fs from 'node:fs';
import path from 'node:path';
import { sh } from './sh.mjs';
import { makeImages } from './disks.mjs';
import { kernelsDir, repoRoot } from './paths.mjs';

const mounted = (dir) => fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);

export async function runHost({ work, timeoutMs, guestArgs = {} }) {
  const images = await makeImages(work);
  const mounts = [];
  const undo = async () => {
    while (mounts.length) {
      const dir = mounts.pop();
      const r = await sh('umount', [dir], { allowFail: true });
      if (r.code !== 0) await sh('umount', ['-l', dir], { allowFail: true });
    }
  };
  const onSignal = (sig) => { undo().finally(() => process.kill(process.pid, sig)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  try {
    const tracing = '/sys/kernel/tracing';
    if (!mounted(tracing) && (await sh('mount', ['-t', 'tracefs', 'nodev', tracing], { allowFail: true })).code === 0) mounts.push(tracing);
    const fsArgs = [];
    for (const [name, img] of Object.entries(images)) {
      const dir = path.join(work, `mnt-${name}`);
      fs.mkdirSync(dir, { recursive: true });
      await sh('mount', ['-o', 'loop', '-t', name, img, dir]);
      mounts.push(dir);
      fsArgs.push('--fs', `${name}=${dir}`);
    }
    const argsFile = path.join(work, 'host-guest-args.json');
    fs.writeFileSync(argsFile, JSON.stringify(guestArgs));
    const r = await sh(process.execPath, [path.join(kernelsDir, 'guest.js'), '--pkg', repoRoot, '--kernel', 'host', '--args-file', argsFile, ...fsArgs],
      { allowFail: true, timeoutMs });
    return { serial: r.stdout + r.stderr, code: r.code, timedOut: r.signal === 'SIGKILL', accel: 'host', seconds: (Date.now() - started) / 1000 };
  } finally {
    await undo();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const img of Object.values(images)) fs.rmSync(img, { force: true });
  }
}
