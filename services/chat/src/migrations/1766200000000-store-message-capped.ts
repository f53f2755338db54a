import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lock, insert and trim in one round trip (§5.5, the 100-message cap). The three
 * statements run in the caller's transaction, one after the other: a VOLATILE function
 * takes a fresh snapshot for each statement it runs (READ COMMITTED), so the trim, which
 * starts after the conversation's row lock was granted, sees every message committed by
 * the sender that held the lock before — as the earlier two-statement version did from the
 * application, at the cost of one more round trip with the lock held.
 *
 * Unqualified names resolve through the caller's search_path: the service's own schema.
 */
export class StoreMessageCapped1766200000000 implements MigrationInterface {
  name = 'StoreMessageCapped1766200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE FUNCTION store_message_capped(
        p_id uuid, p_user_id uuid, p_assistant_id text, p_role text, p_sealed bytea, p_key_version integer,
        p_status text, p_now timestamptz, p_settled_at timestamptz, p_settled_on_creation boolean, p_keep integer
      ) RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        created timestamptz;
      BEGIN
        -- Locks the conversation (creating its row if there is none) and takes the time of
        -- its next message: now, or 1 ms after the last one, so "the newest" is well defined.
        INSERT INTO conversations (user_id, assistant_id, last_message_at) VALUES (p_user_id, p_assistant_id, p_now)
          ON CONFLICT (user_id, assistant_id) DO UPDATE
          SET last_message_at = GREATEST(conversations.last_message_at + interval '1 millisecond', EXCLUDED.last_message_at)
          RETURNING last_message_at INTO created;
        INSERT INTO messages (id, user_id, assistant_id, role, sealed, key_version, status, created_at, settled_at)
          VALUES (p_id, p_user_id, p_assistant_id, p_role, p_sealed, p_key_version, p_status, created,
                  CASE WHEN p_settled_on_creation THEN created ELSE p_settled_at END);
        -- At most one row goes: every insert trims, so the conversation held at most p_keep
        -- before this one. LIMIT 1 stops the scan from the newest at the first row past the
        -- boundary, before the index entries of rows trimmed earlier (dead until vacuumed).
        DELETE FROM messages WHERE id IN (
          SELECT id FROM messages WHERE user_id = p_user_id AND assistant_id = p_assistant_id
           ORDER BY created_at DESC, id DESC OFFSET p_keep LIMIT 1);
        RETURN created;
      END
      $$`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP FUNCTION store_message_capped(uuid, uuid, text, text, bytea, integer, text, timestamptz, timestamptz, boolean, integer)');
  }
}
