import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration and end-to-end tests bind real sockets and spawn real proxies; keep them from starving each other on 2 cores.
    maxWorkers: 2,
    allowOnly: false,
  },
});
