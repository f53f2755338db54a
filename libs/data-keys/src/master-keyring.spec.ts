import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '@homiwork/config';
import { checkDataKeysConfig, dataKeysConfigShape, MasterKeyring, parseMasterKeys } from './master-keyring.js';
import { DataKeyError } from './errors.js';

const schema = z.object(dataKeysConfigShape).superRefine(checkDataKeysConfig);
const key = () => randomBytes(32).toString('base64');

/** loadConfig's one-line error, checked never to contain any of the configured key text. */
function configError(env: Record<string, string>): string {
  try {
    loadConfig(schema, env);
  } catch (error) {
    const message = (error as Error).message;
    for (const value of Object.values(env)) {
      for (const part of value.split(/[,:]/).filter((piece) => piece.length >= 8)) expect(message).not.toContain(part);
    }
    return message;
  }
  throw new Error('config was accepted');
}

describe('data-key configuration', () => {
  it('takes one key as the current version without naming it', () => {
    const config = loadConfig(schema, { DATA_KEYS_MASTER_KEYS: `1:${key()}` });
    const keyring = MasterKeyring.fromConfig(config);
    expect(keyring.currentVersion).toBe(1);
    expect(keyring.versions).toEqual([1]);
  });

  it('takes several keys with the named current version, whitespace around entries ignored', () => {
    const config = loadConfig(schema, { DATA_KEYS_MASTER_KEYS: ` 1:${key()} , 7:${key()}`, DATA_KEYS_CURRENT_VERSION: '7' });
    const keyring = MasterKeyring.fromConfig(config);
    expect(keyring.currentVersion).toBe(7);
    expect(keyring.versions).toEqual([1, 7]);
  });

  it.each([
    ['missing', {}, /^config error: DATA_KEYS_MASTER_KEYS is required/],
    ['no version', { DATA_KEYS_MASTER_KEYS: key() }, /DATA_KEYS_MASTER_KEYS entry 1 is not <version>:<base64 of 32 bytes>/],
    ['31 bytes', { DATA_KEYS_MASTER_KEYS: `1:${randomBytes(31).toString('base64')}` }, /DATA_KEYS_MASTER_KEYS entry 1 \(version 1\) is not exactly 32 bytes/],
    ['33 bytes', { DATA_KEYS_MASTER_KEYS: `1:${key()},2:${randomBytes(33).toString('base64')}`, DATA_KEYS_CURRENT_VERSION: '1' }, /entry 2 \(version 2\) is not exactly 32 bytes/],
    ['not base64', { DATA_KEYS_MASTER_KEYS: `1:${key().slice(0, 40)}!!!!` }, /entry 1 is not <version>/],
    ['base64url', { DATA_KEYS_MASTER_KEYS: `1:${randomBytes(32).toString('base64url')}_-` }, /entry 1 is not <version>/],
    ['version 0', { DATA_KEYS_MASTER_KEYS: `0:${key()}` }, /entry 1 has version 0/],
    ['a version twice', { DATA_KEYS_MASTER_KEYS: `1:${key()},1:${key()}`, DATA_KEYS_CURRENT_VERSION: '1' }, /version 1 is given twice/],
    ['the same key twice', (() => { const same = key(); return { DATA_KEYS_MASTER_KEYS: `1:${same},2:${same}`, DATA_KEYS_CURRENT_VERSION: '2' }; })(), /versions 1 and 2 hold the same key/],
    ['several keys, no current', { DATA_KEYS_MASTER_KEYS: `1:${key()},2:${key()}` }, /^config error: DATA_KEYS_CURRENT_VERSION is required when DATA_KEYS_MASTER_KEYS holds more than one key/],
    ['current not held', { DATA_KEYS_MASTER_KEYS: `1:${key()}`, DATA_KEYS_CURRENT_VERSION: '2' }, /^config error: DATA_KEYS_CURRENT_VERSION is 2, a version DATA_KEYS_MASTER_KEYS does not hold/],
    ['current not a number', { DATA_KEYS_MASTER_KEYS: `1:${key()}`, DATA_KEYS_CURRENT_VERSION: 'two' }, /^config error: DATA_KEYS_CURRENT_VERSION /],
  ])('refuses %s, naming the setting and never the key', (_case, env, expected) => {
    expect(configError(env)).toMatch(expected);
  });

  it('fromConfig names the setting too (a service that skipped the schema check still stops)', () => {
    expect(() => MasterKeyring.fromConfig({ DATA_KEYS_MASTER_KEYS: 'nonsense' })).toThrow(/^DATA_KEYS_MASTER_KEYS entry 1 is not/);
    expect(() => MasterKeyring.fromConfig({ DATA_KEYS_MASTER_KEYS: `1:${key()}`, DATA_KEYS_CURRENT_VERSION: 3 })).toThrow(/^DATA_KEYS_CURRENT_VERSION is 3/);
  });

  it('a version the keyring lacks is a DataKeyError naming only the version', () => {
    const keyring = new MasterKeyring(parseMasterKeys(`1:${key()}`));
    expect(() => keyring.key(2)).toThrow(DataKeyError);
    expect(() => keyring.key(2)).toThrow('master key version 2 is not configured');
  });

  it('never shows key material when logged or inspected', async () => {
    const secret = key();
    const keyring = MasterKeyring.fromConfig({ DATA_KEYS_MASTER_KEYS: `1:${secret}` });
    const { inspect } = await import('node:util');
    const hex = Buffer.from(secret, 'base64').toString('hex');
    for (const shown of [JSON.stringify(keyring), inspect(keyring, { depth: 5 }), String(inspect({ keyring }, { depth: 5 }))]) {
      expect(shown).not.toContain(secret);
      expect(shown.replace(/[^0-9a-f]/g, '')).not.toContain(hex.slice(0, 16));
    }
    expect(JSON.stringify(keyring)).toBe('{"versions":[1],"currentVersion":1}');
  });

  it('keeps its own copy of the keys (the caller may zero what it passed)', () => {
    const raw = randomBytes(32);
    const keyring = new MasterKeyring(new Map([[1, raw]]));
    const copy = Buffer.from(raw);
    raw.fill(0);
    expect(keyring.key(1).equals(copy)).toBe(true);
  });
});
