import { defineConfig } from 'vitest/config';

/**
 * Unit tests (`npm run test:unit`, the first half of `npm test`): pure parts,
 * the fake machine on captured logs, the CLI's refusals. No kernel is built
 * and nothing boots, so a test that takes more than seconds is hung: it
 * fails after 30 s naming itself, instead of holding CI for 45 minutes.
 * End-to-end tests on real kernels: vitest.e2e.config.ts; the nightly tier:
 * vitest.full.config.ts.
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    globalSetup: ['test/support/build-dist.ts'],
    // Forks, not worker threads: a worker-thread run once sat idle after its last file (2ca18f0, 728ea38).
    pool: 'forks',
    // One file at a time: several files assert on timers (150-300 ms fault thresholds, < 2 s bounds)
    // that a second file competing for the 2 cores would turn into a lottery.
    fileParallelism: false,
    testTimeout: 30_000,
    maxConcurrency: 4,
    hookTimeout: 60_000,
    // A worker that does not exit after its file (an open handle) is ended, not waited on forever.
    teardownTimeout: 20_000,
    // A file silent past its tests' own timeout has stalled: fail naming it (a unit test times out at 30 s).
    reporters: ['default', ['./test/support/stall-watch.ts', { limitMs: 60_000 }]],
  },
});
