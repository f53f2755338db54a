import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateUploads1764400000000 implements MigrationInterface {
  name = 'CreateUploads1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Facts of the transformed file only: no original name, no original type, no metadata.
    await queryRunner.query(`
      CREATE TABLE uploads (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('image', 'audio', 'video', 'text')),
        mime_type text NOT NULL,
        bytes bigint NOT NULL,
        width integer,
        height integer,
        duration_ms integer,
        object_key text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX uploads_user_id ON uploads (user_id, created_at)');
    await queryRunner.query('CREATE INDEX uploads_expires_at ON uploads (expires_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE uploads');
  }
}
