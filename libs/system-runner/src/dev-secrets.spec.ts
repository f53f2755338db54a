import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { persistentNatsPasswords } from './dev-secrets.js';

const dirs: string[] = [];
const runDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-secrets-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('NATS passwords of the development system', () => {
  it('always start with a letter, which nats-server reads as a string (a leading digit fails its config parser)', () => {
    const users = Array.from({ length: 300 }, (_, index) => `user${index}`);
    const passwords = Object.values(persistentNatsPasswords(runDir(), users));
    expect(passwords).toHaveLength(300);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z][A-Za-z0-9_-]{15,}$/);
  });

  it('replaces a kept password that would break the config, and keeps a good one', () => {
    const dir = runDir();
    writeFileSync(join(dir, 'nats-passwords.json'), JSON.stringify({ chat: '6bad-starts-with-a-digit', media: 'pGoodPasswordOfSixteen' }));
    const passwords = persistentNatsPasswords(dir, ['chat', 'media']);
    expect(passwords.media).toBe('pGoodPasswordOfSixteen');
    expect(passwords.chat).toMatch(/^[A-Za-z]/);
  });
});
