import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Channel the relay LISTENs on; one per schema so services sharing a database don't wake each other. */
export function outboxChannel(schema: string): string {
  return `${schema}_outbox`;
}

function schemaOf(queryRunner: QueryRunner): string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  if (!schema) throw new Error('messaging tables need a data source bound to a schema');
  return schema;
}

/**
 * The outbox (events written in the same transaction as the change they announce) and
 * the inbox (message ids already applied by each consumer), in the service's own schema.
 * Every service lists this migration first.
 */
export class CreateMessagingTables1764200000000 implements MigrationInterface {
  name = 'CreateMessagingTables1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${schema}".outbox (
        seq bigserial PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        type text NOT NULL,
        subject text NOT NULL,
        payload jsonb NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}',
        occurred_at timestamptz NOT NULL
      )`);
    // Statement-level, so a transaction writing many events wakes the relay once;
    // NOTIFY is delivered only at commit, so a rolled-back change wakes nobody.
    await queryRunner.query(`
      CREATE FUNCTION "${schema}".notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('${outboxChannel(schema)}', ''); RETURN NULL; END $$`);
    await queryRunner.query(`
      CREATE TRIGGER outbox_notify AFTER INSERT ON "${schema}".outbox
      FOR EACH STATEMENT EXECUTE FUNCTION "${schema}".notify_outbox()`);
    await queryRunner.query(`
      CREATE TABLE "${schema}".inbox (
        consumer text NOT NULL,
        message_id text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`);
    await queryRunner.query(`CREATE INDEX inbox_processed_at ON "${schema}".inbox (processed_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const schema = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${schema}".inbox`);
    await queryRunner.query(`DROP TABLE "${schema}".outbox`);
    await queryRunner.query(`DROP FUNCTION "${schema}".notify_outbox()`);
  }
}
