import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevSecrets {
  JWT_PRIVATE_KEY: string;
  JWT_PUBLIC_KEY: string;
  IP_HASH_SALT: string;
  INTERNAL_API_TOKEN: string;
  /** The HMAC key billing checks payment webhooks with; the local processor signs with it. */
  PAYMENT_WEBHOOK_SECRET: string;
  /**
   * Master keys of the per-user data keys (`<version>:<base64 of 32 bytes>`); kept across
   * restarts, since losing it makes every sealed chat message unreadable.
   */
  DATA_KEYS_MASTER_KEYS: string;
  /**
   * Retention's Ed25519 keys that sign erasure receipts: `<kid>:<base64 of the PKCS#8 DER
   * private key>`, comma-separated, the first signing, the others retired (still served for
   * verification). Kept across restarts, since receipts stay verifiable.
   */
  RECEIPT_SIGNING_KEYS: string;
}

/**
 * Fresh secrets for a local or test run: an Ed25519 key pair for access tokens, the
 * address-hash salt, the internal API token, the payment webhook key and a data-key
 * master key (version 1). Production configures its own; the services refuse to start
 * without them.
 */
export function generateDevSecrets(): DevSecrets {
  const keys = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const receiptKey = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
  return {
    RECEIPT_SIGNING_KEYS: `receipts-${randomBytes(4).toString('hex')}:${receiptKey.privateKey.toString('base64')}`, JWT_PRIVATE_KEY: keys.privateKey, JWT_PUBLIC_KEY: keys.publicKey, IP_HASH_SALT: randomBytes(32).toString('hex'), INTERNAL_API_TOKEN: randomBytes(32).toString('hex'), PAYMENT_WEBHOOK_SECRET: randomBytes(32).toString('hex'), DATA_KEYS_MASTER_KEYS: `1:${randomBytes(32).toString('base64')}` };
}

/**
 * The secrets of `npm start`, kept in the run directory (owner-only) and reused, so a
 * restart neither logs every user out nor changes the address hashes (and, later, keeps
 * encrypted data readable). New ones only when none exist or `rotate` is asked for.
 */
export function persistentDevSecrets(runDir: string, options: { rotate?: boolean } = {}): { secrets: DevSecrets; created: boolean } {
  const file = join(runDir, 'secrets.json');
  const kept = !options.rotate && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>) : undefined;
  // A secret added since the file was written (a new service's) is generated and kept; the others stay.
  const secrets = { ...generateDevSecrets(), ...kept };
  if (kept && Object.keys(secrets).every((key) => key in kept)) return { secrets, created: false };
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secrets, created: kept === undefined };
}

/**
 * One NATS password per user (each service, the provisioning user) for the nats-server
 * `npm start` runs, kept in `<runDir>/nats-passwords.json` (owner-only) apart from
 * secrets.json: every service gets the shared secrets, but only its own NATS password.
 * Users added to the manifest since get a password; `rotate` replaces them all.
 */
/**
 * nats-server reads `$VAR` in its configuration as a value of the config language: one that
 * starts with a digit or a dash is taken for a number and fails to parse (a base64url password
 * does that 1 time in 6). A letter first keeps every password a string.
 */
const NATS_SAFE_PASSWORD = /^[A-Za-z][A-Za-z0-9_-]{15,}$/;
const natsPassword = (): string => `p${randomBytes(24).toString('base64url')}`;

export function persistentNatsPasswords(runDir: string, users: readonly string[], options: { rotate?: boolean } = {}): Record<string, string> {
  const file = join(runDir, 'nats-passwords.json');
  const kept = !options.rotate && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  const usable = (password: string | undefined): password is string => password !== undefined && NATS_SAFE_PASSWORD.test(password);
  const passwords = Object.fromEntries(users.map((user) => [user, usable(kept[user]) ? kept[user] : natsPassword()]));
  if (users.some((user) => !usable(kept[user]))) {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(passwords), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return passwords;
}
