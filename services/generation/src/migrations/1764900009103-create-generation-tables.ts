import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Generation's own tables, in its own schema. What is kept about a job is
 * what polling needs; its prompt only until the job ends (then NULL: the database refuses a
 * finished job that still holds one). Content rows are the facts of a stored file, never
 * its bytes; `expires_at` NULL means kept while Prime lasts.
 */
export class CreateGenerationTables1764900009103 implements MigrationInterface {
  name = 'CreateGenerationTables1764900009103';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('song', 'image', 'poem', 'text', 'video')),
        prompt text,
        upload_ids uuid[] NOT NULL DEFAULT '{}',
        style text,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        cost integer CHECK (cost >= 0),
        reserved_at timestamptz,
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        lease_until timestamptz,
        content_id uuid,
        error_code text,
        error_message text,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        CONSTRAINT jobs_finished_have_no_prompt CHECK (status NOT IN ('succeeded', 'failed') OR (prompt IS NULL AND finished_at IS NOT NULL)),
        CONSTRAINT jobs_succeeded_have_content CHECK (status <> 'succeeded' OR content_id IS NOT NULL),
        CONSTRAINT jobs_running_have_lease CHECK (status <> 'running' OR (lease_until IS NOT NULL AND reserved_at IS NOT NULL))
      )`);
    await runner.query('CREATE INDEX jobs_user ON jobs (user_id)');
    // The runner's claim: reserved queued jobs, and running ones whose lease lapsed.
    await runner.query("CREATE INDEX jobs_runnable ON jobs (created_at) WHERE status = 'queued' AND reserved_at IS NOT NULL");
    await runner.query("CREATE INDEX jobs_leased ON jobs (lease_until) WHERE status = 'running'");
    // The sweep: jobs a crash left unreserved, and finished jobs whose record has served its time.
    await runner.query("CREATE INDEX jobs_unreserved ON jobs (created_at) WHERE status = 'queued' AND reserved_at IS NULL");
    await runner.query("CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('succeeded', 'failed')");

    await runner.query(`
      CREATE TABLE contents (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        job_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('song', 'image', 'poem', 'text', 'video')),
        mime_type text NOT NULL,
        bytes bigint NOT NULL CHECK (bytes >= 0),
        object_key text NOT NULL,
        source_upload_ids uuid[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        expires_at timestamptz,
        deleted_at timestamptz
      )`);
    await runner.query('CREATE INDEX contents_user ON contents (user_id, created_at DESC)');
    await runner.query('CREATE INDEX contents_expiry ON contents (expires_at) WHERE expires_at IS NOT NULL');
    await runner.query('CREATE INDEX contents_trash ON contents (deleted_at) WHERE deleted_at IS NOT NULL');

    await runner.query(`
      CREATE TABLE prime_status (
        user_id uuid PRIMARY KEY,
        active boolean NOT NULL,
        expires_at timestamptz,
        changed_at timestamptz NOT NULL
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE prime_status');
    await runner.query('DROP TABLE contents');
    await runner.query('DROP TABLE jobs');
  }
}
