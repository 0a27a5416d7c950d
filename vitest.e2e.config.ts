import { defineConfig } from 'vitest/config';

/**
 * End-to-end tests on real kernels (`npm run test:e2e`, the second half of
 * `npm test`). test/e2e/setup.ts builds or fetches every kernel they need
 * first, one kernel build at a time, so no test waits on a build; the runs
 * many files assert over are made once (test/e2e/shared.ts). A test that
 * needs more than 10 minutes is hung: it fails naming itself.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/support/build-dist.ts', 'test/e2e/setup.ts'],
    pool: 'forks',
    // TCG guests with 2 vCPUs already fill both cores, and the fault tests' 2-3 s thresholds would
    // become a lottery beside another file's guests: one file at a time. Runs parallelise inside (--jobs).
    fileParallelism: false,
    testTimeout: 10 * 60_000,
    hookTimeout: 10 * 60_000,
    teardownTimeout: 60_000,
    // A file silent past its tests' own timeout has stalled: fail naming it (a test or hook times out at 10 min).
    reporters: ['default', ['./test/support/stall-watch.ts', { limitMs: 11 * 60_000 }]],
  },
});
