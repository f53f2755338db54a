import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * Secrets for a local run or a test run when none are configured: a fresh Ed25519 key
 * pair for access tokens, a random address-hash salt and an internal API token. Never used in production,
 * where the services refuse to start without configured secrets.
 */
export function devSecrets(): { JWT_PRIVATE_KEY: string; JWT_PUBLIC_KEY: string; IP_HASH_SALT: string; INTERNAL_API_TOKEN: string } {
  const keys = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { JWT_PRIVATE_KEY: keys.privateKey, JWT_PUBLIC_KEY: keys.publicKey, IP_HASH_SALT: randomBytes(32).toString('hex'), INTERNAL_API_TOKEN: randomBytes(32).toString('hex') };
}
