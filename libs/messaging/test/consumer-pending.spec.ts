import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENTS_STREAM, streamName, UserRegisteredV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { ConsumerPendingGauge } from '../src/index.js';
import { createMessagingFixture, SCHEMA, type MessagingFixture } from './fixture.js';
import { newTestConsumer, recordApplication, TEST_CONSUMER } from './test-consumer.js';

let f: MessagingFixture;
beforeEach(async () => {
  f = await createMessagingFixture();
});
afterEach(async () => {
  await f.close();
});

async function pending(): Promise<number | undefined> {
  const { values } = await f.metrics.consumerPending.get();
  return values.find((value) => value.labels.consumer === TEST_CONSUMER.durableName)?.value;
}

async function registerUsers(count: number): Promise<void> {
  await f.dataSource.transaction(async (manager) => {
    for (let i = 0; i < count; i++) {
      const userId = randomUUID();
      await manager.query(`INSERT INTO ${SCHEMA}.accounts (user_id) VALUES ($1)`, [userId]);
      await f.outbox.append(manager, UserRegisteredV1, { userId, registeredAt: f.clock.now().toISOString() });
    }
  });
}

describe('consumer_pending_messages', () => {
  it('counts what the durable consumer has not settled: undelivered, then held unacknowledged, then none', async () => {
    const consumer = newTestConsumer({ ...f, handler: async (payload, context) => {
      await gate;
      await recordApplication(payload, context);
    } });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    await consumer.provision();
    const gauge = new ConsumerPendingGauge({ jsm: f.nats.jsm, namespace: f.namespace, consumers: [TEST_CONSUMER], metrics: f.metrics, logger: f.logger, intervalMs: 50 });

    await registerUsers(3);
    await f.newRelay().start();
    // Nobody consumes yet: all three wait undelivered.
    await eventually(async () => {
      await gauge.refresh();
      return (await pending()) === 3;
    }, { what: 'three pending before the consumer runs' });

    // Delivered but held by a handler that has not finished: still not settled.
    await consumer.start();
    const stream = streamName(f.namespace, EVENTS_STREAM);
    await eventually(async () => (await f.nats.jsm.consumers.info(stream, TEST_CONSUMER.durableName)).num_ack_pending === 3, { what: 'all three delivered, none acked' });
    await gauge.refresh();
    expect(await pending()).toBe(3);

    gauge.start();
    open();
    await eventually(async () => (await f.appliedCount()) === 3, { what: 'all applied' });
    await eventually(async () => (await pending()) === 0, { what: 'the periodic refresh reaching 0' });
    await gauge.stop();
    await consumer.stop();
  });

  it('warns once, and sets nothing, while the server cannot be asked', async () => {
    const gauge = new ConsumerPendingGauge({ jsm: f.nats.jsm, namespace: f.namespace, consumers: [TEST_CONSUMER], metrics: f.metrics, logger: f.logger, intervalMs: 20 });
    // The consumer was never created: every info request fails.
    gauge.start();
    await eventually(() => f.logLines.some((line) => line.includes('consumer pending count unavailable')), { what: 'a warning' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await gauge.stop();
    expect(f.logLines.filter((line) => line.includes('consumer pending count unavailable'))).toHaveLength(1);
    expect(await pending()).toBeUndefined();
  });
});
