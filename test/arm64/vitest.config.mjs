// The arm64 suite (npm run test:arm64, see run.mjs): the main configuration with worker threads
// instead of forked workers, setup.ts in every worker, and the hang guards widened for emulation.
import base from '../../vitest.config.mts';

export default {
  ...base,
  test: {
    ...base.test, pool: 'threads', execArgv: [], setupFiles: ['test/arm64/setup.ts'],
    testTimeout: 600_000, hookTimeout: 600_000,
  },
};
