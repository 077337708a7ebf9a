// The guests' virtual machine (kernels/lib/qemu.mjs machineFor, qemuArgs from kernels.json `qemu`) and the
// report's merge of a partial run with the previous one (kernels/lib/report.mjs mergeRuns, summarize), no qemu.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

type Machine = Record<string, unknown> & { arch: string; binary: string; console: string; kvm: boolean };
interface Qemu {
  machineFor(qemu: unknown, arch?: string): Machine;
  qemuArgs(o: { vmlinuz: string; initrd: string; images: string[]; machine: Machine }, useKvm: boolean): string[];
}
interface RunRec { id: string; date?: string; earlier?: boolean; status: string; results: unknown[]; expect?: unknown }
interface Report {
  mergeRuns(config: unknown, runs: RunRec[], last: unknown, date: string): RunRec[];
  summarize(config: unknown, runs: RunRec[]): { id: string; earlier: boolean; rows: { fs: string; checks: Record<string, string> }[] }[];
}

const kernelsDir = path.join(__dirname, '..', '..', 'kernels');
const config = JSON.parse(fs.readFileSync(path.join(kernelsDir, 'kernels.json'), 'utf8'));
let qemu: Qemu, report: Report;
beforeAll(async () => {
  const load = async <T>(f: string) => (await import(pathToFileURL(path.join(kernelsDir, 'lib', f)).href)) as T;
  qemu = await load<Qemu>('qemu.mjs');
  report = await load<Report>('report.mjs');
});

/** The value after `flag` in qemu's arguments (every one, for repeated flags). */
const after = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe('one machine for every guest', () => {
  const boot = (arch: string, kvm = false) =>
    qemu.qemuArgs({ vmlinuz: 'k', initrd: 'i', images: ['a.img', 'b.img'], machine: qemu.machineFor(config.qemu, arch) }, kvm);

  it('every architecture of kernels.json gets the same memory, vCPUs and disks; only CPU, board and console differ', () => {
    const archs = [...new Set(config.kernels.filter((k: { host?: boolean }) => !k.host).map((k: { arch?: string }) => k.arch ?? 'x64'))] as string[];
    expect(archs).toEqual(['x64', 'arm64']);
    const [x64, arm64] = archs.map((a) => boot(a));
    for (const flag of ['-m', '-smp', '-drive']) expect(after(arm64, flag)).toEqual(after(x64, flag));
    expect(after(x64, '-drive')).toEqual(['file=a.img,format=raw,cache=writeback,if=virtio', 'file=b.img,format=raw,cache=writeback,if=virtio']);
    expect(after(x64, '-cpu')).toEqual(['max']);
    expect(after(x64, '-M')).toEqual([]);
    expect(after(arm64, '-M')).toEqual(['virt']);
    expect(after(arm64, '-cpu')).toEqual(['max,pauth-impdef=on']);
    expect(after(arm64, '-append')[0]).toMatch(/^console=ttyAMA0 /);
    expect(after(x64, '-append')[0]).toMatch(/^console=ttyS0 /);
    expect(qemu.machineFor(config.qemu, 'arm64')).toMatchObject({ binary: 'qemu-system-aarch64', kvm: false });
    expect(qemu.machineFor(config.qemu, 'x64')).toMatchObject({ binary: 'qemu-system-x86_64', kvm: true });
  });

  it('KVM changes only the CPU model', () => {
    const tcg = boot('x64'), kvm = boot('x64', true);
    expect(after(kvm, '-cpu')).toEqual(['host']);
    expect(kvm).toContain('-enable-kvm');
    expect(kvm.filter((a) => a !== '-enable-kvm' && a !== 'host')).toEqual(tcg.filter((a) => a !== 'max'));
  });

  it('refuses an architecture entry that would make guests differ, and an unknown architecture', () => {
    const bad = { ...config.qemu, arch: { ...config.qemu.arch, arm64: { ...config.qemu.arch.arm64, memoryMiB: 4096 } } };
    expect(() => qemu.machineFor(bad, 'arm64')).toThrow(/qemu\.arch\.arm64 sets memoryMiB: only .* may differ/);
    expect(() => qemu.machineFor(config.qemu, 'riscv64')).toThrow(/no qemu machine for arch riscv64/);
    const { diskCache: _, ...noCache } = config.qemu;
    expect(() => qemu.machineFor(noCache, 'x64')).toThrow(/lacks diskCache/);
  });
});

describe('a partial run keeps the other kernels of the last report', () => {
  const result = (check: string, fsName: string) => ({ fs: fsName, check, status: 'pass', observed: 'accepted' });
  const rec = (id: string, checks: string[]): RunRec => ({
    id, status: 'ok', results: ['ext4', 'xfs'].flatMap((f) => checks.map((c) => result(c, f))),
    expect: { ext4: { dontcacheWrite: true }, xfs: { dontcacheWrite: true } },
  });
  const cfg = { kernels: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], checks: ['dontcache-write', 'page-size'] };

  it('replaces the rows it ran, keeps the others with their date, drops kernels no longer listed, in kernels.json order', () => {
    const last = { date: '2026-12-01T22:55:00.000Z', runs: [rec('a', ['dontcache-write']), rec('b', ['dontcache-write']), rec('gone', [])] };
    const all = report.mergeRuns(cfg, [rec('b', ['dontcache-write', 'page-size'])], last, '2026-12-02T10:00:00.000Z');
    expect(all.map((r) => [r.id, r.earlier, r.date])).toEqual([
      ['a', true, '2026-12-01T22:55:00.000Z'],
      ['b', false, '2026-12-02T10:00:00.000Z'],
    ]);
    // Kept again by a later partial run: still the date it ran.
    const again = report.mergeRuns(cfg, [rec('c', [])], { date: '2026-12-02T10:00:00.000Z', runs: all }, '2026-12-03T00:00:00.000Z');
    expect(again.map((r) => [r.id, r.date])).toEqual([['a', '2026-12-01T22:55:00.000Z'], ['b', '2026-12-02T10:00:00.000Z'], ['c', '2026-12-03T00:00:00.000Z']]);
  });

  it('a check added after an earlier run is "not run" there, but missing from this run it fails', () => {
    const all = report.mergeRuns(cfg, [rec('b', ['dontcache-write'])], { date: 'd', runs: [rec('a', ['dontcache-write'])] }, 'now');
    const s = report.summarize(cfg, all);
    expect(s.find((k) => k.id === 'a')!.rows[0].checks).toEqual({ 'dontcache-write': 'pass', 'page-size': 'not run' });
    expect(s.find((k) => k.id === 'b')!.rows[0].checks).toEqual({ 'dontcache-write': 'pass', 'page-size': 'fail' });
  });
});

describe("CI's subset (npm run test:kernels:ci)", () => {
  it('names kernels of kernels.json: one of each kind, the host among them', () => {
    const ids = config.kernels.map((k: { id: string }) => k.id);
    expect(config.ciKernels.filter((id: string) => !ids.includes(id))).toEqual([]);
    expect(config.ciKernels).toContain('host');
    const behaviours = new Set(config.ciKernels.flatMap((id: string) => {
      const e = config.kernels.find((k: { id: string }) => k.id === id).expect;
      return e === 'byRelease' ? [] : [e.ext4.writeback];
    }));
    expect([...behaviours].sort()).toEqual(['flusher-kick', 'inline-flush', 'unsupported']);
  });
});
