import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DAY_MS } from '@homiwork/clock';
import { ChatHistoryExpiredV1, ChatRpc, GenerationFinishedV1, PrimeStatusChangedV1, ProhibitedContentDetectedV1, PurgeCompletedV1, UserDeletedV1 } from '@homiwork/contracts';
import { DataKeyDestroyedError, UserDataKeys } from '@homiwork/data-keys';
import { databaseUrl, eventually, randomId, withAdminClient } from '@homiwork/testing';
import { ChatSweeper } from '../src/usecases/purge-expired/chat-sweeper.js';
import { StaleSendSweeper } from '../src/usecases/settle-stale/stale-send-sweeper.js';
import { LONG_REPLY, standInReply, startHarness, type Harness } from './harness.js';

// The chat service end to end in one process: RPC routes, consumers and the sweeper on the
// real PostgreSQL and NATS; billing and generation stood in for by responders (harness.ts).

const run = promisify(execFile);
const { ListAssistantsRoute, SendMessageRoute, ListMessagesRoute, ClearMessagesRoute } = ChatRpc;
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const send = (userId: string, text: string, assistantId = 'poem-helper') => h.call(SendMessageRoute, { assistantId, text }, userId);
const list = (userId: string, assistantId = 'poem-helper') => h.call(ListMessagesRoute, { assistantId }, userId);
const rowsOf = (userId: string, assistantId?: string) =>
  h.sql<{ id: string; role: string; status: string; assistant_id: string }>(
    `SELECT id, role, status, assistant_id FROM chat.messages WHERE user_id = $1 ${assistantId ? 'AND assistant_id = $2' : ''} ORDER BY created_at, id`,
    assistantId ? [userId, assistantId] : [userId],
  );
const finishedOf = async (jobId: string) => (await h.events(GenerationFinishedV1)).filter((event) => event.jobId === jobId);

describe('assistants and one exchange', () => {
  it('lists the catalogue without the style ids', async () => {
    const { items } = await h.call(ListAssistantsRoute, {}, randomUUID());
    expect(items.map((item) => item.id)).toEqual(['poem-helper', 'greeting-writer', 'letter-writer']);
    for (const item of items) expect(Object.keys(item).sort()).toEqual(['description', 'id', 'name']);
  });

  it('201 {message, reply}: both stored sealed, reserved under the message id, the reply asked in the assistant style with the conversation as context, the energy committed', async () => {
    const userId = randomUUID();
    const first = await send(userId, '  Write me a poem about the sea  ');
    expect(first.message).toMatchObject({ role: 'user', text: 'Write me a poem about the sea', status: 'answered' });
    expect(first.reply).toMatchObject({ role: 'assistant', status: 'answered', text: 'reply (poem) to: Write me a poem about the sea' });
    expect(h.peers.reservations.filter((r) => r.userId === userId)).toEqual([{ userId, reservationId: first.message.id, purpose: 'chat' }]);

    const second = await send(userId, 'Now shorter, please');
    const asked = h.peers.replyRequests.filter((r) => r.userId === userId).at(-1)!;
    expect(asked.style).toBe('poem');
    expect(asked.turns).toEqual([
      { role: 'user', text: 'Write me a poem about the sea' },
      { role: 'assistant', text: first.reply.text },
      { role: 'user', text: 'Now shorter, please' },
    ]);
    expect((await list(userId)).items).toEqual([first.message, first.reply, second.message, second.reply]);
    expect(new Date(first.reply.createdAt).getTime()).toBeGreaterThan(new Date(first.message.createdAt).getTime());
    await eventually(async () => (await finishedOf(second.message.id)).length === 1, { what: 'GenerationFinished' });
    expect((await finishedOf(second.message.id))[0]).toMatchObject({ userId, purpose: 'chat', outcome: 'succeeded' });
  });
});

