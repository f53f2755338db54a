import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A job runs later, in whatever instance claims it: the W3C `traceparent` of the request
 * that queued it is kept with the row so the run (and the events it causes) joins that
 * request's trace, as an event does through the outbox. An id of a trace, nothing else.
 */
export class AddJobTraceParent1766300000000 implements MigrationInterface {
  name = 'AddJobTraceParent1766300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE jobs ADD COLUMN trace_parent text');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE jobs DROP COLUMN trace_parent');
  }
}
