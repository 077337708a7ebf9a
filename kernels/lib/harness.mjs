// One kernel of the matrix, end to end: resolve, fetch, unpack, build the initrd, boot (or run on the host),
// parse. Resolves to a run record; never throws (a problem becomes status 'skipped' or 'failed').
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AptArchive } from './apt.mjs';
import { kernelTree, moduleClosure } from './kernel-tree.mjs';
import { commonArchive, hostUserland, kernelInitrd } from './initramfs.mjs';
import { makeImages } from './disks.mjs';
import { boot, machineFor, qemuBinary } from './qemu.mjs';
import { Arm64Archive, arm64Userland, missingArm64Tools } from './arm64.mjs';
import { runHost } from './host.mjs';
import { parseGuestOutput, tail } from './serial.mjs';
import { which } from './sh.mjs';
import { cacheDir, kernelsDir } from './paths.mjs';
import { expectationsFor } from './expect.mjs';

export const loadConfig = () => JSON.parse(fs.readFileSync(path.join(kernelsDir, 'kernels.json'), 'utf8'));

const GUEST_TOOLS = ['busybox', 'cpio', 'depmod', 'xz', 'mkfs.ext4', 'mkfs.xfs', 'dpkg-deb', 'apt-get'];

export class Matrix {
  constructor(config = loadConfig(), log = (m) => process.stderr.write(`[kernels] ${m}\n`)) {
    this.config = config;
    this.log = log;
    this.cache = cacheDir();
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), 'dontcache-kernels-'));
    this.platforms = new Map();
    this.prepared = new Map();
  }

  /**
   * What guests of an architecture share, made once per Matrix: the apt set-up, the qemu machine (kernels.json
   * `qemu`: one memory, CPU and disk setting for all, binary/board/CPU model/console per architecture), the
   * userland of the initramfs and the common cpio built from it.
   */
  platform(arch = 'x64') {
    if (!this.platforms.has(arch)) {
      const suites = this.config.kernels.filter((k) => (k.arch ?? 'x64') === arch).flatMap((k) => k.suites || []);
      const machine = machineFor(this.config.qemu, arch);
      let p;
      if (arch === 'x64') p = { apt: new AptArchive(this.cache, suites), userland: hostUserland };
      else if (arch === 'arm64') {
        const apt = new Arm64Archive(this.cache, suites);
        p = { apt, userland: arm64Userland(this.cache, apt), missing: missingArm64Tools };
      } else throw new Error(`unknown arch ${arch} in kernels.json`);
      this.platforms.set(arch, { ...p, arch, machine, common: null });
    }
    return this.platforms.get(arch);
  }

  /** What guest.js gets: the mode and its lab profile (kernels.json `lab`). */
  guestArgs(mode) {
    return { mode, lab: this.config.lab?.[mode === 'ab' ? 'ab' : 'ci'] };
  }

  timeoutMs(kernel, mode) {
    return (mode === 'ab' ? this.config.ab.bootTimeoutSeconds : kernel.bootTimeoutSeconds ?? this.config.defaults.bootTimeoutSeconds) * 1000;
  }

  dispose() { fs.rmSync(this.work, { recursive: true, force: true }); }

  /** Runs guest.js on `kernel`: every check (mode 'checks'), or the A/B lab profile only (mode 'ab'). */
  async run(kernel, { mode = 'checks' } = {}) {
    const started = Date.now();
    const rec = { id: kernel.id, mode, status: 'failed', reason: null, release: null, packages: [], results: [], labs: [], logs: [], accel: null, seconds: 0, serialTail: '' };
    try {
      if (kernel.host) await this.runOnHost(kernel, rec, mode);
      else await this.runInQemu(kernel, rec, mode);
    } catch (e) {
      rec.status = e.skip ? 'skipped' : 'failed';
      rec.reason = e.message;
    }
    rec.seconds = Math.round((Date.now() - started) / 100) / 10;
    rec.expect = expectationsFor(this.config, kernel, rec.release || undefined);
    this.log(`${kernel.id}: ${rec.status}${rec.reason ? ` (${rec.reason})` : ''} in ${rec.seconds} s`);
    return rec;
  }

  async runOnHost(kernel, rec, mode) {
    if (process.getuid() !== 0) throw skip('the host row needs root for loop mounts');
    rec.release = os.release();
    this.log(`host: running guest.js on ${rec.release} (loop-mounted ext4 and XFS)`);
    const r = await runHost({ work: this.work, timeoutMs: this.timeoutMs(kernel, mode), guestArgs: this.guestArgs(mode) });
    this.collect(rec, r);
  }

  /** Resolve, fetch and unpack a guest kernel once per Matrix (the A/B rounds boot it again). */
  prepare(kernel, rec) {
    if (!this.prepared.has(kernel.id)) {
      const p = this.resolve(kernel, rec);
      this.prepared.set(kernel.id, p);
      p.catch(() => this.prepared.delete(kernel.id));
    }
    return this.prepared.get(kernel.id);
  }

  async resolve(kernel, rec) {
    const platform = this.platform(kernel.arch);
    const { apt, machine } = platform;
    if (!(await qemuBinary(machine))) throw skip(`${machine.binary} is not installed (run kernels/install-deps.sh)`);
    const missing = [];
    for (const t of GUEST_TOOLS) if (!(await which(t))) missing.push(t);
    if (missing.length) throw skip(`missing host tools: ${missing.join(', ')} (run kernels/install-deps.sh)`);
    const missingUserland = await platform.missing?.();
    if (missingUserland) throw skip(`${missingUserland} (run kernels/install-deps.sh)`);
    let upd;
    try { upd = await apt.update(); } catch (e) { throw e.unreachable ? skip(e.message) : e; }
    if (upd.warning) { rec.logs.push(upd.warning); this.log(upd.warning); }
    const { version: v, incomplete } = await apt.newest(kernel);
    // The archive holds part of a kernel (seen: trixie-backports 6.19-7.1 binaries without their modules): nothing to boot.
    if (incomplete) throw skip(`not bootable from this archive: ${incomplete}`);
    if (!v) throw new Error(`no package matching ${kernel.packages.join(' + ')} (version ${kernel.version}) in ${kernel.suites.join(', ')}`);
    let debs;
    try { debs = await apt.fetch(kernel.packages.map((p) => p.replace('{V}', v))); } catch (e) { throw skip(`download failed: ${e.message}`); }
    rec.packages = debs.map((d) => ({ name: d.name, version: d.version, cached: d.cached }));
    this.log(`${kernel.id}: newest is ${debs.map((d) => `${d.name} ${d.version}`).join(' + ')} (${debs.every((d) => d.cached) ? 'cached' : 'downloaded'})`);
    const tree = await kernelTree(path.dirname(apt.root), `${kernel.id}-${v}`, debs);
    return { tree, mods: moduleClosure(tree, this.config.modules), packages: rec.packages };
  }

  async runInQemu(kernel, rec, mode) {
    const { tree, mods, packages } = await this.prepare(kernel, rec);
    const platform = this.platform(kernel.arch);
    const { machine } = platform;
    rec.packages = packages;
    rec.release = tree.release;
    rec.machine = machine;
    platform.common ??= commonArchive(this.work, platform.userland, `common-${platform.arch}`);
    const initrd = await kernelInitrd(this.work, kernel.id, await platform.common, mods.order, this.guestArgs(mode));
    const images = await makeImages(this.work, machine.diskSizeMiB);
    const logDir = path.join(this.cache, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    const logFile = path.join(logDir, `${kernel.id}${mode === 'ab' ? '-ab' : ''}.log`);
    this.log(`${kernel.id}: booting ${tree.release} for ${mode} (modules: ${mods.order.map((m) => m.name).join(' ')}); serial log ${logFile}`);
    try {
      const r = await boot({ vmlinuz: tree.vmlinuz, initrd, images: [images.ext4, images.xfs], machine, timeoutMs: this.timeoutMs(kernel, mode), logFile });
      if (r.note) rec.logs.push(r.note);
      this.collect(rec, r);
    } finally {
      fs.rmSync(initrd, { force: true });
      for (const img of Object.values(images)) fs.rmSync(img, { force: true });
    }
  }

  collect(rec, r) {
    const parsed = parseGuestOutput(r.serial);
    rec.accel = r.accel;
    rec.bootSeconds = r.seconds;
    rec.results = parsed.results;
    rec.labs = parsed.labs;
    rec.logs.push(...parsed.logs);
    rec.info = parsed.info;
    rec.serialTail = tail(r.serial);
    if (parsed.fatal) { rec.reason = `guest: ${parsed.fatal}`; return; }
    if (r.error) { rec.reason = `could not start: ${r.error}`; return; }
    if (!parsed.done) {
      rec.reason = r.timedOut ? `timed out after ${r.seconds} s before the guest finished` : `guest did not finish (exit ${r.code}${parsed.booted ? '' : ', never reached /init'})`;
      return;
    }
    rec.status = 'ok';
  }
}

function skip(message) { const e = new Error(message); e.skip = true; return e; }
