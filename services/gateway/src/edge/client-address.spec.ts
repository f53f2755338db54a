import { describe, expect, it } from 'vitest';
import { loadConfig } from '@homiwork/config';
import { gatewayConfigSchema } from '../config.js';
import { clientNetwork } from './client-address.js';

describe('the network an address hash is taken of', () => {
  it('is an IPv4 address itself, also IPv4-mapped', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('is the /64 of an IPv6 address, however it is written', () => {
    const network = '2001:db8:aa:bb::/64';
    for (const address of ['2001:db8:aa:bb::1', '2001:0db8:00aa:00bb:ffff:ffff:ffff:ffff', '2001:DB8:AA:BB:1:2:3:4', '2001:db8:aa:bb::1%eth0']) expect(clientNetwork(address), address).toBe(network);
    expect(clientNetwork('2001:db8:aa:bc::1')).not.toBe(network);
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('fe80::1:2:3:4')).toBe('fe80:0:0:0::/64');
    expect(clientNetwork('2001:db8::')).toBe('2001:db8:0:0::/64');
  });
});

describe('TRUST_PROXY', () => {
  const env = { IP_HASH_SALT: 'x'.repeat(32), JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----', INTERNAL_API_TOKEN: 'y'.repeat(32) };
  it('may not be true in production, where it must list the proxies', () => {
    expect(() => loadConfig(gatewayConfigSchema, { ...env, NODE_ENV: 'production', TRUST_PROXY: 'true' })).toThrow(/config error: TRUST_PROXY may not be true in production/);
    expect(loadConfig(gatewayConfigSchema, { ...env, NODE_ENV: 'production', TRUST_PROXY: '10.0.0.0/8' }).TRUST_PROXY).toEqual(['10.0.0.0/8']);
    expect(loadConfig(gatewayConfigSchema, { ...env, NODE_ENV: 'development', TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
  });
});
