import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, DAY_MS } from '@homiwork/clock';
import { ContentExpiredV1, PurgeCompletedV1, SAFETY_NET_GRACE_DAYS } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { ContentSweeper } from '../src/usecases/purge-content/content-sweeper.js';
import { PurgeContent } from '../src/usecases/purge-content/purge-content.usecase.js';
import { startHarness, type Harness } from './harness.js';

// Generation's own sweep is a safety net behind retention's ContentExpired
// (RETENTION_SCHEDULE.generatedContent and .deletedContent act first): a notice deletes at
// the due time, the sweep only a grace day later; the sweep never deletes a held user's
// content or job records, and deletes nothing of anyone while retention (stood in for in
// harness.ts) does not answer holds.active.

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

/** A content item with its object: expiring at `expiresAt`, or in the trash since `deletedAt`. */
async function contentOf(userId: string, times: { expiresAt?: Date; deletedAt?: Date }): Promise<{ id: string; key: string }> {
  const id = randomUUID();
  const stored = await h.store.put(userId, id, Buffer.from('a poem'), { contentType: 'text/plain; charset=utf-8', size: 6 });
  await h.sql(
    `INSERT INTO generation.contents (id, user_id, job_id, kind, mime_type, bytes, object_key, created_at, expires_at, deleted_at)
     VALUES ($1, $2, $3, 'poem', 'text/plain; charset=utf-8', 6, $4, $5, $6, $7)`,
    [id, userId, randomUUID(), stored.key, addDays(h.clock.now(), -100), times.expiresAt ?? null, times.deletedAt ?? null],
  );
  return { id, key: stored.key };
}

/** A job record that ended long before JOB_RECORD_DAYS. */
async function oldJobOf(userId: string): Promise<string> {
  const id = randomUUID();
  const at = addDays(h.clock.now(), -(h.config.JOB_RECORD_DAYS + 5));
  await h.sql("INSERT INTO generation.jobs (id, user_id, kind, status, error_code, created_at, finished_at) VALUES ($1, $2, 'poem', 'failed', 'contractor_failed', $3, $3)", [id, userId, at]);
  return id;
}

const contentExists = async (id: string) => (await h.sql('SELECT 1 FROM generation.contents WHERE id = $1', [id])).length === 1;
const jobExists = async (id: string) => (await h.sql('SELECT 1 FROM generation.jobs WHERE id = $1', [id])).length === 1;

describe('generation’s own content sweep, behind retention and under legal holds', () => {
  it('a ContentExpired notice deletes at the due time; the sweep only a grace day after it was due', async () => {
    const user = randomUUID();
    const dueHourAgo = new Date(h.clock.nowMs() - 3_600_000);
    const noticed = await contentOf(user, { expiresAt: dueHourAgo });
    const expired = await contentOf(user, { expiresAt: dueHourAgo });
    const trashed = await contentOf(user, { deletedAt: addDays(dueHourAgo, -h.config.CONTENT_TRASH_DAYS) });
    const sweeper = h.service.app.get(ContentSweeper);

    await sweeper.sweep();
    expect(await contentExists(expired.id)).toBe(true);
    expect(await contentExists(trashed.id)).toBe(true);
    await h.publish(ContentExpiredV1, { userId: user, contentId: noticed.id, expiredAt: dueHourAgo.toISOString() });
    await eventually(async () => !(await contentExists(noticed.id)), { what: 'the notice purging at the due time' });

    h.clock.advance(SAFETY_NET_GRACE_DAYS * DAY_MS);
    await sweeper.sweep();
    expect(await contentExists(expired.id)).toBe(false);
    expect(await contentExists(trashed.id)).toBe(false);
    expect(await h.store.stat(expired.key)).toBeNull();
  });

  it('keeps a held user’s due content, trash and job records; deletes nothing without retention’s answer; deletes them after release', async () => {
    const heldUser = randomUUID();
    const freeUser = randomUUID();
    const longAgo = addDays(h.clock.now(), -30);
    const heldItems = [await contentOf(heldUser, { expiresAt: longAgo }), await contentOf(heldUser, { deletedAt: longAgo })];
    const freeItems = [await contentOf(freeUser, { expiresAt: longAgo }), await contentOf(freeUser, { deletedAt: longAgo })];
    const heldJob = await oldJobOf(heldUser);
    const freeJob = await oldJobOf(freeUser);
    const sweeper = h.service.app.get(ContentSweeper);

    h.peers.holds.down = true;
    try {
      await sweeper.sweep();
      for (const item of [...heldItems, ...freeItems]) expect(await contentExists(item.id)).toBe(true);
      expect(await jobExists(heldJob)).toBe(true);
      expect(await jobExists(freeJob)).toBe(true);
    } finally {
      h.peers.holds.down = false;
    }

    h.peers.holds.userIds.add(heldUser);
    await sweeper.sweep();
    for (const item of freeItems) expect(await contentExists(item.id)).toBe(false);
    expect(await jobExists(freeJob)).toBe(false);
    for (const item of heldItems) {
      expect(await contentExists(item.id)).toBe(true);
      expect(await h.store.stat(item.key)).not.toBeNull();
    }
    expect(await jobExists(heldJob)).toBe(true);

    h.peers.holds.userIds.delete(heldUser);
    await sweeper.sweep();
    for (const item of heldItems) {
      expect(await contentExists(item.id)).toBe(false);
      expect(await h.store.stat(item.key)).toBeNull();
    }
    expect(await jobExists(heldJob)).toBe(false);
  });
});

