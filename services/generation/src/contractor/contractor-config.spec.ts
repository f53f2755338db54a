import { describe, expect, it } from 'vitest';
import { ConfigError, databaseServiceConfig, loadConfig } from '@homiwork/config';
import { contractorConfigShape, withContractorRules } from './contractor-config.js';

const schema = withContractorRules(databaseServiceConfig.extend(contractorConfigShape));
const base = { DATABASE_URL: 'postgres://127.0.0.1/generation' };
const load = (env: Record<string, string>) => loadConfig(schema, { ...base, ...env });
const errorOf = (env: Record<string, string>): string => {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('contractor configuration', () => {
  it('defaults to the local adapter for every kind, with the documented limits', () => {
    const config = load({});
    expect(config.CONTRACTOR_ADAPTERS).toEqual({ song: 'local', image: 'local', poem: 'local', text: 'local', video: 'local' });
    expect(config.CONTRACTOR_TIMEOUT_MS).toBe(60_000);
    expect(config.CONTRACTOR_MAX_RESPONSE_MB).toBe(50);
    expect(config.CONTRACTOR_RETRIES).toBe(2);
    expect(config.CONTRACTOR_BREAKER_FAILURES).toBe(5);
    expect(config.CONTRACTOR_BREAKER_OPEN_MS).toBe(30_000);
  });

  it('puts the kinds named on http and leaves the rest local', () => {
    const config = load({ CONTRACTOR_ADAPTERS: ' poem=http, text = http ', CONTRACTOR_URL: 'https://ai.example.net/api', CONTRACTOR_API_KEY: 'k-123' });
    expect(config.CONTRACTOR_ADAPTERS).toEqual({ song: 'local', image: 'local', poem: 'http', text: 'http', video: 'local' });
  });

  it.each([
    ['an unknown kind', 'poem=http,essay=http', /^config error: CONTRACTOR_ADAPTERS names an unknown kind "essay"/],
    ['an unknown adapter', 'poem=openai', /^config error: CONTRACTOR_ADAPTERS names an unknown adapter "openai" for poem/],
    ['a kind named twice', 'poem=http,poem=local', /names the kind "poem" twice/],
    ['an entry without =', 'poem', /entry "poem" is not kind=adapter/],
  ])('refuses %s, naming it', (_case, value, message) => {
    expect(errorOf({ CONTRACTOR_ADAPTERS: value, CONTRACTOR_URL: 'https://ai.example.net', CONTRACTOR_API_KEY: 'k' })).toMatch(message);
  });

  it('requires the URL and the key once a kind uses http', () => {
    expect(errorOf({ CONTRACTOR_ADAPTERS: 'poem=http', CONTRACTOR_API_KEY: 'k' })).toBe('config error: CONTRACTOR_URL is required when CONTRACTOR_ADAPTERS puts poem on http');
    expect(errorOf({ CONTRACTOR_ADAPTERS: 'poem=http', CONTRACTOR_URL: 'https://ai.example.net' })).toMatch(/^config error: CONTRACTOR_API_KEY is required/);
  });

  it('refuses a URL with credentials, a query or another protocol, without echoing it', () => {
    for (const url of ['https://user:secret@ai.example.net', 'https://ai.example.net/?user=ana', 'ftp://ai.example.net']) {
      const message = errorOf({ CONTRACTOR_URL: url });
      expect(message).toMatch(/^config error: CONTRACTOR_URL must/);
      expect(message).not.toContain('secret');
      expect(message).not.toContain('ana');
    }
  });

  it('refuses plain http to another machine in production, allows it to this one', () => {
    const http = { CONTRACTOR_ADAPTERS: 'text=http', CONTRACTOR_API_KEY: 'k', NODE_ENV: 'production' };
    expect(errorOf({ ...http, CONTRACTOR_URL: 'http://ai.example.net' })).toMatch(/CONTRACTOR_URL must use https in production/);
    expect(load({ ...http, CONTRACTOR_URL: 'http://127.0.0.1:8080' }).CONTRACTOR_URL).toBe('http://127.0.0.1:8080');
  });
});
