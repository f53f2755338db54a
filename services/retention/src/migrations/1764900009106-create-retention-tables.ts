import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention's tables, in its own schema (the connection's search_path).
 *
 * - `due_items`: the policy clock. One row per thing with a due date (RETENTION_SCHEDULE):
 *   `basis_at` is the fact the period counts from, `due_at` null while nothing is due
 *   (Prime keeps it). A row is deleted when its expiry event is published, so what is
 *   left is exactly what is still to fire.
 * - `prime_status`: the newest PrimeStatusChanged per user (content and chat due dates).
 * - `legal_holds`: every hold ever placed, with its reason and times (§12.2).
 * - `erasures` and `erasure_receipts`: one erasure per UserDeleted path, the services it
 *   expects and each one's PurgeCompleted (counts only); the signed receipt once complete.
 *   `user_id` is dropped when the erasure completes: the receipt proves the purge by its
 *   opaque id alone.
 * - `privacy_requests` and `privacy_request_history`: §9 requests, due dates, statuses.
 * - `exports`: the encrypted archives of access/export requests (deleted after a few days).
 * - `receipt_audit`: PurgeCompleted of the services' own sweeps (no trigger) — the
 *   safety-net purges retention counts as misses.
 */
export class CreateRetentionTables1764900009106 implements MigrationInterface {
  name = 'CreateRetentionTables1764900009106';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE due_items (
        kind text NOT NULL CHECK (kind IN ('upload', 'content', 'chat_history', 'inactive_warning', 'inactive_erasure')),
        subject_id uuid NOT NULL,
        user_id uuid NOT NULL,
        basis_at timestamptz NOT NULL,
        -- content: whether the item sits in the trash (the 7-day rule instead of the 90-day one)
        trashed boolean NOT NULL DEFAULT false,
        -- content: the time of the newest delete or restore applied; an older one arriving late changes nothing
        trash_changed_at timestamptz,
        due_at timestamptz,
        PRIMARY KEY (kind, subject_id)
      )`);
    await runner.query('CREATE INDEX due_items_due ON due_items (due_at) WHERE due_at IS NOT NULL');
    await runner.query('CREATE INDEX due_items_user ON due_items (user_id)');
    await runner.query(`
      CREATE TABLE prime_status (
        user_id uuid PRIMARY KEY,
        active boolean NOT NULL,
        expires_at timestamptz,
        changed_at timestamptz NOT NULL
      )`);
    await runner.query(`
      CREATE TABLE legal_holds (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        reason text NOT NULL,
        source text NOT NULL CHECK (source IN ('operator', 'prohibited_content')),
        placed_by uuid,
        placed_at timestamptz NOT NULL,
        released_by uuid,
        released_at timestamptz
      )`);
    await runner.query('CREATE INDEX legal_holds_active ON legal_holds (user_id) WHERE released_at IS NULL');
    await runner.query(`
      CREATE TABLE erasures (
        id uuid PRIMARY KEY,
        user_id uuid,
        reason text NOT NULL,
        status text NOT NULL CHECK (status IN ('held', 'in_progress', 'completed')),
        requested_at timestamptz NOT NULL,
        approved_at timestamptz,
        deadline_at timestamptz NOT NULL,
        completed_at timestamptz,
        expected_services text[] NOT NULL,
        jws text,
        CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
        CHECK (status <> 'completed' OR (user_id IS NULL AND jws IS NOT NULL))
      )`);
    await runner.query("CREATE INDEX erasures_open ON erasures (deadline_at) WHERE status <> 'completed'");
    await runner.query('CREATE INDEX erasures_user ON erasures (user_id) WHERE user_id IS NOT NULL');
    await runner.query(`
      CREATE TABLE erasure_receipts (
        erasure_id uuid NOT NULL REFERENCES erasures (id) ON DELETE CASCADE,
        service text NOT NULL,
        purged_at timestamptz NOT NULL,
        counts jsonb NOT NULL,
        PRIMARY KEY (erasure_id, service)
      )`);
    await runner.query(`
      CREATE TABLE privacy_requests (
        id uuid PRIMARY KEY,
        user_id uuid,
        type text NOT NULL,
        regime text NOT NULL CHECK (regime IN ('gdpr', 'ccpa')),
        status text NOT NULL,
        created_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        completed_at timestamptz,
        outcome text,
        erasure_id uuid,
        export_id uuid
      )`);
    // The duplicate rule in the database: one open request per user and type.
    await runner.query(`CREATE UNIQUE INDEX privacy_requests_one_open ON privacy_requests (user_id, type) WHERE status IN ('awaiting_verification', 'in_progress', 'in_force')`);
    await runner.query(`
      CREATE TABLE privacy_request_history (
        request_id uuid NOT NULL REFERENCES privacy_requests (id) ON DELETE CASCADE,
        status text NOT NULL,
        at timestamptz NOT NULL
      )`);
    await runner.query('CREATE INDEX privacy_request_history_request ON privacy_request_history (request_id, at)');
    await runner.query(`
      CREATE TABLE exports (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        request_id uuid NOT NULL,
        -- sha-256 of the download link's token (the token itself is only in the link)
        token_hash bytea,
        object_key text,
        bytes bigint,
        wrapped_key bytea,
        iv bytea,
        tag bytea,
        created_at timestamptz NOT NULL,
        ready_at timestamptz,
        expires_at timestamptz
      )`);
    await runner.query('CREATE INDEX exports_user ON exports (user_id)');
    await runner.query(`
      CREATE TABLE receipt_audit (
        service text NOT NULL,
        scope text NOT NULL,
        day date NOT NULL,
        purges integer NOT NULL,
        PRIMARY KEY (service, scope, day)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['receipt_audit', 'exports', 'privacy_request_history', 'privacy_requests', 'erasure_receipts', 'erasures', 'legal_holds', 'prime_status', 'due_items']) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
