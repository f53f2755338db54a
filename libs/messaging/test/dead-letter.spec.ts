import { randomUUID } from 'node:crypto';
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_STREAM, eventSubject, streamName, UserRegisteredV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { DeadLetterArchive, DLQ_DELIVERIES_HEADER, DLQ_ERROR_HEADER, DLQ_REASON_HEADER, EVENT_TYPE_HEADER, MESSAGE_ID_HEADER, REPLAY_OF_HEADER } from '../src/index.js';
import { createMessagingFixture, type MessagingFixture } from './fixture.js';
import { newTestConsumer, recordApplication, TEST_CONSUMER } from './test-consumer.js';
import { SCHEMA } from './schema.js';

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
    const counterOf = async (counter: typeof f.metrics.redelivered | typeof f.metrics.deadLettered, reason?: string) =>
      (await counter.get()).values.find((v) => v.labels.consumer === TEST_CONSUMER.durableName && (reason === undefined || (v.labels as Record<string, unknown>).reason === reason))?.value;
    // Series at 0 before the first message, so `increase(...) > 0` sees the first one.
    expect(await counterOf(f.metrics.redelivered)).toBe(0);
    expect(await counterOf(f.metrics.deadLettered, 'handler_failed')).toBe(0);
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
    // Deliveries 2 and 3 of the poison message; the healthy ones were delivered once.
    expect(await counterOf(f.metrics.redelivered)).toBe(2);
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

