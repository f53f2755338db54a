import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PurgeCompletedV1, UserDeletedV1, UserRegisteredV1 } from '@homiwork/contracts';
import { catalogueViolations } from '@homiwork/observability';
import { PURGE_TRIGGERS, purgeTriggerLabel } from '../src/index.js';
import { createMessagingFixture, SCHEMA, type MessagingFixture } from './fixture.js';

let f: MessagingFixture;
beforeEach(async () => {
  f = await createMessagingFixture();
});
afterEach(async () => {
  await f.close();
});

const gauge = async (metric: typeof f.metrics.outboxBacklog): Promise<number | undefined> => (await metric.get()).values[0]?.value;
const purges = async (trigger: string): Promise<number | undefined> => (await f.metrics.purgesCompleted.get()).values.find((v) => v.labels.trigger === trigger)?.value;

describe('outbox metrics', () => {
  it('reports the backlog and the age of the oldest unsent row, back to 0 once relayed', async () => {
    const relay = f.newRelay();
    await f.dataSource.transaction(async (manager) => {
      for (let i = 0; i < 2; i++) await f.outbox.append(manager, UserRegisteredV1, { userId: randomUUID(), registeredAt: f.clock.now().toISOString() });
    });
    // One row written 90 s ago (a relay that has been down that long).
    await f.dataSource.query(`UPDATE ${SCHEMA}.outbox SET occurred_at = now() - interval '90 seconds' WHERE seq = (SELECT min(seq) FROM ${SCHEMA}.outbox)`);
    await relay.refreshBacklog();
    expect(await gauge(f.metrics.outboxBacklog)).toBe(2);
    const age = (await gauge(f.metrics.outboxOldestAge))!;
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(120);

    expect(await relay.relayBatch()).toBe(2);
    await relay.refreshBacklog();
    expect(await gauge(f.metrics.outboxBacklog)).toBe(0);
    expect(await gauge(f.metrics.outboxOldestAge)).toBe(0);
  });

  it('counts PurgeCompleted receipts when relayed, by trigger (scheduled for a service’s own sweep), never before the commit', async () => {
    const relay = f.newRelay();
    await relay.start();
    await relay.stop();
    for (const trigger of PURGE_TRIGGERS) expect(await purges(trigger)).toBe(0);
    const receipt = (trigger: { type: string; messageId: string } | null) => ({
      service: 'media' as const,
      userId: randomUUID(),
      erasureId: null,
      scope: 'upload' as const,
      scopeId: randomUUID(),
      trigger,
      counts: { uploads: 1, objects: 1 },
      purgedAt: f.clock.now().toISOString(),
    });
    // Rolled back: the purge did not happen, and nothing may count it.
    await f.dataSource
      .transaction(async (manager) => {
        await f.outbox.append(manager, PurgeCompletedV1, receipt(null));
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await f.dataSource.transaction(async (manager) => {
      await f.outbox.append(manager, PurgeCompletedV1, receipt({ type: UserDeletedV1.type, messageId: randomUUID() }));
      await f.outbox.append(manager, PurgeCompletedV1, receipt(null));
      await f.outbox.append(manager, PurgeCompletedV1, receipt(null));
      await f.outbox.append(manager, UserRegisteredV1, { userId: randomUUID(), registeredAt: f.clock.now().toISOString() });
    });
    expect(await purges('scheduled')).toBe(0);
    expect(await relay.relayBatch()).toBe(4);
    expect(await purges('user_deleted')).toBe(1);
    expect(await purges('scheduled')).toBe(2);
    expect(await purges('upload_expired')).toBe(0);
    // Everything the messaging metrics export is in the catalogue, with known label values.
    // (The fixture's service name carries a uuid to keep tests apart; a real one is a plain name.)
    expect(catalogueViolations((await f.serviceMetrics.metricsText()).replaceAll(f.serviceMetrics.service, 'messaging-test'))).toEqual([]);
  });

  it('names a trigger by its event in snake case, without the version', () => {
    expect(purgeTriggerLabel(UserDeletedV1.type)).toBe('user_deleted');
    expect(purgeTriggerLabel('ChatHistoryExpired.v1')).toBe('chat_history_expired');
  });
});
