import { configDefaults, defineConfig } from 'vitest/config';

// Sources, not dist: the '@wslane/source' export condition points every workspace import at src/.
const sourceConditions = ['@wslane/source', 'module', 'node', 'development|production'];

export default defineConfig({
  ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@wslane/source'] } },
  test: {
    testTimeout: 5_000,
    hookTimeout: 10_000,
    retry: 0,
    setupFiles: ['./scripts/vitest-setup.ts'],
    reporters: ['default', './scripts/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'core', include: ['packages/core/src/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['tests/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'tests/e2e/**'],
        },
      },
      {
        extends: true,
        // Real-browser tests: headless Debian chromium driven by playwright-core.
        test: { name: 'e2e', include: ['tests/e2e/**/*.test.ts'] },
      },
    ],
  },
});