describe('§5.5: at most the newest 100 per user and assistant, under concurrency', () => {
  it('150 sends (20 of them at once) with a reader polling alongside: exactly the newest 100 stored, in order; the reader never saw more; others untouched', async () => {
    const userId = randomUUID();
    const otherUser = randomUUID();
    await send(otherUser, 'the other user writes');
    await send(userId, 'to another assistant', 'greeting-writer');

    // A reader on its own connection, and one through the list route, for the whole run.
    const reader = new pg.Client({ connectionString: h.databaseUrl });
    await reader.connect();
    let polling = true;
    let maxSeen = 0;
    let maxListed = 0;
    let polls = 0;
    const poller = (async () => {
      while (polling) {
        const { rows } = await reader.query<{ n: number }>('SELECT count(*)::int AS n FROM chat.messages WHERE user_id = $1 AND assistant_id = $2', [userId, 'poem-helper']);
        maxSeen = Math.max(maxSeen, rows[0]!.n);
        polls++;
      }
    })();
    const lister = (async () => {
      while (polling) maxListed = Math.max(maxListed, (await list(userId)).items.length);
    })();

    const sent: ChatRpc.ChatMessage[] = [];
    for (let i = 0; i < 130; i++) {
      const { message, reply } = await send(userId, `message number ${i}`);
      sent.push(message, reply);
    }
    h.peers.replyDelayMs = 20;
    const together = await Promise.all(Array.from({ length: 20 }, (_, i) => send(userId, `concurrent message ${i}`)));
    h.peers.replyDelayMs = 0;
    for (const { message, reply } of together) sent.push(message, reply);
    polling = false;
    await Promise.all([poller, lister]);
    await reader.end();

    const byAge = (a: ChatRpc.ChatMessage, b: ChatRpc.ChatMessage) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
    const newest100 = [...sent].sort(byAge).slice(-100);
    const stored = (await list(userId)).items;
    expect(stored).toHaveLength(100);
    expect(stored.map((m) => m.id)).toEqual(newest100.map((m) => m.id));
    expect(stored.map((m) => m.text)).toEqual(newest100.map((m) => m.text));
    // Strictly increasing timestamps within the conversation.
    for (let i = 1; i < stored.length; i++) expect(stored[i]!.createdAt > stored[i - 1]!.createdAt).toBe(true);
    expect(await rowsOf(userId, 'poem-helper')).toHaveLength(100);
    expect(maxSeen).toBeLessThanOrEqual(100);
    expect(maxListed).toBeLessThanOrEqual(100);
    expect(maxSeen).toBe(100);
    expect(polls).toBeGreaterThan(20);
    expect(await rowsOf(userId, 'greeting-writer')).toHaveLength(2);
    expect(await rowsOf(otherUser)).toHaveLength(2);
  });
});

