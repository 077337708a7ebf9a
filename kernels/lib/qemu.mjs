// Boot a kernel + initrd under qemu (the machine of kernels.json `qemu`, per architecture) with the disk
// images as virtio drives; collect the serial log.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { which } from './sh.mjs';

/** What an architecture may set in kernels.json `qemu.arch`; memory, vCPUs and disks are one setting for all. */
const ARCH_KEYS = new Set(['binary', 'board', 'cpu', 'console', 'kvm', 'tcgBootSeconds']);
const SHARED_KEYS = ['memoryMiB', 'cpus', 'diskFormat', 'diskCache', 'diskSizeMiB'];

/**
 * The machine a guest of `arch` boots in: kernels.json `qemu`'s shared settings (memory, vCPUs, disk format,
 * cache and size) with the architecture's binary, board, CPU model, console, whether KVM may be tried and how
 * long TCG may take to reach /init. Throws on an unknown architecture or an entry that would make guests differ.
 */
export function machineFor(qemu, arch = 'x64') {
  const own = qemu.arch?.[arch];
  if (!own) throw new Error(`no qemu machine for arch ${arch} in kernels.json (qemu.arch has ${Object.keys(qemu.arch ?? {}).join(', ') || 'none'})`);
  const extra = Object.keys(own).filter((k) => !k.startsWith('$') && !ARCH_KEYS.has(k));
  if (extra.length) throw new Error(`kernels.json qemu.arch.${arch} sets ${extra.join(', ')}: only ${[...ARCH_KEYS].join(', ')} may differ between architectures`);
  const missing = [...SHARED_KEYS.filter((k) => qemu[k] === undefined), ...['binary', 'cpu', 'console'].filter((k) => own[k] === undefined)];
  if (missing.length) throw new Error(`kernels.json qemu machine for ${arch} lacks ${missing.join(', ')}`);
  const shared = Object.fromEntries(SHARED_KEYS.map((k) => [k, qemu[k]]));
  const ownKeys = Object.fromEntries(Object.entries(own).filter(([k]) => !k.startsWith('$')));
  return { arch, ...shared, kvm: false, tcgBootSeconds: 150, ...ownKeys };
}

export const qemuBinary = (machine) => which(machine.binary);

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

/** Guests still running: killed when the harness is interrupted (see `killGuests`). */
const live = new Set();
export function killGuests() {
  for (const p of live) p.kill('SIGKILL');
}

const KVM_BROKEN = /KVM internal error|kvm run failed|failed to initialize kvm/i;

/** Boot once; with KVM, a KVM failure (seen e.g. under nested virtualisation) falls back to TCG. */
export async function boot(opts) {
  if (opts.machine.kvm && (await kvmUsable())) {
    const r = await bootOnce(opts, true);
    if (!r.noBoot) return r;
    kvm = Promise.resolve(false);
    opts = { ...opts, note: 'KVM failed in the guest, fell back to TCG' };
  }
  const r = await bootOnce(opts, false);
  if (!r.noBoot) return { ...r, note: opts.note };
  // Under emulation an old kernel sometimes stalls in early boot (RCU stall, timer wake-ups lost): once more.
  const again = await bootOnce(opts, false);
  return { ...again, note: [opts.note, `first boot never reached /init within ${again.bootDeadline} s; retried`].filter(Boolean).join('; ') };
}

/** The qemu arguments of one boot: the machine of the guest's architecture (see `machineFor`). */
export function qemuArgs({ vmlinuz, initrd, images, machine }, useKvm) {
  return [
    ...(machine.board ? ['-M', machine.board] : []),
    '-m', String(machine.memoryMiB), '-smp', String(machine.cpus), '-nographic', '-no-reboot',
    ...(useKvm ? ['-enable-kvm', '-cpu', 'host'] : ['-cpu', machine.cpu]),
    '-kernel', vmlinuz, '-initrd', initrd,
    '-append', `console=${machine.console} rdinit=/init quiet panic=-1`,
    ...images.flatMap((img) => ['-drive', `file=${img},format=${machine.diskFormat},cache=${machine.diskCache},if=virtio`]),
  ];
}

function bootOnce({ vmlinuz, initrd, images, machine, timeoutMs, logFile }, useKvm) {
  const args = qemuArgs({ vmlinuz, initrd, images, machine }, useKvm);
  const started = Date.now();
  const log = fs.createWriteStream(logFile);
  return new Promise((resolve) => {
    const p = spawn(machine.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(p);
    p.on('exit', () => live.delete(p));
    const chunks = [];
    let timedOut = false, noBoot = false;
    const onData = (d) => {
      chunks.push(d);
      log.write(d);
      if (useKvm && !noBoot && KVM_BROKEN.test(d.toString())) { noBoot = true; p.kill('SIGKILL'); }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeoutMs);
    // The guest must reach /init soon (KVM: else KVM is broken here; TCG: else an early-boot stall): retry.
    const bootDeadline = useKvm ? 60 : machine.tcgBootSeconds;
    const deadline = setTimeout(() => {
      if (!Buffer.concat(chunks).includes('"type":"booted"')) { noBoot = true; p.kill('SIGKILL'); }
    }, bootDeadline * 1000);
    const finish = (code, error) => {
      clearTimeout(timer);
      clearTimeout(deadline);
      log.end();
      resolve({ serial: Buffer.concat(chunks).toString('utf8'), code, timedOut, noBoot, bootDeadline, error,
        accel: useKvm ? 'kvm' : 'tcg', seconds: (Date.now() - started) / 1000, args });
    };
    p.on('error', (e) => finish(null, e.message));
    p.on('close', (code) => finish(code));
  });
}