describe('retention’s ContentExpired under legal holds', () => {
  const receiptsOf = async (contentId: string) => (await h.events(PurgeCompletedV1)).filter((e) => e.scopeId === contentId && e.trigger?.type === ContentExpiredV1.type);

  it('keeps the item of a user held after the event was fired (a zero receipt); the sweep takes it after the release', async () => {
    const heldUser = randomUUID();
    const dueHourAgo = new Date(h.clock.nowMs() - 3_600_000);
    const item = await contentOf(heldUser, { expiresAt: dueHourAgo });
    h.peers.holds.userIds.add(heldUser);
    try {
      await h.publish(ContentExpiredV1, { userId: heldUser, contentId: item.id, expiredAt: dueHourAgo.toISOString() });
      await eventually(async () => (await receiptsOf(item.id)).length > 0, { what: 'the receipt of the held item' });
      expect((await receiptsOf(item.id))[0]!.counts).toEqual({ contents: 0, objects: 0 });
      expect(await contentExists(item.id)).toBe(true);
      expect(await h.store.stat(item.key)).not.toBeNull();
    } finally {
      h.peers.holds.userIds.delete(heldUser);
    }
    h.clock.advance(SAFETY_NET_GRACE_DAYS * DAY_MS);
    await h.service.app.get(ContentSweeper).sweep();
    expect(await contentExists(item.id)).toBe(false);
    expect(await h.store.stat(item.key)).toBeNull();
  });

  it('deletes nothing while retention does not answer, and the event is tried again until it does (not dead-lettered)', async () => {
    const user = randomUUID();
    const dueHourAgo = new Date(h.clock.nowMs() - 3_600_000);
    const item = await contentOf(user, { expiresAt: dueHourAgo });
    h.peers.holds.down = true;
    try {
      await h.publish(ContentExpiredV1, { userId: user, contentId: item.id, expiredAt: dueHourAgo.toISOString() });
      // Asked at least twice: the consumer held the event and tried it again.
      await eventually(() => h.peers.holds.asked.filter((ids) => ids.includes(user)).length >= 2, { what: 'the consumer asking about the owner again', timeoutMs: 15_000 });
      expect(await contentExists(item.id)).toBe(true);
      expect(await receiptsOf(item.id)).toEqual([]);
    } finally {
      h.peers.holds.down = false;
    }
    await eventually(async () => !(await contentExists(item.id)), { what: 'the event applied once retention answers', timeoutMs: 20_000 });
    // The receipt was committed with the deletion; the relay publishes it a moment later.
    await eventually(async () => (await receiptsOf(item.id)).length > 0, { what: 'the receipt relayed', timeoutMs: 10_000 });
    expect((await receiptsOf(item.id)).map((e) => e.counts)).toEqual([{ contents: 1, objects: 1 }]);
  });
});

describe('generation’s own sweep asks about each batch’s owners only', () => {
  it('never asks more than a batch of ids, only of candidates, and goes past a held user’s older items', async () => {
    const heldUser = randomUUID();
    const freeUser = randomUUID();
    const heldItems = [await contentOf(heldUser, { expiresAt: addDays(h.clock.now(), -60) }), await contentOf(heldUser, { expiresAt: addDays(h.clock.now(), -59) })];
    const freeItem = await contentOf(freeUser, { expiresAt: addDays(h.clock.now(), -40) });
    h.peers.holds.userIds.add(heldUser);
    const heldElsewhere = randomUUID(); // held, with nothing due: never named in a question
    h.peers.holds.userIds.add(heldElsewhere);
    h.peers.holds.asked.length = 0;
    try {
      expect(await h.service.app.get(PurgeContent).due(1)).toBe(1);
      expect(await contentExists(freeItem.id)).toBe(false);
      for (const item of heldItems) expect(await contentExists(item.id)).toBe(true);
      expect(h.peers.holds.asked.length).toBeGreaterThanOrEqual(2);
      const asked = h.peers.holds.asked;
      expect(asked.flat()).toEqual(expect.arrayContaining([heldUser, freeUser]));
      expect(asked.flat()).not.toContain(heldElsewhere);
      for (const ids of asked) expect(ids).toHaveLength(1);
    } finally {
      h.peers.holds.userIds.clear();
    }
  });
});
