import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Erasure requested ≠ erased (issue 11): an account whose erasure was asked for is disabled
 * at once and keeps its row until retention approves (a legal hold may delay that, §12.2).
 * The row records the open erasure (one per account), and the inactivity warning sent for a
 * given last-seen day (§5.2: at most one mail per period of inactivity).
 */
export class RecordErasureRequests1765300000000 implements MigrationInterface {
  name = 'RecordErasureRequests1765300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE users
        ADD COLUMN erasure_id uuid,
        ADD COLUMN erasure_reason text CHECK (erasure_reason IN ('user_request', 'privacy_request', 'inactivity', 'minor', 'operator')),
        ADD COLUMN erasure_requested_at timestamptz,
        ADD COLUMN inactivity_warned_for date,
        ADD CONSTRAINT users_erasure_whole CHECK (
          (erasure_id IS NULL AND erasure_reason IS NULL AND erasure_requested_at IS NULL)
          OR (erasure_id IS NOT NULL AND erasure_reason IS NOT NULL AND erasure_requested_at IS NOT NULL))`);
    await queryRunner.query('CREATE UNIQUE INDEX users_erasure_id_key ON users (erasure_id) WHERE erasure_id IS NOT NULL');
    // The export shows a session's device in the words of the login (coarse user agent, ≤ 120 characters).
    await queryRunner.query('ALTER TABLE sessions ADD COLUMN user_agent text');
    // An operator's action on an account (block, erase) is recorded with who did it and the
    // reason they gave; both are cleared when the account is erased (see SecurityEventsRepository).
    await queryRunner.query('ALTER TABLE security_events ADD COLUMN operator_user_id uuid, ADD COLUMN detail text CHECK (length(detail) <= 500)');
    await queryRunner.query('CREATE INDEX security_events_operator_user_id ON security_events (operator_user_id) WHERE operator_user_id IS NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX security_events_operator_user_id');
    await queryRunner.query('ALTER TABLE security_events DROP COLUMN operator_user_id, DROP COLUMN detail');
    await queryRunner.query('ALTER TABLE sessions DROP COLUMN user_agent');
    await queryRunner.query('DROP INDEX users_erasure_id_key');
    await queryRunner.query(
      'ALTER TABLE users DROP CONSTRAINT users_erasure_whole, DROP COLUMN erasure_id, DROP COLUMN erasure_reason, DROP COLUMN erasure_requested_at, DROP COLUMN inactivity_warned_for',
    );
  }
}
