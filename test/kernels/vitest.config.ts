// `npm run test:kernels`: the kernel matrix (kernels/), kept out of the normal `npm test`.
// A plain object (no import of the ESM-only 'vitest/config', which this CommonJS TS set-up cannot type-check).
export default {
  test: {
    include: ['test/kernels/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    // A kernel's beforeAll downloads (first run), builds an initramfs and boots it under emulation.
    hookTimeout: 30 * 60_000,
    reporters: ['verbose'],
  },
};
