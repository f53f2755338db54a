import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationRpc, ProcessingRestrictionChangedV1, UserDeletedV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { startHarness, type Harness } from './harness.js';

// R7.3: while a restriction of processing or an objection is in force (retention's
// ProcessingRestrictionChanged, mirrored here), no generation is made from the user's data.

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const mirror = (userId: string) => h.sql<{ restricted: boolean }>('SELECT restricted FROM generation.processing_restrictions WHERE user_id = $1', [userId]);
const jobsOf = async (userId: string) => (await h.sql<{ n: number }>('SELECT count(*)::int AS n FROM generation.jobs WHERE user_id = $1', [userId]))[0]!.n;

describe('processing restriction (R7.3)', () => {
  it('restricted: 403 processing_restricted, no job stored, no energy reserved; lifting allows again; a stale change is ignored', async () => {
    const user = h.newUser();
    const other = h.newUser();
    const t0 = Date.now();
    await h.publish(ProcessingRestrictionChangedV1, { userId: user.id, restricted: true, changedAt: new Date(t0).toISOString() });
    await eventually(async () => (await mirror(user.id))[0]?.restricted === true);

    const reservations = h.peers.reservations.length;
    const refused = h.call(GenerationRpc.CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about autumn' }, user.id);
    await expect(refused).rejects.toMatchObject({ status: 403, code: 'processing_restricted' });
    await expect(refused).rejects.toThrow(/restriction of processing or an objection/);
    expect(await jobsOf(user.id)).toBe(0);
    expect(h.peers.reservations.length).toBe(reservations);
    await expect(h.call(GenerationRpc.CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about spring' }, other.id)).resolves.toMatchObject({ status: 'queued' });

    // A lift older than the restriction, delivered late, changes nothing.
    await h.publish(ProcessingRestrictionChangedV1, { userId: user.id, restricted: false, changedAt: new Date(t0 - 60_000).toISOString() });
    const marker = randomUUID();
    await h.publish(ProcessingRestrictionChangedV1, { userId: marker, restricted: true, changedAt: new Date(t0).toISOString() });
    await eventually(async () => (await mirror(marker)).length === 1);
    await expect(h.call(GenerationRpc.CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about winter' }, user.id)).rejects.toMatchObject({ status: 403, code: 'processing_restricted' });

    await h.publish(ProcessingRestrictionChangedV1, { userId: user.id, restricted: false, changedAt: new Date(t0 + 1_000).toISOString() });
    await eventually(async () => (await mirror(user.id))[0]?.restricted === false);
    const accepted = await h.call(GenerationRpc.CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about summer' }, user.id);
    expect(accepted.status).toBe('queued');
    await h.finished(accepted.id, user.id);
  });

  it('the mirror row goes with the user on UserDeleted', async () => {
    const userId = randomUUID();
    await h.publish(ProcessingRestrictionChangedV1, { userId, restricted: true, changedAt: new Date().toISOString() });
    await eventually(async () => (await mirror(userId)).length === 1);
    await h.publish(UserDeletedV1, { userId, erasureId: randomUUID(), reason: 'user_request', deletedAt: new Date().toISOString() });
    await eventually(async () => (await mirror(userId)).length === 0);
  });
});
