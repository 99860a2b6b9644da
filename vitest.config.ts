import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    // Real servers: first starts (Temporal, bundling workflows, npm start) take a while.
    hookTimeout: 180_000,
    testTimeout: 120_000,
    teardownTimeout: 60_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
