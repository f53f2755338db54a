import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatRpc, ProcessingRestrictionChangedV1, UserDeletedV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { startHarness, type Harness } from './harness.js';

// R7.3: while a restriction of processing or an objection is in force (retention's
// ProcessingRestrictionChanged, mirrored here), no chat reply is made for the user.

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ CHAT_CHARGE_ENERGY: 'true' });
});
afterAll(async () => {
  await h?.stop();
});

const send = (userId: string, text: string) => h.call(ChatRpc.SendMessageRoute, { assistantId: 'poem-helper', text }, userId);
const mirror = (userId: string) => h.sql<{ restricted: boolean; changed_at: Date }>('SELECT restricted, changed_at FROM chat.processing_restrictions WHERE user_id = $1', [userId]);
const rows = async (userId: string) => (await h.sql<{ n: number }>('SELECT count(*)::int AS n FROM chat.messages WHERE user_id = $1', [userId]))[0]!.n;

describe('processing restriction (R7.3)', () => {
  it('restricted: 403 processing_restricted, nothing stored, nothing reserved, nothing asked of generation; a stale lift changes nothing; the newer lift allows again', async () => {
    const userId = randomUUID();
    const other = randomUUID();
    await send(userId, 'a first message');
    const t0 = Date.now();
    await h.publish(ProcessingRestrictionChangedV1, { userId, restricted: true, changedAt: new Date(t0).toISOString() });
    await eventually(async () => (await mirror(userId))[0]?.restricted === true);

    const before = { rows: await rows(userId), reservations: h.peers.reservations.length, replies: h.peers.replyRequests.length };
    const refused = send(userId, 'write me a poem');
    await expect(refused).rejects.toMatchObject({ status: 403, code: 'processing_restricted' });
    await expect(refused).rejects.toThrow(/restriction of processing or an objection/);
    expect(await rows(userId)).toBe(before.rows);
    expect(h.peers.reservations.length).toBe(before.reservations);
    expect(h.peers.replyRequests.length).toBe(before.replies);
    // Another user is untouched.
    await expect(send(other, 'hello')).resolves.toMatchObject({ reply: { role: 'assistant' } });

    // An older lift delivered late is ignored (newest changedAt wins).
    await h.publish(ProcessingRestrictionChangedV1, { userId, restricted: false, changedAt: new Date(t0 - 60_000).toISOString() });
    const marker = randomUUID();
    await h.publish(ProcessingRestrictionChangedV1, { userId: marker, restricted: true, changedAt: new Date(t0).toISOString() });
    await eventually(async () => (await mirror(marker)).length === 1);
    expect(await mirror(userId)).toMatchObject([{ restricted: true }]);
    await expect(send(userId, 'still restricted?')).rejects.toMatchObject({ status: 403, code: 'processing_restricted' });

    await h.publish(ProcessingRestrictionChangedV1, { userId, restricted: false, changedAt: new Date(t0 + 1_000).toISOString() });
    await eventually(async () => (await mirror(userId))[0]?.restricted === false);
    await expect(send(userId, 'lifted now')).resolves.toMatchObject({ reply: { role: 'assistant' } });
  });

  it('the mirror row goes with the user on UserDeleted', async () => {
    const userId = randomUUID();
    await h.publish(ProcessingRestrictionChangedV1, { userId, restricted: true, changedAt: new Date().toISOString() });
    await eventually(async () => (await mirror(userId)).length === 1);
    await h.publish(UserDeletedV1, { userId, erasureId: randomUUID(), reason: 'user_request', deletedAt: new Date().toISOString() });
    await eventually(async () => (await mirror(userId)).length === 0);
    // And a change arriving after the erasure is not recorded (tombstone).
    await h.publish(ProcessingRestrictionChangedV1, { userId, restricted: true, changedAt: new Date(Date.now() + 1_000).toISOString() });
    const marker = randomUUID();
    await h.publish(ProcessingRestrictionChangedV1, { userId: marker, restricted: true, changedAt: new Date().toISOString() });
    await eventually(async () => (await mirror(marker)).length === 1);
    expect(await mirror(userId)).toHaveLength(0);
  });
});
