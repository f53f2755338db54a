import { fileURLToPath } from 'node:url';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

/**
 * The one-egress lint rule (eslint.config.mjs) is what keeps a new code path in generation
 * from reaching a provider past the scrubber. This proves it applies where it should, not
 * where it must not, and that it catches each way out.
 */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const RULES = ['@typescript-eslint/no-restricted-imports', 'no-restricted-globals', 'no-restricted-properties', 'no-restricted-syntax'] as const;

async function egressRules(file: string): Promise<Linter.RulesRecord> {
  const config = (await new ESLint({ cwd: root }).calculateConfigForFile(file)) as Linter.Config;
  return Object.fromEntries(RULES.filter((rule) => config.rules?.[rule] !== undefined).map((rule) => [rule, config.rules![rule]!]));
}

function lint(code: string, rules: Linter.RulesRecord): string[] {
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(code, [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { '@typescript-eslint': tseslint.plugin as unknown as ESLint.Plugin }, rules }], 'probe.ts');
  return messages.map((message) => `${message.line}:${message.ruleId ?? message.message}`);
}

describe('one egress: network clients in generation', () => {
  it('are refused in every way out, in a use case', async () => {
    const rules = await egressRules('services/generation/src/usecases/run-job/run-job.usecase.ts');
    const found = lint(
      [
        "import http from 'node:http';", // 1
        "import { request } from 'https';", // 2
        "import { connect } from 'node:net';", // 3
        "import { Agent } from 'undici';", // 4
        "import type { AddressInfo } from 'node:net';", // 5: a type only, allowed
        "export const a = fetch('http://x.invalid');", // 6
        "export const b = globalThis.fetch('http://x.invalid');", // 7
        "export const c = import('node:tls');", // 8
        "export const d = new WebSocket('ws://x.invalid');", // 9
        'export type T = AddressInfo; export const e = [http, request, connect, Agent];',
      ].join('\n'),
      rules,
    );
    expect(found.map((entry) => Number(entry.split(':')[0]))).toEqual([1, 2, 3, 4, 6, 7, 8, 9]);
  });

  it('do not apply to the http adapter, the media input reader or tests', async () => {
    for (const file of ['services/generation/src/contractor/http-contractor.ts', 'services/generation/src/media/media-uploads.ts', 'services/generation/src/contractor/egress.integration.spec.ts']) {
      expect(await egressRules(file), file).toEqual({});
    }
  });
});
