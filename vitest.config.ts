import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The slow tier (kernels built only for it: PREEMPT_RT): `npm run test:full`.
    exclude: ['test/full/**', 'node_modules/**'],
    // End-to-end tests build kernels and boot QEMU: on a 2-core machine they
    // must not run side by side. Unit tests are fast enough in one file queue.
    fileParallelism: false,
    // On a cold cache the first end-to-end test to need a kernel builds it
    // (about 10 minutes on two cores), inside whichever test runs first.
    testTimeout: 45 * 60_000,
    hookTimeout: 60 * 60_000,
    reporters: ['default'],
  },
});