describe('failures leave a clear state', () => {
  it('a read that meets an erasure halfway (rows read, key already destroyed) answers 401 like any request of a deleted account, not 500', async () => {
    const userId = randomUUID();
    await send(userId, 'read me once');
    await h.service.app.get(UserDataKeys).destroy(userId);
    await expect(list(userId)).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('a failed reply: 502 reply_failed, the user message stays unanswered, no reply row, the reservation refunded', async () => {
    const userId = randomUUID();
    h.peers.replies.set(userId, 'fail');
    await expect(send(userId, 'will this be answered?')).rejects.toMatchObject({ status: 502, code: 'reply_failed' });
    const rows = await rowsOf(userId);
    expect(rows).toEqual([expect.objectContaining({ role: 'user', status: 'unanswered' })]);
    await eventually(async () => (await finishedOf(rows[0]!.id)).length === 1, { what: 'refund' });
    expect((await finishedOf(rows[0]!.id))[0]).toMatchObject({ outcome: 'failed', purpose: 'chat' });
    expect((await list(userId)).items).toEqual([expect.objectContaining({ text: 'will this be answered?', status: 'unanswered' })]);
  });

  it("generation's late 403 processing_restricted (a restriction that came into force mid-send) passes through as 403, not 502: the message stays unanswered, refunded", async () => {
    const userId = randomUUID();
    h.peers.replies.set(userId, 'restricted');
    await expect(send(userId, 'restricted on the way')).rejects.toMatchObject({ status: 403, code: 'processing_restricted' });
    const rows = await rowsOf(userId);
    expect(rows).toEqual([expect.objectContaining({ role: 'user', status: 'unanswered' })]);
    await eventually(async () => (await finishedOf(rows[0]!.id)).length === 1, { what: 'refund' });
    expect((await finishedOf(rows[0]!.id))[0]).toMatchObject({ outcome: 'failed', purpose: 'chat' });
  });

  it('402 from billing passes through and nothing stays; billing failing answers 503, nothing stays, and any reservation is refunded', async () => {
    const broke = randomUUID();
    h.peers.billing.set(broke, 'broke');
    await expect(send(broke, 'hello')).rejects.toMatchObject({ status: 402, code: 'insufficient_energy' });
    expect(await rowsOf(broke)).toEqual([]);

    const failing = randomUUID();
    h.peers.billing.set(failing, 'fail');
    await expect(send(failing, 'hello')).rejects.toMatchObject({ status: 503 });
    expect(await rowsOf(failing)).toEqual([]);
    const reservationId = h.peers.reservations.find((r) => r.userId === failing)!.reservationId;
    await eventually(async () => (await finishedOf(reservationId)).length === 1, { what: 'refund after a failed reservation' });
    expect((await finishedOf(reservationId))[0]).toMatchObject({ outcome: 'failed' });
  });
});

describe('a refused send leaves the conversation as it was; a send that died is refunded', () => {
  it('100 stored, then 402s (several at once) and a billing failure: still exactly the same 100 rows, nothing trimmed', async () => {
    const userId = randomUUID();
    for (let i = 0; i < ChatRpc.STORED_MESSAGES_PER_ASSISTANT / 2; i++) await send(userId, `m${i}`);
    const before = await rowsOf(userId);
    expect(before).toHaveLength(ChatRpc.STORED_MESSAGES_PER_ASSISTANT);

    h.peers.billing.set(userId, 'broke');
    const refused = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => send(userId, `broke${i}`)));
    expect(refused.map((r) => (r.status === 'rejected' ? (r.reason as { status: number }).status : 'stored'))).toEqual([402, 402, 402, 402, 402]);
    h.peers.billing.set(userId, 'fail');
    await expect(send(userId, 'billing down')).rejects.toMatchObject({ status: 503 });
    expect(await rowsOf(userId)).toEqual(before);
  }, 120_000);

  it('stored messages are settled in the transaction that announces the outcome, or at once when replies are free', async () => {
    const userId = randomUUID();
    const { message } = await send(userId, 'settle me');
    const [row] = await h.sql<{ settled_at: Date | null }>('SELECT settled_at FROM chat.messages WHERE id = $1', [message.id]);
    expect(row!.settled_at).not.toBeNull();
    h.peers.replies.set(userId, 'fail');
    await expect(send(userId, 'unanswered but settled')).rejects.toMatchObject({ status: 502 });
    expect(await h.sql("SELECT 1 FROM chat.messages WHERE user_id = $1 AND role = 'user' AND settled_at IS NULL", [userId])).toEqual([]);
  });

  it('the stale-send sweep (clock moved) refunds a user message left unsettled, once, and leaves fresh and settled ones alone; a reply arriving after it commits nothing', async () => {
    const sweeper = h.service.app.get(StaleSendSweeper);
    const userId = randomUUID();
    const settled = await send(userId, 'a settled exchange');
    // What chat stopping between storing and settling leaves behind.
    const died = randomUUID();
    await h.sql(
      "INSERT INTO chat.messages (id, user_id, assistant_id, role, sealed, key_version, status, created_at) VALUES ($1, $2, 'poem-helper', 'user', '\\x00', 1, 'unanswered', $3)",
      [died, userId, new Date(h.clock.nowMs())],
    );
    await sweeper.sweep();
    expect(await h.sql('SELECT 1 FROM chat.messages WHERE id = $1 AND settled_at IS NULL', [died])).toHaveLength(1);

    // A live send whose reply is slow: the sweep runs (clock moved past the wait) before it returns.
    const slowUser = randomUUID();
    h.peers.replyDelayMs = 1_500;
    const slow = send(slowUser, 'slow reply');
    try {
      await eventually(async () => (await rowsOf(slowUser)).length === 1, { what: 'slow message stored' });
      h.clock.setOffset(h.clock.offset + h.config.CHAT_SETTLE_AFTER_MS + 1_000);
      await sweeper.sweep();
      await expect(slow).resolves.toMatchObject({ reply: { status: 'answered' } });
    } finally {
      h.peers.replyDelayMs = 0;
    }
    const slowId = (await rowsOf(slowUser))[0]!.id;

    await eventually(async () => (await finishedOf(died)).length === 1 && (await finishedOf(slowId)).length === 1, { what: 'stale refunds' });
    expect((await finishedOf(died))[0]).toMatchObject({ userId, purpose: 'chat', outcome: 'failed' });
    expect(await h.sql('SELECT 1 FROM chat.messages WHERE id = $1 AND settled_at IS NOT NULL', [died])).toHaveLength(1);
    await sweeper.sweep();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await finishedOf(died)).toHaveLength(1);
    // Refunded by the sweep, then answered: no second outcome for it.
    expect((await finishedOf(slowId)).map((e) => e.outcome)).toEqual(['failed']);
    expect((await finishedOf(settled.message.id)).map((e) => e.outcome)).toEqual(['succeeded']);
  }, 60_000);
});