describe('malformed events', () => {
  it('dead-letters every malformed variant at once and goes on with the valid event behind them', async () => {
    const consumer = newTestConsumer(f);
    await consumer.start();
    const subject = eventSubject(f.namespace, UserRegisteredV1);
    const publish = async (data: Uint8Array | string, headers: Record<string, string> = { [EVENT_TYPE_HEADER]: UserRegisteredV1.type }) => {
      const h = natsHeaders();
      for (const [key, value] of Object.entries(headers)) h.set(key, value);
      await f.nats.js.publish(subject, data, { msgID: randomUUID(), headers: h });
    };
    const valid = JSON.stringify({ userId: randomUUID(), registeredAt: new Date().toISOString() });
    await publish('');
    await publish('{"userId":');
    await publish(Uint8Array.from([0x7b, 0x22, 0x75, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
    await publish('[]');
    await publish(valid, { [EVENT_TYPE_HEADER]: 'UserDeleted' });
    await publish(valid, { [EVENT_TYPE_HEADER]: UserRegisteredV1.type, [MESSAGE_ID_HEADER]: 'x'.repeat(500) });
    await publish(valid, { [EVENT_TYPE_HEADER]: UserRegisteredV1.type, 'Hw-Occurred-At': 'not a date', traceparent: '{' });
    await eventually(async () => (await f.appliedCount()) === 1, { what: 'the valid event (with unreadable optional headers) applied' });
    await eventually(async () => (await deadLetters()).length === 6, { what: 'six malformed events dead-lettered' });
    await consumer.stop();
    const reasons = (await deadLetters()).map((letter) => [letter.headers?.get(DLQ_REASON_HEADER), letter.headers?.get(DLQ_ERROR_HEADER)]);
    expect(reasons.map(([reason]) => reason)).toEqual(Array(6).fill('invalid_payload'));
    expect(reasons.map(([, error]) => error)).toEqual([
      'payload is empty',
      'payload is not JSON',
      'payload is not valid UTF-8',
      expect.stringMatching(/./),
      'header Hw-Event-Type names another event type',
      'the message id header is malformed',
    ]);
  });
});

describe('an outage of the database', () => {
  it('never counts toward dead-lettering: the event waits, is applied once when the database is back, and the server keeps no delivery limit', async () => {
    let databaseDown = true;
    const consumer = newTestConsumer({
      ...f,
      handler: async (payload, context) => {
        // What pg says when the server went away mid-transaction.
        if (databaseDown) throw new Error('Connection terminated unexpectedly');
        await recordApplication(payload, context);
      },
    });
    await consumer.start();
    const info = await f.nats.jsm.consumers.info(streamName(f.namespace, 'EVENTS'), TEST_CONSUMER.durableName);
    expect(info.config.max_deliver).toBe(-1);
    const userId = randomUUID();
    await f.dataSource.transaction((manager) => f.outbox.append(manager, UserRegisteredV1, { userId, registeredAt: f.clock.now().toISOString() }));
    await f.newRelay().relayBatch();
    await eventually(() => consumer.waitingForDependency, { what: 'consumer waiting for its dependency' });
    // Far longer than the whole backoff (50 + 100 ms): with the old code it would be dead-lettered by now.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(consumer.waitingForDependency).toBe(true);
    expect(await deadLetters()).toHaveLength(0);
    databaseDown = false;
    await eventually(async () => (await f.appliedCount(userId)) === 1, { what: 'applied after the outage' });
    await eventually(() => !consumer.waitingForDependency, { what: 'consumer resumed' });
    await consumer.stop();
    expect(await deadLetters()).toHaveLength(0);
  });
});

describe('dead-letter replay', () => {
  it('lists letters without their payload and replays one so that it is applied once, once only, and not again by a consumer that had applied it', async () => {
    let broken = true;
    const consumer = newTestConsumer({
      ...f,
      handler: async (payload, context) => {
        if (broken) throw new Error('a bug in the handler');
        await recordApplication(payload, context);
      },
    });
    await consumer.start();
    // A second consumer of the same subject that applied the event the first time.
    const other = new (consumer.constructor as typeof import('../src/index.js').EventConsumer)({
      contract: { ...TEST_CONSUMER, durableName: 'identity--user-registered-v1' },
      handler: async (_payload, context) => {
        await context.manager.query(`INSERT INTO ${SCHEMA}.applied (message_id, user_id) VALUES ($1, $2)`, [`other:${context.messageId}`, randomUUID()]);
      },
      namespace: f.namespace,
      dataSource: f.dataSource,
      schema: SCHEMA,
      js: f.nats.js,
      jsm: f.nats.jsm,
      logger: f.logger,
      metrics: f.metrics,
    });
    await other.start();
    const userId = randomUUID();
    await f.dataSource.transaction((manager) => f.outbox.append(manager, UserRegisteredV1, { userId, registeredAt: f.clock.now().toISOString() }));
    await f.newRelay().relayBatch();
    const archive = new DeadLetterArchive(f.nats, f.namespace, [TEST_CONSUMER]);
    await eventually(async () => (await archive.list()).length === 1, { what: 'dead-lettered after its attempts' });
    const otherApplied = async () => (await f.dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM ${SCHEMA}.applied WHERE message_id LIKE 'other:%'`))[0]!.n;
    expect(await otherApplied()).toBe(1);

    const [letter] = await archive.list();
    expect(letter).toMatchObject({ consumer: TEST_CONSUMER.durableName, eventType: UserRegisteredV1.type, reason: 'handler_failed', deliveries: 3, handlerFailures: 3 });
    expect(JSON.stringify(letter)).not.toContain(userId);
    expect(await archive.list({ consumer: 'someone-else' })).toEqual([]);

    broken = false;
    // Within JetStream's duplicate window of the original publish: the replay must still be stored.
    const replayed = await archive.replay(letter!.id);
    expect(replayed.duplicate).toBe(false);
    await eventually(async () => (await f.appliedCount(userId)) === 1, { what: 'replayed event applied' });
    expect(await archive.list()).toEqual([]);
    await expect(archive.replay(letter!.id)).rejects.toThrow(/no dead letter/);

    // The same event arriving again (an operator replaying a copy) is recognised by the inbox, everywhere.
    const h = natsHeaders();
    h.set(EVENT_TYPE_HEADER, UserRegisteredV1.type);
    const [stored] = await f.dataSource.query<Array<{ message_id: string }>>(`SELECT message_id FROM ${SCHEMA}.applied WHERE user_id = $1`, [userId]);
    h.set(MESSAGE_ID_HEADER, stored!.message_id);
    h.set(REPLAY_OF_HEADER, String(letter!.id));
    await f.nats.js.publish(eventSubject(f.namespace, UserRegisteredV1), JSON.stringify({ userId, registeredAt: new Date().toISOString() }), { msgID: randomUUID(), headers: h });
    await eventually(async () => {
      const pending = await f.nats.jsm.consumers.info(streamName(f.namespace, 'EVENTS'), TEST_CONSUMER.durableName);
      return pending.num_pending === 0 && pending.num_ack_pending === 0;
    }, { what: 'copy consumed' });
    await consumer.stop();
    await other.stop();
    expect(await f.appliedCount(userId)).toBe(1);
    expect(await otherApplied()).toBe(1);
  });
});
