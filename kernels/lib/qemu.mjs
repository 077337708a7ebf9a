// Boot a kernel + initrd under qemu-system-x86_64 with the disk images as virtio drives; collect the serial log.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { which } from './sh.mjs';

export const qemuBinary = () => which('qemu-system-x86_64');

let kvm;
/** Whether KVM really works here: /dev/kvm opens and qemu can start a VM with it. */
export function kvmUsable() {
  kvm ??= (async () => {
    if (process.env.DONTCACHE_KERNELS_NO_KVM) return false;
    try { fs.closeSync(fs.openSync('/dev/kvm', 'r+')); } catch { return false; }
    // A /dev/kvm without vmx/svm in the CPU flags (seen on this VM) starts VMs that then hang or fail.
    if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'))) return false;
    return new Promise((resolve) => {
      const p = spawn('qemu-system-x86_64', ['-accel', 'kvm', '-M', 'q35', '-display', 'none', '-S', '-monitor', 'none', '-serial', 'none', '-nodefaults'], { stdio: 'ignore' });
      const t = setTimeout(() => { p.kill('SIGKILL'); resolve(true); }, 1500);
      p.on('exit', () => { clearTimeout(t); resolve(false); });
      p.on('error', () => { clearTimeout(t); resolve(false); });
    });
  })();
  return kvm;
}

const KVM_BROKEN = /KVM internal error|kvm run failed|failed to initialize kvm/i;

/** Boot once; with KVM, a KVM failure (seen e.g. under nested virtualisation) falls back to TCG. */
export async function boot(opts) {
  if (await kvmUsable()) {
    const r = await bootOnce(opts, true);
    if (!r.kvmBroken) return r;
    kvm = Promise.resolve(false);
    const again = await bootOnce(opts, false);
    return { ...again, note: 'KVM failed in the guest, fell back to TCG' };
  }
  return bootOnce(opts, false);
}

function bootOnce({ vmlinuz, initrd, images, timeoutMs, logFile }, useKvm) {
  const args = [
    '-m', '2048', '-smp', '2', '-nographic', '-no-reboot',
    ...(useKvm ? ['-enable-kvm', '-cpu', 'host'] : ['-cpu', 'max']),
    '-kernel', vmlinuz, '-initrd', initrd,
    '-append', 'console=ttyS0 rdinit=/init quiet panic=-1',
    ...images.flatMap((img) => ['-drive', `file=${img},format=raw,if=virtio`]),
  ];
  const started = Date.now();
  const log = fs.createWriteStream(logFile);
  return new Promise((resolve) => {
    const p = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let timedOut = false, kvmBroken = false;
    const onData = (d) => {
      chunks.push(d);
      log.write(d);
      if (useKvm && !kvmBroken && KVM_BROKEN.test(d.toString())) { kvmBroken = true; p.kill('SIGKILL'); }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeoutMs);
    // With KVM the guest must reach /init quickly; if not, treat KVM as broken and let the caller retry on TCG.
    const kvmDeadline = useKvm ? setTimeout(() => {
      if (!Buffer.concat(chunks).includes('"type":"booted"')) { kvmBroken = true; p.kill('SIGKILL'); }
    }, 60_000) : null;
    const finish = (code, error) => {
      clearTimeout(timer);
      if (kvmDeadline) clearTimeout(kvmDeadline);
      log.end();
      resolve({ serial: Buffer.concat(chunks).toString('utf8'), code, timedOut, kvmBroken, error,
        accel: useKvm ? 'kvm' : 'tcg', seconds: (Date.now() - started) / 1000 });
    };
    p.on('error', (e) => finish(null, e.message));
    p.on('close', (code) => finish(code));
  });
}
