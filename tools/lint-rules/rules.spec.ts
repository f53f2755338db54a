import { RuleTester, type Rule } from 'eslint';
import { afterAll, describe, it } from 'vitest';
import plugin from './index.mjs';

// RuleTester reports through the test framework's hooks when they are handed to it.
Object.assign(RuleTester, { afterAll, describe, it, itOnly: it.only });

const rules = (plugin as unknown as { rules: Record<string, Rule.RuleModule> }).rules;
const tester = new RuleTester({ languageOptions: { ecmaVersion: 2023, sourceType: 'module' } });

tester.run('clock-only', rules['clock-only']!, {
  valid: ['const t = clock.now();', 'const d = new Date(row.created_at);', 'performance.now();'],
  invalid: [
    { code: 'const t = Date.now();', errors: [{ messageId: 'useClock' }] },
    { code: 'const d = new Date();', errors: [{ messageId: 'useClock' }] },
  ],
});

tester.run('no-raw-client-address', rules['no-raw-client-address']!, {
  valid: ['const h = caller.ipHash;', 'const x = request.headers;'],
  invalid: [
    { code: 'log(request.ip);', errors: [{ messageId: 'rawIp' }] },
    { code: 'const a = req.socket.remoteAddress;', errors: [{ messageId: 'rawIp' }] },
    { code: "const a = request['ips'];", errors: [{ messageId: 'rawIp' }] },
  ],
});

tester.run('no-synchronize', rules['no-synchronize']!, {
  valid: ['new DataSource({ synchronize: false });'],
  invalid: [
    { code: 'new DataSource({ synchronize: true });', errors: [{ messageId: 'sync' }] },
    { code: 'new DataSource({ synchronize: env.SYNC });', errors: [{ messageId: 'sync' }] },
  ],
});
