// The package.json of one image: the root package.json with `dependencies` narrowed to the
// packages that image's compiled entry files reach, and no devDependencies or scripts. The
// image's prod-deps stage installs it against the repository's lockfile, so each service
// ships only its own runtime packages (the gateway no sharp, no TypeORM) at locked versions.
//
//   node deploy/images/runtime-package.mjs dist/services/media/src/main.js [more entries…] > package.json
//
// Plain Node with no dependencies: it runs in the image's build stage after the Nx build,
// on the compiled JavaScript, where `@homiwork/*` aliases are already relative imports.
// deploy/runtime-dependencies.spec.ts walks the TypeScript sources with the same reader.
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Module specifiers of compiled ESM: static imports, re-exports, literal dynamic imports,
 * and CommonJS loads: `require('x')`, `createRequire(…)('x')`, and `load('x')` where
 * `const load = createRequire(…)` (how libs/observability loads the tracing SDK lazily).
 */
export function importSpecifiers(code) {
  const requireFunctions = [...code.matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*createRequire\(/g)].map((match) => match[1] ?? '');
  const found = [
    ...requireFunctions.flatMap((name) => [...code.matchAll(new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}\\(\\s*(['"])([^'"]+)\\1\\s*\\)`, 'g'))]),
    // At a line's start, or right after a comment that ends on that line (swc writes a file's
    // leading doc comment and its first import as `*/ import "reflect-metadata";`).
    ...code.matchAll(/^(?:.*\*\/)?\s*(?:import|export)\s[^'"]*?\bfrom\s*(['"])([^'"]+)\1/gm),
    ...code.matchAll(/^(?:.*\*\/)?\s*import\s*(['"])([^'"]+)\1/gm),
    ...code.matchAll(/\bimport\(\s*(['"])([^'"]+)\1\s*\)/g),
    ...code.matchAll(/\bcreateRequire\([^)]*\)\(\s*(['"])([^'"]+)\1\s*\)/g),
    ...code.matchAll(/\brequire(?:\.resolve)?\(\s*(['"])([^'"]+)\1\s*\)/g),
  ].map((match) => match[2] ?? '');
  return [...new Set(found)];
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
export function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** The packages that compiled `entries` load, following their relative imports (sorted). */
export function compiledRuntimePackages(entries) {
  const packages = new Set();
  const seen = new Set();
  const queue = entries.map((entry) => resolve(entry));
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.endsWith('.js')) continue;
    if (!existsSync(file)) throw new Error(`${file} is imported but was not built`);
    for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) queue.push(join(dirname(file), specifier));
      else if (!isBuiltin(specifier)) packages.add(packageName(specifier));
    }
  }
  return [...packages].sort();
}

/**
 * The image's package.json: `"type": "module"` (dist/**\/*.js are ES modules), engines, and
 * the root's `dependencies` entries (same ranges, so the lockfile's versions satisfy them)
 * for `packages`. A package that is not a declared dependency is an error: the image would
 * lack it (deploy/runtime-dependencies.spec.ts names who imports it).
 */
export function runtimePackageJson(root, packages) {
  const declared = root.dependencies ?? {};
  const missing = packages.filter((name) => !(name in declared));
  if (missing.length > 0) throw new Error(`not in package.json dependencies: ${missing.join(', ')}`);
  return {
    name: root.name,
    version: root.version,
    private: true,
    type: root.type,
    ...(root.engines ? { engines: root.engines } : {}),
    dependencies: Object.fromEntries(packages.map((name) => [name, declared[name]])),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entries = process.argv.slice(2);
  if (entries.length === 0) {
    process.stderr.write('usage: node deploy/images/runtime-package.mjs <compiled entry.js>...\n');
    process.exit(2);
  }
  const root = JSON.parse(readFileSync('package.json', 'utf8'));
  process.stdout.write(`${JSON.stringify(runtimePackageJson(root, compiledRuntimePackages(entries)), null, 2)}\n`);
}
