import { describe, expect, it } from 'vitest';
import { loadBinding, unsupportedBinding } from '../src/native';
import * as dc from '../src/index';

// This machine's prebuild directory: linux-x64, or linux-arm64 (the arm64 suite under qemu-user).
const prebuildDir = `prebuilds/${process.platform}-${process.arch}/`;

describe('the native addon', () => {
  it('is loaded on Linux, from a prebuild or a local compile', () => {
    expect(dc.platformSupported).toBe(true);
    expect(dc.addonPath).toMatch(new RegExp(`(build/Release/dontcache\\.node|${prebuildDir}dontcache\\.glibc\\.node)$`));
    console.log(`addon: ${dc.addonPath}`);
    // CI runs the suite once on a fresh compile and once on the committed prebuild alone.
    const expected = process.env.DONTCACHE_EXPECT_ADDON;
    if (expected === 'build') expect(dc.addonPath).toMatch(/build\/Release\//);
    if (expected === 'prebuild') expect(dc.addonPath).toContain(prebuildDir);
  });

  it('exports the kernel values of every flag', () => {
    expect(dc.constants).toMatchObject({
      RWF_HIPRI: 0x1, RWF_DSYNC: 0x2, RWF_SYNC: 0x4, RWF_NOWAIT: 0x8, RWF_APPEND: 0x10, RWF_NOAPPEND: 0x20,
      RWF_ATOMIC: 0x40, RWF_DONTCACHE: 0x80, RWF_NOSIGNAL: 0x100,
      SYNC_FILE_RANGE_WAIT_BEFORE: 1, SYNC_FILE_RANGE_WRITE: 2, SYNC_FILE_RANGE_WAIT_AFTER: 4,
      POSIX_FADV_NORMAL: 0, POSIX_FADV_RANDOM: 1, POSIX_FADV_SEQUENTIAL: 2, POSIX_FADV_WILLNEED: 3,
      POSIX_FADV_DONTNEED: 4, POSIX_FADV_NOREUSE: 5, IOV_MAX: 1024, MAX_BUFFERS: 2 ** 24,
    });
    // The running kernel's page size (arm64 kernels also use 16 and 64 KiB), and the kernel's
    // per-call cap MAX_RW_COUNT derived from it: INT_MAX rounded down to a page.
    const { PAGE_SIZE, MAX_BYTES_PER_CALL } = dc.constants;
    expect([4096, 16384, 65536]).toContain(PAGE_SIZE);
    expect(MAX_BYTES_PER_CALL).toBe(0x80000000 - PAGE_SIZE);
    expect(Object.isFrozen(dc.constants)).toBe(true);
  });
});

describe('the stand-in on other platforms', () => {
  const loaded = loadBinding('darwin', () => {
    throw new Error('must not load the addon elsewhere');
  });

  it('says it is unsupported', () => {
    expect(loaded.supported).toBe(false);
    expect(loaded.source).toMatch(/darwin/);
  });

  it('throws a clear ENOSYS system error from every function', () => {
    const stub = unsupportedBinding('win32') as unknown as Record<string, (...a: unknown[]) => unknown>;
    const names = Object.keys(stub).filter((n) => typeof stub[n] === 'function');
    expect(names).toContain('pwritev2');
    expect(names).toContain('cachestatSync');
    for (const name of names) {
      expect(() => stub[name](1, Buffer.alloc(1), 0, 0, () => {})).toThrow(
        expect.objectContaining({
          code: 'ENOSYS',
          errno: -38,
          syscall: name.replace(/Sync$/, ''),
          message: expect.stringMatching(/^ENOSYS: function not implemented, \w+ \(dontcache needs Linux; this platform is win32\)$/),
        }),
      );
    }
  });
});
