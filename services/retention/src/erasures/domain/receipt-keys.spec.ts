import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReceiptKeys } from './receipt-keys.js';

const pkcs8 = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');

describe('ReceiptKeys', () => {
  it('signs with the first key a compact JWS whose payload is exactly the bytes given', () => {
    const keys = new ReceiptKeys(`k1:${pkcs8()},k0:${pkcs8()}`);
    const payload = '{"id":"x","b":1,"a":"é"}';
    const jws = keys.signCompact(payload);
    const [header, body, signature] = jws.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: 'k1', typ: 'erasure-receipt+jws' });
    expect(Buffer.from(body!, 'base64url').toString('utf8')).toBe(payload);
    const current = keys.publicKeys()[0]!;
    const publicKey = createPublicKey({ key: current.jwk, format: 'jwk' });
    expect(verify(null, Buffer.from(`${header}.${body}`), publicKey, Buffer.from(signature!, 'base64url'))).toBe(true);
    // The retired key does not verify it.
    const retired = createPublicKey({ key: keys.publicKeys()[1]!.jwk, format: 'jwk' });
    expect(verify(null, Buffer.from(`${header}.${body}`), retired, Buffer.from(signature!, 'base64url'))).toBe(false);
  });

  it('serves every public key, the first current and the rest retired, and nothing private', () => {
    const keys = new ReceiptKeys(` a:${pkcs8()} , b:${pkcs8()}`);
    const served = keys.publicKeys();
    expect(served.map((key) => [key.kid, key.status, key.alg, key.jwk.kty, key.jwk.crv])).toEqual([
      ['a', 'current', 'EdDSA', 'OKP', 'Ed25519'],
      ['b', 'retired', 'EdDSA', 'OKP', 'Ed25519'],
    ]);
    expect(Object.keys(served[0]!.jwk).sort()).toEqual(['crv', 'kty', 'x']);
  });

  it('refuses bad settings with a message that never contains the key', () => {
    const secret = pkcs8();
    expect(() => new ReceiptKeys('')).toThrow(/at least one key/);
    expect(() => new ReceiptKeys(secret)).toThrow(/entry 1 must be <kid>:/);
    expect(() => new ReceiptKeys(`a:${secret},a:${pkcs8()}`)).toThrow(/appears twice/);
    expect(() => new ReceiptKeys('a:bm90IGEga2V5')).toThrow(/not a base64 PKCS#8 DER/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    expect(() => new ReceiptKeys(`r:${rsa}`)).toThrow(/not an Ed25519 key/);
    try {
      new ReceiptKeys(`a:${secret},a:${secret}`);
    } catch (error) {
      expect(String(error)).not.toContain(secret);
    }
  });
});
