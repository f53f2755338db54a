import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * R7.3: generation's copy of each user's processing restriction (retention's
 * ProcessingRestrictionChanged); while `restricted`, CreateGeneration refuses. Purged on
 * UserDeleted (PurgeUser).
 */
export class CreateProcessingRestrictions1765200000400 implements MigrationInterface {
  name = 'CreateProcessingRestrictions1765200000400';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE processing_restrictions (user_id uuid PRIMARY KEY, restricted boolean NOT NULL, changed_at timestamptz NOT NULL)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE processing_restrictions');
  }
}
