import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What privacy requests and export builds need beyond the first schema:
 *
 * - `exports.sealed_token`: the download link's token, sealed with the user's data key
 *   (like `wrapped_key`), so GET of the request can show the link while it lives; the
 *   user's erasure destroys the key and with it every way back to the link and archive.
 * - `exports.attempts`, `exports.next_attempt_at`: the build is claimed by setting
 *   `next_attempt_at` (a lease while it runs, a back-off after a failure), so a build whose
 *   instance died or whose services failed is picked up again by any instance's sweeper.
 * - `privacy_request_history.seq`: the order of changes made within one millisecond.
 */
export class ExportBuilds1764900009400 implements MigrationInterface {
  name = 'ExportBuilds1764900009400';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE exports ADD COLUMN sealed_token bytea, ADD COLUMN attempts integer NOT NULL DEFAULT 0, ADD COLUMN next_attempt_at timestamptz');
    await runner.query('CREATE INDEX exports_pending ON exports (next_attempt_at) WHERE ready_at IS NULL');
    await runner.query('CREATE INDEX exports_expiry ON exports (expires_at) WHERE expires_at IS NOT NULL');
    await runner.query('CREATE INDEX privacy_requests_user ON privacy_requests (user_id, created_at) WHERE user_id IS NOT NULL');
    await runner.query('ALTER TABLE privacy_request_history ADD COLUMN seq bigserial');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE privacy_request_history DROP COLUMN seq');
    await runner.query('DROP INDEX privacy_requests_user');
    await runner.query('DROP INDEX exports_expiry');
    await runner.query('DROP INDEX exports_pending');
    await runner.query('ALTER TABLE exports DROP COLUMN next_attempt_at, DROP COLUMN attempts, DROP COLUMN sealed_token');
  }
}
