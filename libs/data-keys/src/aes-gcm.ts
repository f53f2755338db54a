import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DataKeyError } from './errors.js';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

/** AES-256-GCM with a fresh random 12-byte nonce: `nonce ‖ ciphertext ‖ tag`. */
export function gcmEncrypt(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]);
}

/**
 * Opens `nonce ‖ ciphertext ‖ tag`; any change to them or to `aad` is a DataKeyError
 * carrying `what` (a fixed description, never data).
 */
export function gcmDecrypt(key: Buffer, box: Buffer, aad: Buffer, what: string): Buffer {
  if (box.length < NONCE_BYTES + TAG_BYTES) throw new DataKeyError(`${what} is too short`);
  const nonce = box.subarray(0, NONCE_BYTES);
  const tag = box.subarray(box.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const head = decipher.update(box.subarray(NONCE_BYTES, box.length - TAG_BYTES));
  try {
    return Buffer.concat([head, decipher.final()]);
  } catch {
    throw new DataKeyError(`${what} failed authentication (altered, or not sealed for this user)`);
  } finally {
    // Unauthenticated plaintext must not outlive the check; the returned copy is the caller's.
    head.fill(0);
  }
}