describe('long replies and the context', () => {
  it('a reply over 8,000 characters is stored cut on a character boundary; a full conversation of such rows lists within NATS’s 1 MB; the context decrypts only the rows it needs', async () => {
    const userId = randomUUID();
    h.peers.replies.set(userId, 'long');
    const first = await send(userId, 'w'.repeat(ChatRpc.MAX_MESSAGE_CHARS));
    // The 8,000th unit is the first half of a surrogate pair: cut before it, not through it.
    expect(first.reply.text).toBe(LONG_REPLY.slice(0, 7_999));
    for (let i = 1; i < ChatRpc.STORED_MESSAGES_PER_ASSISTANT / 2 - 1; i++) await send(userId, 'w'.repeat(ChatRpc.MAX_MESSAGE_CHARS));

    const keys = h.service.app.get(UserDataKeys);
    const openMany = vi.spyOn(keys, 'openMany');
    try {
      await send(userId, 'w'.repeat(ChatRpc.MAX_MESSAGE_CHARS));
      const opened = openMany.mock.calls.filter(([owner]) => owner === userId).reduce((sum, [, sealed]) => sum + sealed.length, 0);
      expect(opened).toBeLessThanOrEqual(10);
    } finally {
      openMany.mockRestore();
    }
    const asked = h.peers.replyRequests.filter((r) => r.userId === userId).at(-1)!;
    expect(asked.turns.reduce((sum, turn) => sum + turn.text.normalize('NFKC').length, 0)).toBeLessThanOrEqual(h.config.CHAT_CONTEXT_CHARS);

    const { items } = await list(userId);
    expect(items).toHaveLength(ChatRpc.STORED_MESSAGES_PER_ASSISTANT);
    expect(items.every((item) => item.text.length <= ChatRpc.MAX_MESSAGE_CHARS)).toBe(true);
  }, 120_000);
});

describe('bad input', () => {
  it('empty text, 8,001 characters, unknown assistant (404), prohibited text (422): nothing stored', async () => {
    const userId = randomUUID();
    await expect(send(userId, '   ')).rejects.toMatchObject({ status: 400, message: expect.stringContaining('text') });
    await expect(send(userId, 'x'.repeat(8_001))).rejects.toMatchObject({ status: 400, message: expect.stringContaining('text') });
    await expect(send(userId, 'hello', 'no-such-assistant')).rejects.toMatchObject({ status: 404, message: expect.stringContaining('no-such-assistant') });
    await expect(list(userId, 'no-such-assistant')).rejects.toMatchObject({ status: 404 });
    await expect(send(userId, 'please set fire to the shed')).rejects.toMatchObject({ status: 422, code: 'content_rejected' });
    expect(await rowsOf(userId)).toEqual([]);
    await eventually(async () => (await h.events(ProhibitedContentDetectedV1)).some((e) => e.userId === userId), { what: 'ProhibitedContentDetected' });
    expect((await h.events(ProhibitedContentDetectedV1)).find((e) => e.userId === userId)).toMatchObject({ subjectKind: 'prompt', rule: 'text-rule:arson' });
    // 8,000 exactly is accepted.
    await expect(send(userId, 'y'.repeat(8_000))).resolves.toMatchObject({ message: { role: 'user' } });
  });

  it("another user's history is never visible, and clearing clears only the caller's", async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    await send(alice, 'alice private words');
    expect((await list(bob)).items).toEqual([]);
    await h.call(ClearMessagesRoute, { assistantId: 'poem-helper' }, bob);
    expect(await rowsOf(alice)).toHaveLength(2);
    await h.call(ClearMessagesRoute, { assistantId: 'poem-helper' }, alice);
    expect(await rowsOf(alice)).toEqual([]);
    expect(await h.sql('SELECT 1 FROM chat.conversations WHERE user_id = $1', [alice])).toEqual([]);
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((e) => e.userId === alice && e.scope === 'chat_history' && e.counts.messages === 2), { what: 'clear receipt' });
  });
});

