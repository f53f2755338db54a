import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DataKeyError } from './errors.js';

/** AES-256: every master key is exactly this many bytes. */
export const MASTER_KEY_BYTES = 32;

const ENTRY = /^(\d{1,9}):([A-Za-z0-9+/]+={0,2})$/;

/**
 * `1:<base64 of 32 bytes>,2:<base64>`: master keys by version. Error messages name the
 * entry by position and never repeat any of its text (it is a secret).
 */
export function parseMasterKeys(value: string): Map<number, Buffer> {
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('must hold at least one key as <version>:<base64 of 32 bytes>');
  const keys = new Map<number, Buffer>();
  entries.forEach((entry, index) => {
    const match = ENTRY.exec(entry);
    if (!match) throw new Error(`entry ${index + 1} is not <version>:<base64 of 32 bytes>`);
    const version = Number(match[1]);
    if (version < 1) throw new Error(`entry ${index + 1} has version 0 (versions start at 1)`);
    if (keys.has(version)) throw new Error(`version ${version} is given twice`);
    const key = Buffer.from(match[2]!, 'base64');
    // Buffer.from ignores trailing garbage in base64; the round trip catches a mistyped key.
    if (key.length !== MASTER_KEY_BYTES || key.toString('base64') !== match[2]) {
      throw new Error(`entry ${index + 1} (version ${version}) is not exactly ${MASTER_KEY_BYTES} bytes of base64`);
    }
    for (const [otherVersion, other] of keys) {
      // The same key under two versions would make a "rotation" to it rotate nothing.
      if (timingSafeEqual(other, key)) throw new Error(`versions ${otherVersion} and ${version} hold the same key`);
    }
    keys.set(version, key);
  });
  return keys;
}

/**
 * The version new wraps use: the configured one, or the only key's when there is just one.
 * With several keys it must be named, so that adding a key (rotation step 1) never
 * switches wrapping to it before every instance has it.
 */
export function resolveCurrentVersion(keys: ReadonlyMap<number, unknown>, configured: number | undefined): number {
  if (configured === undefined) {
    if (keys.size === 1) return [...keys.keys()][0]!;
    throw new Error('is required when DATA_KEYS_MASTER_KEYS holds more than one key');
  }
  if (!keys.has(configured)) throw new Error(`is ${configured}, a version DATA_KEYS_MASTER_KEYS does not hold`);
  return configured;
}

/**
 * The data-key settings, one spelling for every service that seals user data. Spread into
 * the service's config schema and add `checkDataKeysConfig` as a superRefine, so a
 * current version the keyring lacks stops the service at boot with one line.
 */
export const dataKeysConfigShape = {
  /** Master keys by version: `1:<base64 of 32 bytes>,2:<base64>`. Keep every version some data key is still wrapped under. */
  DATA_KEYS_MASTER_KEYS: z.string({ error: 'is required (<version>:<base64 of 32 bytes>, comma-separated)' }).superRefine((value, context) => {
    try {
      parseMasterKeys(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : 'is invalid' });
    }
  }),
  /** The master key version new and re-wrapped data keys use; may be left out when there is one key. */
  DATA_KEYS_CURRENT_VERSION: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').optional(),
};

export interface DataKeysConfig {
  DATA_KEYS_MASTER_KEYS: string;
  DATA_KEYS_CURRENT_VERSION?: number | undefined;
}

/** The cross-setting rule (the current version must be one of the keys): `.superRefine(checkDataKeysConfig)`. */
export function checkDataKeysConfig(config: DataKeysConfig, context: z.RefinementCtx): void {
  let keys: Map<number, Buffer>;
  try {
    keys = parseMasterKeys(config.DATA_KEYS_MASTER_KEYS);
  } catch {
    return; // reported by the setting's own check
  }
  try {
    resolveCurrentVersion(keys, config.DATA_KEYS_CURRENT_VERSION);
  } catch (error) {
    context.addIssue({ code: 'custom', path: ['DATA_KEYS_CURRENT_VERSION'], message: error instanceof Error ? error.message : 'is invalid' });
  } finally {
    for (const key of keys.values()) key.fill(0);
  }
}

/**
 * The master keys of this process, by version, and the one new wraps use. Master keys
 * live as long as the process (they are configuration); data keys never do.
 */
export class MasterKeyring {
  private readonly keys: ReadonlyMap<number, Buffer>;
  readonly currentVersion: number;

  constructor(keys: ReadonlyMap<number, Buffer>, currentVersion?: number) {
    for (const [version, key] of keys) {
      if (!Number.isInteger(version) || version < 1) throw new Error('master key versions are whole numbers from 1');
      if (key.length !== MASTER_KEY_BYTES) throw new Error(`master key version ${version} is not ${MASTER_KEY_BYTES} bytes`);
    }
    this.keys = new Map([...keys].map(([version, key]) => [version, Buffer.from(key)]));
    this.currentVersion = resolveCurrentVersion(this.keys, currentVersion);
  }

  /** From a config validated with `dataKeysConfigShape` (throws with the setting's name otherwise). */
  static fromConfig(config: DataKeysConfig): MasterKeyring {
    let keys: Map<number, Buffer>;
    try {
      keys = parseMasterKeys(config.DATA_KEYS_MASTER_KEYS);
    } catch (error) {
      throw new Error(`DATA_KEYS_MASTER_KEYS ${error instanceof Error ? error.message : 'is invalid'}`);
    }
    try {
      return new MasterKeyring(keys, config.DATA_KEYS_CURRENT_VERSION);
    } catch (error) {
      throw new Error(`DATA_KEYS_CURRENT_VERSION ${error instanceof Error ? error.message : 'is invalid'}`);
    } finally {
      for (const key of keys.values()) key.fill(0);
    }
  }

  get versions(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }

  has(version: number): boolean {
    return this.keys.has(version);
  }

  /** The key of `version`; a version no longer configured is a DataKeyError (its wrapped keys cannot be opened). */
  key(version: number): Buffer {
    const key = this.keys.get(version);
    if (!key) throw new DataKeyError(`master key version ${version} is not configured`);
    return key;
  }

  /** Never prints key material (a keyring passed to a logger by mistake shows versions only). */
  toJSON(): { versions: number[]; currentVersion: number } {
    return { versions: this.versions, currentVersion: this.currentVersion };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `MasterKeyring ${JSON.stringify(this.toJSON())}`;
  }
}
