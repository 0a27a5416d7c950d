import { defineConfig } from 'vitest/config';

/**
 * The slow tier: end-to-end tests on kernels that only they build (a
 * PREEMPT_RT 6.12, several minutes each on two cores). `npm test` covers the
 * same mechanisms on Debian's prebuilt kernels; `npm run test:full` runs
 * this on top of it.
 */
export default defineConfig({
  test: {
    include: ['test/full/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 45 * 60_000,
    hookTimeout: 60 * 60_000,
    reporters: ['default'],
  },
});
