import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { RetentionRpc } from '@homiwork/contracts';
import type { z } from 'zod';

type ReceiptKey = z.infer<typeof RetentionRpc.ReceiptKey>;

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: ReceiptKey['jwk'];
}

const KID = /^[A-Za-z0-9._-]{1,64}$/;

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * The Ed25519 keys that sign erasure receipts, from RECEIPT_SIGNING_KEYS
 * (`<kid>:<base64 of the PKCS#8 DER private key>`, comma-separated): the first signs, the
 * others are retired and only served, so receipts they signed still verify. A bad entry
 * stops the service at boot; the message names the entry by position and kid, never the key.
 */
export class ReceiptKeys {
  private readonly keys: SigningKey[];

  constructor(setting: string) {
    const entries = setting
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0);
    if (entries.length === 0) throw new Error('RECEIPT_SIGNING_KEYS: at least one key is required');
    const seen = new Set<string>();
    this.keys = entries.map((entry, index) => {
      const colon = entry.indexOf(':');
      const kid = colon > 0 ? entry.slice(0, colon) : '';
      if (!KID.test(kid)) throw new Error(`RECEIPT_SIGNING_KEYS: entry ${index + 1} must be <kid>:<base64 PKCS#8 DER>, kid of [A-Za-z0-9._-]`);
      if (seen.has(kid)) throw new Error(`RECEIPT_SIGNING_KEYS: kid "${kid}" appears twice`);
      seen.add(kid);
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey({ key: Buffer.from(entry.slice(colon + 1), 'base64'), format: 'der', type: 'pkcs8' });
      } catch {
        throw new Error(`RECEIPT_SIGNING_KEYS: key "${kid}" is not a base64 PKCS#8 DER private key`);
      }
      if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`RECEIPT_SIGNING_KEYS: key "${kid}" is not an Ed25519 key`);
      const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
      return { kid, privateKey, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) } };
    });
  }

  get currentKid(): string {
    return this.keys[0]!.kid;
  }

  /** Every key's public half: the current one and the retired ones. */
  publicKeys(): ReceiptKey[] {
    return this.keys.map((key, index) => ({ kid: key.kid, alg: 'EdDSA', jwk: { ...key.publicJwk }, status: index === 0 ? 'current' : 'retired' }));
  }

  /**
   * A compact JWS (RFC 7515) of `payload` — exactly these bytes, so the signed JSON is the
   * JSON served — with the current key: header {alg: EdDSA, kid, typ}.
   */
  signCompact(payload: string): string {
    const key = this.keys[0]!;
    const header = base64url(JSON.stringify({ alg: 'EdDSA', kid: key.kid, typ: 'erasure-receipt+jws' }));
    const body = base64url(payload);
    const signature = sign(null, Buffer.from(`${header}.${body}`, 'ascii'), key.privateKey);
    return `${header}.${body}.${base64url(signature)}`;
  }
}
