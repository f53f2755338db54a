import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateIdentityTables1764300000000 implements MigrationInterface {
  name = 'CreateIdentityTables1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // The only personal data identity keeps (§2.1.1): email, username, the password hash.
    await queryRunner.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        username text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'operator')),
        blocked_at timestamptz,
        blocked_reason text CHECK (blocked_reason IN ('prohibited_content', 'operator')),
        prime_active boolean NOT NULL DEFAULT false,
        prime_expires_at timestamptz,
        created_at timestamptz NOT NULL,
        last_seen_on date NOT NULL
      )`);
    // Case-insensitive uniqueness: Alice@x and alice@x are one address.
    await queryRunner.query('CREATE UNIQUE INDEX users_email_key ON users (lower(email))');
    await queryRunner.query('CREATE UNIQUE INDEX users_username_key ON users (lower(username))');
    await queryRunner.query('CREATE INDEX users_last_seen_on ON users (last_seen_on)');
    // A session is a refresh-token family: reuse of any member revokes the whole session.
    await queryRunner.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz,
        revoked_reason text
      )`);
    await queryRunner.query('CREATE INDEX sessions_user_id ON sessions (user_id)');
    // Only SHA-256 hashes of refresh and reset tokens are stored: a database leak yields no usable token.
    await queryRunner.query(`
      CREATE TABLE refresh_tokens (
        token_hash bytea PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        rotated_at timestamptz
      )`);
    await queryRunner.query('CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id)');
    await queryRunner.query(`
      CREATE TABLE password_reset_tokens (
        token_hash bytea PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`);
    // Kept 12 months (§5.6) with the address hash, never the address; no foreign key, so
    // an erased account's events survive pseudonymized (user_id set to NULL).
    await queryRunner.query(`
      CREATE TABLE security_events (
        id bigserial PRIMARY KEY,
        user_id uuid,
        type text NOT NULL,
        ip_hash text CHECK (ip_hash ~ '^[a-f0-9]{64}$'),
        user_agent text,
        occurred_at timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX security_events_occurred_at ON security_events (occurred_at)');
    await queryRunner.query('CREATE INDEX security_events_user_id ON security_events (user_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE security_events, password_reset_tokens, refresh_tokens, sessions, users');
  }
}
