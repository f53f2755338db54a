import { randomUUID } from 'node:crypto';
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_STREAM, eventSubject, streamName, UserRegisteredV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { DLQ_DELIVERIES_HEADER, DLQ_ERROR_HEADER, DLQ_REASON_HEADER, EVENT_TYPE_HEADER } from '../src/index.js';
import { createMessagingFixture, type MessagingFixture } from './fixture.js';
import { newTestConsumer, recordApplication, TEST_CONSUMER } from './test-consumer.js';

let f: MessagingFixture;
beforeEach(async () => {
  f = await createMessagingFixture();
});
afterEach(async () => {
  await f.close();
});

async function deadLetters(): Promise<JsMsg[]> {
  const stream = streamName(f.namespace, DEAD_LETTER_STREAM);
  const info = await f.nats.jsm.streams.info(stream);
  if (info.state.messages === 0) return [];
  const consumer = await f.nats.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const batch = await consumer.fetch({ max_messages: info.state.messages, expires: 2_000 });
  const messages: JsMsg[] = [];
  for await (const msg of batch) {
    messages.push(msg);
    if (messages.length === info.state.messages) break;
  }
  return messages;
}

describe('dead letters', () => {
  it('moves a message that always fails to the dead-letter subject after bounded retries, without blocking those behind it', async () => {
    const poisonUser = randomUUID();
    const attempts: number[] = [];
    const consumer = newTestConsumer({
      ...f,
      handler: async (payload, context) => {
        if (payload.userId === poisonUser) {
          attempts.push(context.deliveryCount);
          throw new Error(`cannot apply for owner bob@example.com`);
        }
        await recordApplication(payload, context);
      },
    });
    await consumer.start();
    const relay = f.newRelay();
    await relay.start();
    const healthy: string[] = [];
    await f.dataSource.transaction(async (manager) => {
      await f.outbox.append(manager, UserRegisteredV1, { userId: poisonUser, registeredAt: f.clock.now().toISOString() });
      for (let i = 0; i < 5; i++) {
        const userId = randomUUID();
        healthy.push(userId);
        await f.outbox.append(manager, UserRegisteredV1, { userId, registeredAt: f.clock.now().toISOString() });
      }
    });

    await eventually(async () => (await f.appliedCount()) === healthy.length, { what: 'healthy events applied' });
    await eventually(async () => (await deadLetters()).length === 1, { what: 'poison message dead-lettered' });
    await consumer.stop();

    expect(attempts).toEqual([1, 2, 3]); // maxDeliver = backoff steps + 1
    const [letter] = await deadLetters();
    expect(letter!.headers?.get(DLQ_REASON_HEADER)).toBe('handler_failed');
    expect(letter!.headers?.get(DLQ_DELIVERIES_HEADER)).toBe(String(TEST_CONSUMER.maxDeliver));
    expect(letter!.headers?.get(DLQ_ERROR_HEADER)).toContain('cannot apply');
    expect(letter!.headers?.get(DLQ_ERROR_HEADER)).not.toContain('bob@example.com');
    expect(letter!.json<{ userId: string }>().userId).toBe(poisonUser);
    const dead = (await f.metrics.deadLettered.get()).values.find((v) => v.labels.reason === 'handler_failed');
    expect(dead?.value).toBe(1);
  });

  it('dead-letters an invalid payload on consume at once, logging the schema error and no personal data', async () => {
    const consumer = newTestConsumer(f);
    await consumer.start();
    // A foreign or buggy producer bypassing the outbox: the consumer is the last line of defence.
    const h = natsHeaders();
    h.set(EVENT_TYPE_HEADER, UserRegisteredV1.type);
    await f.nats.js.publish(eventSubject(f.namespace, UserRegisteredV1), JSON.stringify({ userId: 'carol@example.com', registeredAt: 'soon', password: 'hunter2!' }), {
      msgID: randomUUID(),
      headers: h,
    });
    const goodUser = randomUUID();
    await f.dataSource.transaction((manager) => f.outbox.append(manager, UserRegisteredV1, { userId: goodUser, registeredAt: f.clock.now().toISOString() }));
    await f.newRelay().relayBatch();

    await eventually(async () => (await deadLetters()).length === 1, { what: 'invalid payload dead-lettered' });
    await eventually(async () => (await f.appliedCount(goodUser)) === 1, { what: 'valid event behind it applied' });
    await consumer.stop();

    const [letter] = await deadLetters();
    expect(letter!.headers?.get(DLQ_REASON_HEADER)).toBe('invalid_payload');
    expect(letter!.headers?.get(DLQ_DELIVERIES_HEADER)).toBe('1');
    const line = f.logLines.find((l) => l.includes('event dead-lettered'));
    expect(line).toBeDefined();
    const entry = JSON.parse(line!) as Record<string, unknown>;
    expect(entry.schemaError).toMatch(/userId: invalid_format/);
    expect(entry.schemaError).toMatch(/registeredAt/);
    const allLogs = f.logLines.join('\n');
    expect(allLogs).not.toContain('carol@example.com');
    expect(allLogs).not.toContain('hunter2');
    expect(await f.appliedCount()).toBe(1);
  });
});
