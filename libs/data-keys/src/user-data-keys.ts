import { randomBytes } from 'node:crypto';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Clock } from '@homiwork/clock';
import { Database } from '@homiwork/persistence';
import { gcmDecrypt, gcmEncrypt } from './aes-gcm.js';
import { DataKeyDestroyedError, DataKeyError } from './errors.js';
import { MasterKeyring, type DataKeysConfig } from './master-keyring.js';
import { openValue, sealValue } from './sealed-value.js';

/** AES-256 data keys. */
export const DATA_KEY_BYTES = 32;

/** The version of the data key new keys get (the leading byte of everything they seal). */
const FIRST_KEY_VERSION = 1;

/**
 * One data key per user, wrapped (AES-256-GCM under a master key, `nonce ‖ ct ‖ tag`), in
 * the schema of each service that seals user data. Deleting a row is crypto-shredding:
 * everything sealed under it — in the service's tables and in any backup of them — is
 * unreadable from then on. Backups of this table must therefore expire within the erasure
 * deadline (docs/architecture.md, "Per-user data keys").
 */
export class CreateUserDataKeys1766000000000 implements MigrationInterface {
  name = 'CreateUserDataKeys1766000000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`CREATE TABLE user_data_keys (
      user_id uuid PRIMARY KEY,
      wrapped bytea NOT NULL,
      master_version integer NOT NULL CHECK (master_version >= 1),
      key_version integer NOT NULL CHECK (key_version BETWEEN 1 AND 255),
      created_at timestamptz NOT NULL
    )`);
    // Rotation looks for keys wrapped under an old master version.
    await runner.query('CREATE INDEX user_data_keys_master_version ON user_data_keys (master_version)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE user_data_keys');
  }
}

interface DataKeyRecord {
  wrapped: Buffer;
  masterVersion: number;
  keyVersion: number;
}

const SELECT_KEY = 'SELECT wrapped, master_version AS "masterVersion", key_version AS "keyVersion" FROM user_data_keys WHERE user_id = $1';

/**
 * The wrap is bound to its row: a wrapped key copied to another user's row, or relabelled
 * with another master or key version, fails to unwrap.
 */
function wrapAad(userId: string, masterVersion: number, keyVersion: number): Buffer {
  return Buffer.from(`homiwork/user-data-key/v1|${userId}|${masterVersion}|${keyVersion}`, 'utf8');
}

/**
 * Per-user envelope encryption of user data at rest (policy: text readable only while the
 * user exists). `seal` encrypts under the user's data key (made on first use), `open`
 * decrypts, `destroy` deletes the key on erasure, `rewrap` moves keys to the current
 * master key after a rotation.
 *
 * Sealed value: `key version (1 byte) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)`,
 * with the key version byte and the user id as associated data.
 *
 * Runs on the caller's ambient transaction when there is one (like every repository).
 * The plaintext data key exists only during a call and is zeroed after it; it is never
 * cached, logged, or put in an error.
 */
export class UserDataKeys {
  constructor(
    private readonly db: Database,
    private readonly keyring: MasterKeyring,
    private readonly clock: Clock,
  ) {}

  /** Encrypts `plaintext` for `userId`, creating the user's data key on first use. */
  async seal(userId: string, plaintext: string): Promise<{ sealed: Buffer; keyVersion: number }> {
    const record = await this.findOrCreate(userId);
    const dataKey = this.unwrap(userId, record);
    try {
      return { sealed: sealValue(dataKey, userId, record.keyVersion, plaintext), keyVersion: record.keyVersion };
    } finally {
      dataKey.fill(0);
    }
  }

  /** Decrypts one value sealed for `userId`. DataKeyDestroyedError once the user's key is gone; DataKeyError if altered. */
  async open(userId: string, sealed: Buffer): Promise<string> {
    const [text] = await this.openMany(userId, [sealed]);
    return text!;
  }

  /** Decrypts several values of one user with one key lookup and unwrap; fails as a whole if any one fails. */
  async openMany(userId: string, sealed: readonly Buffer[]): Promise<string[]> {
    if (sealed.length === 0) return [];
    const record = await this.find(userId);
    if (!record) throw new DataKeyDestroyedError();
    const dataKey = this.unwrap(userId, record);
    try {
      return sealed.map((value) => openValue(dataKey, userId, record.keyVersion, value));
    } finally {
      dataKey.fill(0);
    }
  }

  /** Crypto-shredding: deletes the user's data key; returns 1 if there was one, else 0. */
  async destroy(userId: string): Promise<number> {
    const [, deleted] = await this.db.query<[unknown[], number]>('DELETE FROM user_data_keys WHERE user_id = $1', [userId]);
    return deleted;
  }

  /**
   * Re-wraps every data key wrapped under a master version other than the current one
   * (and one this keyring holds), `batchSize` rows per transaction, skipping rows another
   * instance is re-wrapping at the same moment. Returns how many it re-wrapped. Call it
   * outside a transaction (a sweeper), so each batch commits on its own.
   */
  async rewrap(batchSize: number): Promise<number> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a whole number from 1');
    const current = this.keyring.currentVersion;
    const readable = this.keyring.versions.filter((version) => version !== current);
    if (readable.length === 0) return 0;
    let total = 0;
    for (;;) {
      const rewrapped = await this.db.manager.transaction(async (tx) => {
        const rows = await tx.query<Array<DataKeyRecord & { userId: string }>>(
          `SELECT user_id AS "userId", wrapped, master_version AS "masterVersion", key_version AS "keyVersion"
             FROM user_data_keys WHERE master_version = ANY($1::int[])
             ORDER BY user_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [readable, batchSize],
        );
        for (const row of rows) {
          const dataKey = this.unwrap(row.userId, row);
          try {
            const wrapped = gcmEncrypt(this.keyring.key(current), dataKey, wrapAad(row.userId, current, row.keyVersion));
            await tx.query('UPDATE user_data_keys SET wrapped = $2, master_version = $3 WHERE user_id = $1', [row.userId, wrapped, current]);
          } finally {
            dataKey.fill(0);
          }
        }
        return rows.length;
      });
      total += rewrapped;
      if (rewrapped < batchSize) return total;
    }
  }

  /**
   * How many data keys are wrapped under each master version. Before a master key is
   * removed from the configuration, its count must be 0 (or those users' data is lost).
   */
  async countByMasterVersion(): Promise<Map<number, number>> {
    const rows = await this.db.query<Array<{ version: number; count: number }>>(
      'SELECT master_version AS version, count(*)::int AS count FROM user_data_keys GROUP BY master_version ORDER BY master_version',
    );
    return new Map(rows.map((row) => [row.version, row.count]));
  }

  private async find(userId: string): Promise<DataKeyRecord | undefined> {
    const rows = await this.db.query<DataKeyRecord[]>(SELECT_KEY, [userId]);
    return rows[0];
  }

  /**
   * The user's key record, made if missing. Two first seals at once both insert; the
   * primary key lets one win (the other waits for it, then does nothing), and both read
   * the winner's key, so a user never has two keys.
   */
  private async findOrCreate(userId: string): Promise<DataKeyRecord> {
    const existing = await this.find(userId);
    if (existing) return existing;
    const dataKey = randomBytes(DATA_KEY_BYTES);
    try {
      const masterVersion = this.keyring.currentVersion;
      const wrapped = gcmEncrypt(this.keyring.key(masterVersion), dataKey, wrapAad(userId, masterVersion, FIRST_KEY_VERSION));
      await this.db.query(
        'INSERT INTO user_data_keys (user_id, wrapped, master_version, key_version, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING',
        [userId, wrapped, masterVersion, FIRST_KEY_VERSION, this.clock.now()],
      );
    } finally {
      dataKey.fill(0);
    }
    const created = await this.find(userId);
    if (!created) throw new DataKeyError("the user's data key could not be created");
    return created;
  }

  /** The plaintext data key; the caller zeroes it when done. */
  private unwrap(userId: string, record: DataKeyRecord): Buffer {
    const dataKey = gcmDecrypt(this.keyring.key(record.masterVersion), record.wrapped, wrapAad(userId, record.masterVersion, record.keyVersion), 'wrapped data key');
    if (dataKey.length !== DATA_KEY_BYTES) {
      dataKey.fill(0);
      throw new DataKeyError('wrapped data key has the wrong length');
    }
    return dataKey;
  }
}

/**
 * Nest providers of the keyring (from the service's parsed config, under `configToken`)
 * and of UserDataKeys (on the service's Database and Clock). List after TRANSACTION_PROVIDERS.
 * Plain objects, so this library does not depend on Nest.
 */
export function dataKeysProviders(configToken: symbol | string) {
  return [
    { provide: MasterKeyring, inject: [configToken], useFactory: (config: DataKeysConfig) => MasterKeyring.fromConfig(config) },
    { provide: UserDataKeys, inject: [Database, MasterKeyring, Clock], useFactory: (db: Database, keyring: MasterKeyring, clock: Clock) => new UserDataKeys(db, keyring, clock) },
  ];
}
