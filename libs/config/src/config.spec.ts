import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, databaseServiceConfig, loadConfig, withTestOnlyClockControl } from './config.js';

const schema = withTestOnlyClockControl(databaseServiceConfig.extend({ IP_HASH_SALT: z.string().min(32) }));
const valid = { DATABASE_URL: 'postgres://127.0.0.1/app', IP_HASH_SALT: 'x'.repeat(32) };

describe('loadConfig', () => {
  it('fills defaults for optional settings', () => {
    const config = loadConfig(schema, valid);
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(config.OPS_PORT).toBe(9100);
    expect(config.EVENT_NAMESPACE).toBe('hw');
  });

  it('names a missing setting in one line', () => {
    expect(() => loadConfig(schema, { IP_HASH_SALT: 'x'.repeat(32) })).toThrow(new ConfigError('config error: DATABASE_URL is required'));
  });

  it('names a malformed setting without echoing its value', () => {
    const secret = 'short-secret-value';
    let message = '';
    try {
      loadConfig(schema, { ...valid, IP_HASH_SALT: secret });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^config error: IP_HASH_SALT /);
    expect(message).not.toContain(secret);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('takes several NATS servers, comma-separated (a cluster), and refuses a list with a bad member', () => {
    const cluster = 'nats://10.0.0.1:4222, nats://10.0.0.2:4222,tls://10.0.0.3:4222';
    expect(loadConfig(schema, { ...valid, NATS_URL: cluster }).NATS_URL).toBe(cluster);
    expect(() => loadConfig(schema, { ...valid, NATS_URL: 'nats://10.0.0.1:4222,http://10.0.0.2:4222' })).toThrow(/NATS_URL must be a URL \(nats, tls\) or a comma-separated list of them/);
    expect(() => loadConfig(schema, { ...valid, NATS_URL: 'nats://10.0.0.1:4222,' })).toThrow(/NATS_URL/);
  });

  it('refuses a database URL of the wrong protocol', () => {
    expect(() => loadConfig(schema, { ...valid, DATABASE_URL: 'mysql://127.0.0.1/app' })).toThrow(/DATABASE_URL must use postgres/);
  });

  it('refuses the clock switch outside test mode', () => {
    expect(() => loadConfig(schema, { ...valid, CLOCK_CONTROL: 'enabled', NODE_ENV: 'production' })).toThrow(/CLOCK_CONTROL may be enabled only when NODE_ENV=test/);
    expect(loadConfig(schema, { ...valid, CLOCK_CONTROL: 'enabled', NODE_ENV: 'test' }).CLOCK_CONTROL).toBe('enabled');
  });
});
