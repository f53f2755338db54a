import { gcmDecrypt, gcmEncrypt, NONCE_BYTES, TAG_BYTES } from './aes-gcm.js';
import { DataKeyError } from './errors.js';

/** Bytes a sealed value adds to its UTF-8 plaintext: version byte, nonce, tag. */
export const SEALED_OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;

/** Sealed data is bound to its owner and its header: a value moved to another user's row fails to open. */
function sealAad(keyVersion: number, userId: string): Buffer {
  return Buffer.concat([Buffer.from([keyVersion]), Buffer.from(userId, 'utf8')]);
}

/** `key version (1 byte) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)`, the version byte and user id as associated data. */
export function sealValue(dataKey: Buffer, userId: string, keyVersion: number, plaintext: string): Buffer {
  const plain = Buffer.from(plaintext, 'utf8');
  try {
    return Buffer.concat([Buffer.from([keyVersion]), gcmEncrypt(dataKey, plain, sealAad(keyVersion, userId))]);
  } finally {
    plain.fill(0);
  }
}

/** The text of a value `sealValue` made with the same key, user and key version; DataKeyError otherwise. */
export function openValue(dataKey: Buffer, userId: string, keyVersion: number, sealed: Buffer): string {
  if (sealed.length < SEALED_OVERHEAD_BYTES) throw new DataKeyError('sealed value is too short');
  const named = sealed[0]!;
  if (named !== keyVersion) throw new DataKeyError(`sealed value names data key version ${named}, the user's key is version ${keyVersion}`);
  const plain = gcmDecrypt(dataKey, sealed.subarray(1), sealAad(keyVersion, userId), 'sealed value');
  try {
    return plain.toString('utf8');
  } finally {
    plain.fill(0);
  }
}
