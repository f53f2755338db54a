import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

async function check(command: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [command, ...args], { cwd: root, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

// Type errors and architecture violations fail `npm test` like any other test.
describe('static checks', () => {
  it('type-checks the whole workspace in strict mode, tests included', async () => {
    const result = await check('node_modules/typescript/bin/tsc', ['-p', 'tsconfig.json', '--noEmit']);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 240_000);

  it('passes lint: type-aware rules, module boundaries and the architecture rules', async () => {
    // The module-boundary rule reads Nx's project graph; without it the rule is silently skipped.
    const graph = await check('node_modules/nx/dist/bin/nx.js', ['show', 'projects']);
    expect(graph.code).toBe(0);
    const result = await check('node_modules/eslint/bin/eslint.js', ['.', '--max-warnings', '0']);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 240_000);
});
