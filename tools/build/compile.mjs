// The `build` target of every project: compiles `<projectRoot>/src/**/*.ts` (not tests)
// to `dist/<projectRoot>/src/**/*.js` with swc — ESM, decorator metadata for Nest, and the
// `@homiwork/*` path aliases rewritten to relative imports so `node dist/...` runs with no
// loader. Type-checking is `npm run typecheck` (tsc), not this step.
import { readFileSync, rmSync, mkdirSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import swc from '@swc/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { paths } = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')).compilerOptions;

/** The swc options of every build (the runtime-dependency check compiles with them too). */
export const compileOptions = {
  swcrc: false,
  sourceMaps: true,
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2023',
    keepClassNames: true,
    baseUrl: root,
    paths,
  },
  module: { type: 'es6', resolveFully: true },
};

const isSource = (file) => file.endsWith('.ts') && !file.endsWith('.spec.ts') && !file.endsWith('.d.ts');

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'test' || name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (isSource(name)) yield path;
  }
}

export async function compileProject(projectRoot) {
  const sourceDir = join(root, projectRoot, 'src');
  const outDir = join(root, 'dist', projectRoot);
  rmSync(outDir, { recursive: true, force: true });
  let count = 0;
  for (const file of sources(sourceDir)) {
    const target = join(outDir, relative(join(root, projectRoot), file)).replace(/\.ts$/, '.js');
    const output = await swc.transformFile(file, { ...compileOptions, filename: file, outputPath: target });
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `${output.code}\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
    if (output.map) writeFileSync(`${target}.map`, output.map);
    count++;
  }
  return count;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const projectRoot of process.argv.slice(2)) {
    const count = await compileProject(projectRoot);
    process.stdout.write(`compiled ${count} files of ${projectRoot} into dist/${projectRoot}\n`);
  }
}
