import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@homiwork/config';
import { generationConfigSchema } from './config.js';

const base = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x',
  S3_URL: 'http://KEY:SECRET@127.0.0.1:9000',
  MEDIA_INTERNAL_URL: 'http://127.0.0.1:9102',
  INTERNAL_API_TOKEN: 'x'.repeat(32),
};

describe('generation config', () => {
  it('defaults to the policy’s numbers: 90 days of retention, 7 in the trash, signed URLs of 5 minutes, 2 jobs at once', () => {
    const config = loadConfig(generationConfigSchema, base);
    expect(config).toMatchObject({ CONTENT_RETENTION_DAYS: 90, CONTENT_TRASH_DAYS: 7, CONTENT_URL_SECONDS: 300, GENERATION_CONCURRENCY: 2, GENERATION_MAX_ATTEMPTS: 3, MODERATION_MAX_HAMMING: 6 });
    expect(config.CONTRACTOR_ADAPTERS).toEqual({ song: 'local', image: 'local', poem: 'local', text: 'local', video: 'local' });
  });

  it('keeps retention inside the policy’s 2–4 months and signed URLs at 15 minutes at most', () => {
    expect(() => loadConfig(generationConfigSchema, { ...base, CONTENT_RETENTION_DAYS: '59' })).toThrow(/CONTENT_RETENTION_DAYS/);
    expect(() => loadConfig(generationConfigSchema, { ...base, CONTENT_RETENTION_DAYS: '121' })).toThrow(/CONTENT_RETENTION_DAYS/);
    expect(() => loadConfig(generationConfigSchema, { ...base, CONTENT_URL_SECONDS: '901' })).toThrow(/CONTENT_URL_SECONDS/);
  });

  it('refuses a sweep of unreserved jobs that could overtake a reservation still on its way', () => {
    expect(() => loadConfig(generationConfigSchema, { ...base, RPC_TIMEOUT_MS: '10000', GENERATION_UNRESERVED_AFTER_MS: '15000' })).toThrow(/GENERATION_UNRESERVED_AFTER_MS must be more than twice RPC_TIMEOUT_MS/);
  });

  it('needs media’s internal API and its token, and a malformed moderation rule stops the boot naming the setting', () => {
    expect(() => loadConfig(generationConfigSchema, { ...base, MEDIA_INTERNAL_URL: undefined })).toThrow(/MEDIA_INTERNAL_URL is required/);
    expect(() => loadConfig(generationConfigSchema, { ...base, INTERNAL_API_TOKEN: 'short' })).toThrow(/INTERNAL_API_TOKEN/);
    expect(() => loadConfig(generationConfigSchema, { ...base, MODERATION_TEXT_RULES: 'bad=(' })).toThrow(ConfigError);
    expect(() => loadConfig(generationConfigSchema, { ...base, MODERATION_TEXT_RULES: 'bad=(' })).toThrow(/MODERATION_TEXT_RULES/);
  });
});
