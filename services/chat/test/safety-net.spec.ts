import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '@homiwork/clock';
import { ChatHistoryExpiredV1, ChatRpc, PurgeCompletedV1, SAFETY_NET_GRACE_DAYS } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { ChatSweeper } from '../src/usecases/purge-expired/chat-sweeper.js';
import { PurgeExpired } from '../src/usecases/purge-expired/purge-expired.usecase.js';
import { startHarness, type Harness } from './harness.js';

// Chat's own history sweep is a safety net behind retention's ChatHistoryExpired
// (RETENTION_SCHEDULE.chatHistory acts first): a notice deletes at the due time, the sweep
// only a grace day later; the sweep never deletes a held user's messages, and deletes
// nothing while retention (stood in for in harness.ts) does not answer holds.active.

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const send = (userId: string, text: string) => h.call(ChatRpc.SendMessageRoute, { assistantId: 'poem-helper', text }, userId);
const messagesOf = async (userId: string) => (await h.sql('SELECT 1 FROM chat.messages WHERE user_id = $1', [userId])).length;
const conversationsOf = async (userId: string) => (await h.sql('SELECT 1 FROM chat.conversations WHERE user_id = $1', [userId])).length;

describe('chat’s own history sweep, behind retention and under legal holds', () => {
  it('a notice deletes at the due time; the sweep waits the grace day, skips held users, deletes nothing without retention’s answer, and takes held history after release', async () => {
    const noticed = randomUUID();
    const swept = randomUUID();
    const heldUser = randomUUID();
    for (const userId of [noticed, swept, heldUser]) await send(userId, 'a message that will expire');
    const sweeper = h.service.app.get(ChatSweeper);

    // Due (CHAT_RETENTION_DAYS and an hour), but not yet by the grace day: the sweep leaves it all, a notice deletes.
    h.clock.setOffset(h.clock.offset + h.config.CHAT_RETENTION_DAYS * DAY_MS + 3_600_000);
    await sweeper.sweep();
    expect(await messagesOf(swept)).toBe(2);
    await h.publish(ChatHistoryExpiredV1, { userId: noticed, before: new Date(h.clock.nowMs()).toISOString() });
    await eventually(async () => (await messagesOf(noticed)) === 0, { what: 'the notice purging at the due time' });
    expect(await messagesOf(swept)).toBe(2);

    // A grace day later: retention still down — nothing goes, for anyone.
    h.clock.setOffset(h.clock.offset + SAFETY_NET_GRACE_DAYS * DAY_MS);
    h.peers.holds.down = true;
    expect(await sweeper.sweep()).toBe(0);
    expect(await messagesOf(swept)).toBe(2);
    expect(await messagesOf(heldUser)).toBe(2);

    // Retention answers with a hold on one user: everyone else's history goes, the held user's stays.
    h.peers.holds.down = false;
    h.peers.holds.userIds.add(heldUser);
    expect(await sweeper.sweep()).toBe(2);
    expect(await messagesOf(swept)).toBe(0);
    expect(await conversationsOf(swept)).toBe(0);
    expect(await messagesOf(heldUser)).toBe(2);
    expect(await conversationsOf(heldUser)).toBe(1);
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((e) => e.userId === swept && e.trigger === null && e.counts.messages === 2), { what: 'the sweep receipt' });

    // Released: the next sweep takes the held-back history.
    h.peers.holds.userIds.delete(heldUser);
    expect(await sweeper.sweep()).toBe(2);
    expect(await messagesOf(heldUser)).toBe(0);
  });
});

describe('retention’s ChatHistoryExpired under legal holds', () => {
  const noticeReceipts = async (userId: string) => (await h.events(PurgeCompletedV1)).filter((e) => e.userId === userId && e.trigger?.type === ChatHistoryExpiredV1.type);

  it('keeps the history of a user held after the notice was fired (a zero receipt); the sweep takes it after the release', async () => {
    const heldUser = randomUUID();
    await send(heldUser, 'a message that will expire');
    h.clock.setOffset(h.clock.offset + h.config.CHAT_RETENTION_DAYS * DAY_MS + 3_600_000);
    h.peers.holds.userIds.add(heldUser);
    try {
      await h.publish(ChatHistoryExpiredV1, { userId: heldUser, before: new Date(h.clock.nowMs()).toISOString() });
      await eventually(async () => (await noticeReceipts(heldUser)).length > 0, { what: 'the receipt of the held notice' });
      expect((await noticeReceipts(heldUser))[0]!.counts).toEqual({ messages: 0 });
      expect(await messagesOf(heldUser)).toBe(2);
    } finally {
      h.peers.holds.userIds.delete(heldUser);
    }
    h.clock.setOffset(h.clock.offset + SAFETY_NET_GRACE_DAYS * DAY_MS);
    await h.service.app.get(ChatSweeper).sweep();
    expect(await messagesOf(heldUser)).toBe(0);
  });

  it('deletes nothing while retention does not answer, and the notice is tried again until it does (not dead-lettered)', async () => {
    const user = randomUUID();
    await send(user, 'a message that will expire');
    h.clock.setOffset(h.clock.offset + h.config.CHAT_RETENTION_DAYS * DAY_MS + 3_600_000);
    h.peers.holds.down = true;
    try {
      await h.publish(ChatHistoryExpiredV1, { userId: user, before: new Date(h.clock.nowMs()).toISOString() });
      await eventually(() => h.peers.holds.asked.filter((ids) => ids.includes(user)).length >= 2, { what: 'the consumer asking about the user again', timeoutMs: 15_000 });
      expect(await messagesOf(user)).toBe(2);
      expect(await noticeReceipts(user)).toEqual([]);
    } finally {
      h.peers.holds.down = false;
    }
    await eventually(async () => (await messagesOf(user)) === 0, { what: 'the notice applied once retention answers', timeoutMs: 20_000 });
    expect((await noticeReceipts(user)).map((e) => e.counts)).toEqual([{ messages: 2 }]);
  });

  it('the sweep asks at most a batch of ids, only of candidates, and goes past a held user’s older history', async () => {
    const heldUser = randomUUID();
    const freeUser = randomUUID();
    await send(heldUser, 'older, held');
    await send(freeUser, 'newer, free');
    h.clock.setOffset(h.clock.offset + (h.config.CHAT_RETENTION_DAYS + SAFETY_NET_GRACE_DAYS) * DAY_MS + 3_600_000);
    h.peers.holds.userIds.add(heldUser);
    const heldElsewhere = randomUUID(); // held, with nothing due: never named in a question
    h.peers.holds.userIds.add(heldElsewhere);
    h.peers.holds.asked.length = 0;
    try {
      expect(await h.service.app.get(PurgeExpired).due(1)).toBe(2);
      expect(await messagesOf(freeUser)).toBe(0);
      expect(await conversationsOf(freeUser)).toBe(0);
      expect(await messagesOf(heldUser)).toBe(2);
      expect(await conversationsOf(heldUser)).toBe(1);
      const asked = h.peers.holds.asked;
      expect(asked.flat()).toEqual(expect.arrayContaining([heldUser, freeUser]));
      expect(asked.flat()).not.toContain(heldElsewhere);
      for (const ids of asked) expect(ids).toHaveLength(1);
    } finally {
      h.peers.holds.userIds.clear();
    }
  });
});
