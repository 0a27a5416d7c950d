import { defineConfig } from 'vitest/config';

/**
 * The nightly tier (`npm run test:full` runs `npm test`, then this): what is
 * exhaustive or needs kernels only it builds (arm64 and PREEMPT_RT 6.12 and
 * 64 KiB pages from source, the CI pipelines executed as written, the
 * performance bisect and flaky detection over dozens of boots, bisects over a
 * kernel-test case and a Debian range). The shipped GitHub and GitLab
 * nightlies run it on a schedule; the README lists what only it covers.
 * Each file builds what it needs, one file at a time, so never two kernel
 * builds at once.
 */
export default defineConfig({
  test: {
    include: ['test/full/**/*.test.ts'],
    globalSetup: ['test/support/build-dist.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60 * 60_000,
    hookTimeout: 60 * 60_000,
    teardownTimeout: 60_000,
    // A file silent past its tests' own timeout has stalled: fail naming it (a test or hook times out at 60 min).
    reporters: ['default', ['./test/support/stall-watch.ts', { limitMs: 61 * 60_000 }]],
  },
});