describe('per-user keys: no plaintext anywhere, and erasure makes every copy unreadable', () => {
  it('UserDeleted: zero rows, the key destroyed; the plaintext is in no table nor dump; a row from a dump taken before cannot be decrypted after', async () => {
    const userId = randomUUID();
    const secret = `Dear assistant, my secret phrase is ${randomUUID()}`;
    await send(userId, secret);
    await send(userId, `${secret} again`, 'letter-writer');

    // Every column of every table of the database, as text: the plaintext appears in none.
    const tables = await h.sql<{ schema: string; name: string }>("SELECT table_schema AS schema, table_name AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'");
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['messages', 'conversations', 'user_data_keys', 'outbox']));
    for (const table of tables) {
      const [hit] = await h.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${table.schema}"."${table.name}" t WHERE t::text LIKE $1 OR t::text LIKE $2`, [`%${secret.slice(0, 30)}%`, `%${Buffer.from(secret.slice(0, 30)).toString('hex')}%`]);
      expect(hit!.n, `${table.schema}.${table.name}`).toBe(0);
    }

    const dir = await mkdtemp(join(tmpdir(), 'chat-dump-'));
    const dumpFile = join(dir, 'before.sql');
    try {
      await run('/usr/bin/pg_dump', ['--schema=chat', `--file=${dumpFile}`, h.databaseUrl]);
      const dump = await readFile(dumpFile);
      expect(dump.includes(secret.slice(0, 30))).toBe(false);
      expect(dump.includes(Buffer.from(secret.slice(0, 30)).toString('hex'))).toBe(false);
      expect(dump.toString('utf8')).toContain('COPY chat.messages');

      await h.publish(UserDeletedV1, { userId, erasureId: randomUUID(), reason: 'user_request', deletedAt: new Date().toISOString() });
      await eventually(async () => (await rowsOf(userId)).length === 0 && (await h.sql('SELECT 1 FROM chat.user_data_keys WHERE user_id = $1', [userId])).length === 0, { what: 'purge' });
      expect(await h.sql('SELECT 1 FROM chat.conversations WHERE user_id = $1', [userId])).toEqual([]);
      await eventually(async () => (await h.events(PurgeCompletedV1)).some((e) => e.userId === userId && e.scope === 'user'), { what: 'PurgeCompleted' });
      expect((await h.events(PurgeCompletedV1)).find((e) => e.userId === userId && e.scope === 'user')!.counts).toEqual({ messages: 4, conversations: 2, prime_status: 0, data_keys: 1 });

      // The dump restored into a scratch database; its messages read back and opened with
      // the service's keys as they are now (the keys table's own backups have expired).
      const scratch = `${h.databaseName}_restore_${randomId()}`;
      await withAdminClient((client) => client.query(`CREATE DATABASE "${scratch}"`));
      try {
        await run('/usr/bin/psql', ['--quiet', '--set=ON_ERROR_STOP=1', `--file=${dumpFile}`, databaseUrl(scratch)]);
        const restored = new pg.Client({ connectionString: databaseUrl(scratch) });
        await restored.connect();
        const { rows } = await restored.query<{ sealed: Buffer }>('SELECT sealed FROM chat.messages WHERE user_id = $1', [userId]);
        await restored.end();
        expect(rows).toHaveLength(4);
        const keys = h.service.app.get(UserDataKeys);
        for (const row of rows) await expect(keys.open(userId, row.sealed)).rejects.toBeInstanceOf(DataKeyDestroyedError);
      } finally {
        await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`));
      }
      // And nothing is written for the user again.
      await expect(send(userId, 'still here?')).rejects.toMatchObject({ status: 401 });
      expect(await rowsOf(userId)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('§5.5 retention with and without Prime (the clock moved)', () => {
  it('the sweep deletes a non-Prime user’s messages after the retention days, keeps a Prime user’s, and counts from the end of Prime once it ends; a notice deletes only what is due', async () => {
    const days = h.config.CHAT_RETENTION_DAYS;
    const plain = randomUUID();
    const prime = randomUUID();
    await h.publish(PrimeStatusChangedV1, { userId: prime, active: true, expiresAt: new Date(h.clock.nowMs() + 365 * DAY_MS).toISOString(), changedAt: new Date(h.clock.nowMs()).toISOString() });
    await eventually(async () => (await h.sql('SELECT 1 FROM chat.prime_status WHERE user_id = $1 AND active', [prime])).length === 1, { what: 'Prime recorded' });
    await send(plain, 'an ordinary message');
    await send(prime, 'a Prime message');
    const sweeper = h.service.app.get(ChatSweeper);

    h.clock.setOffset(h.clock.offset + (days - 1) * DAY_MS);
    await sweeper.sweep();
    expect(await rowsOf(plain)).toHaveLength(2);

    h.clock.setOffset(h.clock.offset + 2 * DAY_MS);
    // Retention's notice for the Prime user deletes nothing (chat's own rule decides) and is confirmed.
    await h.publish(ChatHistoryExpiredV1, { userId: prime, assistantId: 'poem-helper', before: new Date(h.clock.nowMs()).toISOString() });
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((e) => e.userId === prime && e.trigger?.type === ChatHistoryExpiredV1.type), { what: 'notice receipt' });
    expect((await h.events(PurgeCompletedV1)).find((e) => e.userId === prime && e.trigger?.type === ChatHistoryExpiredV1.type)!.counts).toEqual({ messages: 0 });
    expect(await rowsOf(prime)).toHaveLength(2);

    await sweeper.sweep();
    expect(await rowsOf(plain)).toEqual([]);
    expect(await h.sql('SELECT 1 FROM chat.conversations WHERE user_id = $1', [plain])).toEqual([]);
    expect(await rowsOf(prime)).toHaveLength(2);
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((e) => e.userId === plain && e.scope === 'chat_history' && e.trigger === null && e.counts.messages === 2), { what: 'sweep receipt' });

    // Prime ends now: the messages get the full standard period counted from the end.
    const ended = new Date(h.clock.nowMs());
    await h.publish(PrimeStatusChangedV1, { userId: prime, active: false, expiresAt: ended.toISOString(), changedAt: ended.toISOString() });
    await eventually(async () => (await h.sql('SELECT 1 FROM chat.prime_status WHERE user_id = $1 AND NOT active', [prime])).length === 1, { what: 'Prime end recorded' });
    // A stale status (older changedAt) delivered late changes nothing.
    await h.publish(PrimeStatusChangedV1, { userId: prime, active: true, expiresAt: null, changedAt: new Date(ended.getTime() - DAY_MS).toISOString() });
    h.clock.setOffset(h.clock.offset + (days - 1) * DAY_MS);
    await sweeper.sweep();
    expect(await rowsOf(prime)).toHaveLength(2);
    expect(await h.sql('SELECT 1 FROM chat.prime_status WHERE user_id = $1 AND NOT active', [prime])).toHaveLength(1);

    h.clock.setOffset(h.clock.offset + 2 * DAY_MS);
    await sweeper.sweep();
    expect(await rowsOf(prime)).toEqual([]);
  });
});

it('the stand-in reply is recognisable (keeps the tests above honest)', () => {
  expect(standInReply({ userId: randomUUID(), style: 'poem', turns: [{ role: 'user', text: 'x' }] })).toBe('reply (poem) to: x');
});
