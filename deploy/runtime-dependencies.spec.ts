/**
 * The production images install `dependencies` only (`--omit=dev`) and run the compiled
 * services (deploy/images/*.Dockerfile). This walks what those processes load at run time
 * — each manifest service's `main` and `service` module and the one-shot migration, through
 * every import they reach — and fails when a package they import is a devDependency or not
 * declared at all (then it would be missing from the image, or present only by accident).
 *
 * Files are compiled in memory with the options of tools/build/compile.mjs (swc: type-only
 * imports vanish, `@homiwork/*` aliases become relative paths), so the walk sees the
 * imports `node dist/...` sees, without needing a build first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import swc from '@swc/core';
import { describe, expect, it } from 'vitest';
import { SERVICE_MANIFEST } from '@homiwork/system-runner';
import { compileOptions } from '../tools/build/compile.mjs';
import { importSpecifiers, packageName } from './images/runtime-package.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

/** What the image runs: each manifest service (main, and service.ts for the migration) and the migration. */
const RUNTIME_ENTRIES = [
  ...SERVICE_MANIFEST.flatMap((entry) => [`${entry.root}/src/main.ts`, `${entry.root}/src/service.ts`]),
  'tools/system/src/migrate.ts',
];

// What decides which imports survive compilation: the build's own options.
const COMPILE_OPTIONS: swc.Options = { ...compileOptions, sourceMaps: false };

// The reader of the images' own narrowed package.json (deploy/images/runtime-package.mjs).
export { importSpecifiers, packageName };

/** The compiled file `target` (`./x.js`, `../lib/src/index.js`) as its TypeScript source. */
function sourceOf(from: string, target: string): string {
  const compiled = resolve(dirname(from), target);
  const candidates = [compiled.replace(/\.js$/, '.ts'), compiled, join(compiled, 'index.ts')];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`${relative(ROOT, from)} imports ${target}, which does not exist`);
  return found;
}

/** Every package (with the files importing it) that the entries load, transitively. */
export function runtimePackages(entries: readonly string[]): Map<string, Set<string>> {
  const packages = new Map<string, Set<string>>();
  const seen = new Set<string>();
  const queue = entries.map((entry) => join(ROOT, entry));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.endsWith('.ts')) continue;
    const { code } = swc.transformFileSync(file, { ...COMPILE_OPTIONS, filename: file });
    for (const specifier of importSpecifiers(code)) {
      if (specifier.startsWith('.')) queue.push(sourceOf(file, specifier));
      else if (!isBuiltin(specifier)) {
        const name = packageName(specifier);
        packages.set(name, (packages.get(name) ?? new Set()).add(relative(ROOT, file)));
      }
    }
  }
  return packages;
}

describe('runtime dependency walk', () => {
  it('reads the imports of compiled ESM', () => {
    const code = [
      "import 'reflect-metadata';",
      "import { a } from './a.js';",
      "import * as b from '@scope/b/sub';",
      "export { c } from '../c/index.js';",
      "export * from 'd';",
      "const e = await import('e');",
      "import {\n  f,\n  g\n} from 'fg';",
      "const text = 'import x from \"not-at-line-start\"';",
      "const H = createRequire(import.meta.url)('h');",
      "const i = require('i/lib');",
      'const loadSdk = createRequire(import.meta.url);',
      "const { j } = loadSdk('@scope/j');",
      "other.loadSdk('not-a-load');",
    ].join('\n');
    expect(importSpecifiers(code).sort()).toEqual(['../c/index.js', './a.js', '@scope/b/sub', '@scope/j', 'd', 'e', 'fg', 'h', 'i/lib', 'reflect-metadata']);
    expect(packageName('@scope/b/sub')).toBe('@scope/b');
    expect(packageName('pino/file')).toBe('pino');
  });

  it('sees through aliases and drops type-only imports, as the build does', () => {
    const packages = runtimePackages(['libs/storage/src/index.ts']);
    expect(packages.has('minio')).toBe(true);
    // local-s3.ts (s3rver) is `@homiwork/storage/local`, which the index must not reach…
    expect(packages.has('s3rver')).toBe(false);
    // …and which does reach it, through createRequire.
    expect(runtimePackages(['libs/storage/src/local-s3.ts']).has('s3rver')).toBe(true);
    // A type-only import leaves nothing behind (service-descriptor.ts imports types of typeorm and zod).
    expect(runtimePackages(['libs/system-runner/src/service-descriptor.ts']).size).toBe(0);
  });
});

describe('the production image (npm ci --omit=dev)', () => {
  const packages = runtimePackages(RUNTIME_ENTRIES);
  const dependencies = new Set(Object.keys(packageJson.dependencies ?? {}));
  const devDependencies = new Set(Object.keys(packageJson.devDependencies ?? {}));
  const describeUse = (name: string): string => `${name} (imported by ${[...(packages.get(name) ?? [])].sort().join(', ')})`;

  it('finds the stack the services run on', () => {
    for (const name of ['@nestjs/core', 'pg', 'typeorm', '@nats-io/transport-node', 'pino', 'zod']) expect(packages.has(name), name).toBe(true);
  });

  it('holds every package the compiled services and the migration import', () => {
    const dev = [...packages.keys()].filter((name) => devDependencies.has(name) && !dependencies.has(name));
    const undeclared = [...packages.keys()].filter((name) => !dependencies.has(name) && !devDependencies.has(name));
    // Joined, so the failure prints every package and who imports it in full.
    expect(dev.map(describeUse).join('\n'), 'devDependencies loaded at run time').toBe('');
    expect(undeclared.map(describeUse).join('\n'), 'undeclared packages loaded at run time').toBe('');
  });
});
