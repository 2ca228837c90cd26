import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // The console's browser script is bundled (esbuild) into a generated module the page imports.
    globalSetup: ['test/setup/bundle-console.ts'],
  },
});
