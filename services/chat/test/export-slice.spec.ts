import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatRpc, EXPORT_PAGE_TARGET_BYTES, exportSliceRoute, type ExportSlicePage } from '@homiwork/contracts';
import { UserDataKeys } from '@homiwork/data-keys';
import { ExportSlice } from '../src/usecases/export-slice/export-slice.usecase.js';
import { startHarness, type Harness } from './harness.js';

// R7.1: chat's export slice, asked over NATS as retention asks it, from the chat service as
// it runs (harness.ts: real PostgreSQL and NATS; billing and generation stood in for).

const Route = exportSliceRoute('chat');
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const slice = (userId: string, cursor?: string) => h.call(Route, { userId, ...(cursor === undefined ? {} : { cursor }) }, randomUUID());
const send = (userId: string, text: string, assistantId = 'poem-helper') => h.call(ChatRpc.SendMessageRoute, { assistantId, text }, userId);

async function allPages(read: (cursor?: string) => Promise<ExportSlicePage>): Promise<ExportSlicePage[]> {
  const pages: ExportSlicePage[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    pages.push(page);
    cursor = page.nextCursor ?? undefined;
    if (pages.length > 1000) throw new Error('the export never ends');
  } while (cursor !== undefined);
  return pages;
}

/** Stores a whole conversation directly, sealed with the user's key as SendMessage seals it, timestamps 1 ms apart. */
async function storeConversation(userId: string, assistantId: string, texts: string[]): Promise<string[]> {
  const keys = h.service.app.get(UserDataKeys);
  const start = Date.now() - 3_600_000;
  const ids: string[] = [];
  for (const [index, text] of texts.entries()) {
    const { sealed, keyVersion } = await keys.seal(userId, text);
    const id = randomUUID();
    await h.sql(
      `INSERT INTO chat.messages (id, user_id, assistant_id, role, sealed, key_version, status, created_at, settled_at) VALUES ($1, $2, $3, $4, $5, $6, 'answered', $7, $7)`,
      [id, userId, assistantId, index % 2 === 0 ? 'user' : 'assistant', sealed, keyVersion, new Date(start + index)],
    );
    ids.push(id);
  }
  await h.sql('INSERT INTO chat.conversations (user_id, assistant_id, last_message_at) VALUES ($1, $2, $3)', [userId, assistantId, new Date(start + texts.length)]);
  return ids;
}

describe('chat export slice', () => {
  it("holds the user's conversations and messages decrypted, in order, and nothing of another user", async () => {
    const userId = randomUUID();
    const otherId = randomUUID();
    const first = await send(userId, 'Write me a poem about the sea');
    const second = await send(userId, 'Happy birthday to my sister Ana', 'greeting-writer');
    await send(otherId, 'The other user’s secret: a surprise party');

    const page = await slice(userId);
    expect(page.nextCursor).toBeNull();
    expect(page.files).toEqual([]);
    expect(page.collections.conversations).toEqual([
      { assistantId: 'greeting-writer', lastMessageAt: second.reply.createdAt },
      { assistantId: 'poem-helper', lastMessageAt: first.reply.createdAt },
    ]);
    expect(page.collections.messages).toEqual([
      { ...second.message, assistantId: 'greeting-writer' },
      { ...second.reply, assistantId: 'greeting-writer' },
      { ...first.message, assistantId: 'poem-helper' },
      { ...first.reply, assistantId: 'poem-helper' },
    ]);
    expect(page.collections.messages![1]!.text).toMatch(/^reply \(greeting\) to: Happy birthday/);
    const json = JSON.stringify(page);
    for (const absent of [otherId, 'surprise party', userId]) expect(json).not.toContain(absent);
  });

  it('a full conversation of long multibyte messages spans several pages over NATS, each well under 1 MB, every message once and intact', async () => {
    const userId = randomUUID();
    // 100 messages of 8,000 characters: 3-byte characters and a 4-byte emoji (a surrogate pair) in each.
    const texts = Array.from({ length: ChatRpc.STORED_MESSAGES_PER_ASSISTANT }, (_, index) => `${index}:${'€'.repeat(7_990)}\u{1F600}`);
    const ids = await storeConversation(userId, 'letter-writer', texts);
    await storeConversation(randomUUID(), 'letter-writer', ['another user’s letter']);

    const pages = await allPages((cursor) => slice(userId, cursor));
    expect(pages.length).toBeGreaterThan(8);
    for (const page of pages) {
      const bytes = Buffer.byteLength(JSON.stringify(page));
      expect(bytes).toBeLessThanOrEqual(EXPORT_PAGE_TARGET_BYTES);
      expect(bytes).toBeLessThan(1024 * 1024);
    }
    const messages = pages.flatMap((page) => page.collections.messages!);
    expect(messages.map((message) => message.id)).toEqual(ids);
    expect(messages.map((message) => message.text)).toEqual(texts);
    expect(pages.flatMap((page) => page.collections.conversations!)).toEqual([{ assistantId: 'letter-writer', lastMessageAt: expect.any(String) }]);
  });

  it('pages at a forced small size: conversations then messages, every row once', async () => {
    const userId = randomUUID();
    const poem = await storeConversation(userId, 'poem-helper', ['one', 'two', 'three', 'four', 'five']);
    const greeting = await storeConversation(userId, 'greeting-writer', ['six', 'seven']);
    const useCase = h.service.app.get(ExportSlice);
    const pages = await allPages((cursor) => useCase.execute({ userId, ...(cursor === undefined ? {} : { cursor }) }, 700));
    expect(pages.length).toBeGreaterThan(3);
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(700);
    expect(pages.flatMap((page) => page.collections.conversations!.map((conversation) => conversation.assistantId))).toEqual(['greeting-writer', 'poem-helper']);
    expect(pages.flatMap((page) => page.collections.messages!.map((message) => message.id))).toEqual([...greeting, ...poem]);
    expect(pages.flatMap((page) => page.collections.messages!.map((message) => message.text))).toEqual(['six', 'seven', 'one', 'two', 'three', 'four', 'five']);
  });

  it('an unknown user answers empty collections; a cursor it never gave out is a 400', async () => {
    expect(await slice(randomUUID())).toEqual({ collections: { conversations: [], messages: [] }, files: [], nextCursor: null });
    await expect(slice(randomUUID(), 'messages:poem-helper|yesterday')).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
    await expect(slice(randomUUID(), 'uploads:')).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
  });
});
