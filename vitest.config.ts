import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// One alias per workspace library, read from tsconfig.base.json so the two never drift.
const tsconfig = JSON.parse(readFileSync(new URL('./tsconfig.base.json', import.meta.url), 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};
const alias = Object.fromEntries(
  Object.entries(tsconfig.compilerOptions.paths).map(([name, [target]]) => [name, resolve(import.meta.dirname, target!)]),
);

export default defineConfig({
  plugins: [swc.vite({ tsconfigFile: false, jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false }, target: 'es2023', keepClassNames: true } })],
  resolve: { alias },
  test: {
    include: ['libs/**/*.spec.ts', 'services/**/*.spec.ts', 'e2e/**/*.e2e.ts', 'deploy/**/*.spec.ts', 'tools/**/*.spec.ts'],
    globalSetup: ['./libs/testing/src/global-setup.ts'],
    setupFiles: ['./libs/testing/src/setup-file.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './tools/summary-reporter.ts'],
  },
});
