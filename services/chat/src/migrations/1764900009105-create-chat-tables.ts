import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Chat's own tables, in its own schema (the connection's search_path). */
export class CreateChatTables1764900009105 implements MigrationInterface {
  name = 'CreateChatTables1764900009105';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE records (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await runner.query('CREATE INDEX records_user_id ON records (user_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE records');
  }
}
