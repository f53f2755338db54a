import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Chat's own tables, in its own schema (the connection's search_path). Message text exists
 * only sealed with the user's data key (`sealed`: see @homiwork/data-keys); no column holds
 * plaintext, so a dump of these tables is unreadable once the user's key is destroyed.
 */
export class CreateChatTables1764900009105 implements MigrationInterface {
  name = 'CreateChatTables1764900009105';

  async up(runner: QueryRunner): Promise<void> {
    // One row per (user, assistant): the row every insert into the conversation locks, so
    // insert + trim to 100 run one at a time per conversation (§5.5). `last_message_at`
    // makes the conversation's timestamps strictly increasing.
    await runner.query(`
      CREATE TABLE conversations (
        user_id uuid NOT NULL,
        assistant_id text NOT NULL,
        last_message_at timestamptz NOT NULL,
        PRIMARY KEY (user_id, assistant_id)
      )`);
    await runner.query(`
      CREATE TABLE messages (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL,
        assistant_id text NOT NULL,
        role text NOT NULL CHECK (role IN ('user', 'assistant')),
        sealed bytea NOT NULL,
        key_version integer NOT NULL,
        status text NOT NULL CHECK (status IN ('answered', 'unanswered')),
        created_at timestamptz NOT NULL,
        -- A user message's energy is settled (GenerationFinished appended, in the same
        -- transaction as this is set) — or needs none. NULL past the reply wait means the
        -- send died between reserving and settling: StaleSendSweeper refunds it.
        settled_at timestamptz
      )`);
    await runner.query("CREATE INDEX messages_unsettled ON messages (created_at) WHERE settled_at IS NULL AND role = 'user'");
    await runner.query('CREATE INDEX messages_conversation_created ON messages (user_id, assistant_id, created_at, id)');
    // The retention sweep's scan.
    await runner.query('CREATE INDEX messages_created_at ON messages (created_at)');
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
    await runner.query('DROP TABLE messages');
    await runner.query('DROP TABLE conversations');
  }
}
