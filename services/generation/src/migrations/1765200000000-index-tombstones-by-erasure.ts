import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every content sweep lists the users erased in the last ERASED_OBJECTS_SWEEP_DAYS
 * (SweepErasedObjects), while the tombstones table keeps one row per user ever erased: the
 * index keeps that a short range scan instead of a pass over all of them.
 */
export class IndexTombstonesByErasure1765200000000 implements MigrationInterface {
  name = 'IndexTombstonesByErasure1765200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX tombstones_erased_at ON tombstones (erased_at)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX tombstones_erased_at');
  }
}
