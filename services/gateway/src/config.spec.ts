import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@homiwork/config';
import { gatewayConfigSchema, localCheckoutPageEnabled } from './config.js';

const { publicKey } = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const required = { IP_HASH_SALT: 's'.repeat(32), JWT_PUBLIC_KEY: publicKey, INTERNAL_API_TOKEN: 't'.repeat(32) };

describe('LOCAL_CHECKOUT_PAGE', () => {
  it('is off unless enabled, in every environment and when NODE_ENV is unset', () => {
    expect(localCheckoutPageEnabled(loadConfig(gatewayConfigSchema, required))).toBe(false);
    for (const NODE_ENV of ['development', 'test', 'production']) expect(localCheckoutPageEnabled(loadConfig(gatewayConfigSchema, { ...required, NODE_ENV })), NODE_ENV).toBe(false);
    expect(localCheckoutPageEnabled(loadConfig(gatewayConfigSchema, { ...required, LOCAL_CHECKOUT_PAGE: '' }))).toBe(false);
  });

  it('is on when enabled outside production; can be switched off anywhere, but not on in production', () => {
    expect(localCheckoutPageEnabled(loadConfig(gatewayConfigSchema, { ...required, LOCAL_CHECKOUT_PAGE: 'enabled' }))).toBe(true);
    expect(localCheckoutPageEnabled(loadConfig(gatewayConfigSchema, { ...required, NODE_ENV: 'test', LOCAL_CHECKOUT_PAGE: 'enabled' }))).toBe(true);
    expect(localCheckoutPageEnabled(loadConfig(gatewayConfigSchema, { ...required, NODE_ENV: 'development', LOCAL_CHECKOUT_PAGE: 'disabled' }))).toBe(false);
    expect(localCheckoutPageEnabled(loadConfig(gatewayConfigSchema, { ...required, NODE_ENV: 'production', LOCAL_CHECKOUT_PAGE: 'disabled' }))).toBe(false);
    expect(() => loadConfig(gatewayConfigSchema, { ...required, NODE_ENV: 'production', LOCAL_CHECKOUT_PAGE: 'enabled' })).toThrow(/LOCAL_CHECKOUT_PAGE may not be enabled in production/);
    expect(() => loadConfig(gatewayConfigSchema, { ...required, LOCAL_CHECKOUT_PAGE: 'yes' })).toThrow(/LOCAL_CHECKOUT_PAGE/);
  });
});

describe('RATE_LIMIT_GENERATION_PER_MINUTE', () => {
  it('defaults to 20 a minute and takes a setting', () => {
    expect(loadConfig(gatewayConfigSchema, required).RATE_LIMIT_GENERATION_PER_MINUTE).toBe(20);
    expect(loadConfig(gatewayConfigSchema, { ...required, RATE_LIMIT_GENERATION_PER_MINUTE: '5' }).RATE_LIMIT_GENERATION_PER_MINUTE).toBe(5);
  });
});
