import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `int` (integration and end-to-end) runs against the real
// servers that test/platform/global-setup.ts starts once per run (see docs/test-platform.md).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/int/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/platform/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
