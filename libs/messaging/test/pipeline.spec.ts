import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventsRootSubject, eventSubject, EVENTS_STREAM, InvalidEventPayloadError, PurgeCompletedV1, streamName, UserRegisteredV1 } from '@homiwork/contracts';
import { eventually, TEST_NATS_URL } from '@homiwork/testing';
import { OutboxRelay, publishStoredEvent, readStoredEvents } from '../src/index.js';
import { createMessagingFixture, SCHEMA, type MessagingFixture } from './fixture.js';
import { newTestConsumer, TEST_CONSUMER } from './test-consumer.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let f: MessagingFixture;
beforeEach(async () => {
  f = await createMessagingFixture();
});
afterEach(async () => {
  await f.close();
});

async function registerUser(userId = randomUUID()): Promise<string> {
  await f.dataSource.transaction(async (manager) => {
    await manager.query(`INSERT INTO ${SCHEMA}.accounts (user_id) VALUES ($1)`, [userId]);
    await f.outbox.append(manager, UserRegisteredV1, { userId, registeredAt: f.clock.now().toISOString() });
  });
  return userId;
}

async function outboxRows(): Promise<number> {
  const [row] = await f.dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM ${SCHEMA}.outbox`);
  return row!.n;
}

async function streamMessages(): Promise<number> {
  return (await f.nats.jsm.streams.info(streamName(f.namespace, EVENTS_STREAM))).state.messages;
}

/** Runs one pipeline step in a child process that SIGKILLs itself at the worst moment. */
function runCrashWorker(mode: 'relay' | 'consumer'): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', 'libs/messaging/test/crash-worker.ts', mode], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: f.database.url, NATS_URL: TEST_NATS_URL, EVENT_NAMESPACE: f.namespace },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
}

describe('outbox → JetStream → durable consumer → inbox', () => {
  it('delivers an event exactly once in effect when the relay is killed between publish and marking the row sent', async () => {
    const userId = await registerUser();
    expect(await runCrashWorker('relay')).toBe('SIGKILL');
    // The crash left the state it must survive: published, yet still in the outbox.
    expect(await streamMessages()).toBe(1);
    expect(await outboxRows()).toBe(1);

    await f.newRelay().start();
    await eventually(async () => (await outboxRows()) === 0, { what: 'outbox drained' });
    expect(await streamMessages()).toBe(1); // the re-publish carried the same Nats-Msg-Id and was dropped

    const consumer = newTestConsumer(f);
    await consumer.start();
    await eventually(async () => (await f.appliedCount(userId)) === 1, { what: 'event applied' });
    await consumer.stop();
    expect(await f.appliedCount()).toBe(1);
  }, 30_000);

  it('ignores the redelivery when the consumer crashes after its commit but before its ack', async () => {
    const userId = await registerUser();
    await f.newRelay().relayBatch();
    expect(await runCrashWorker('consumer')).toBe('SIGKILL');
    expect(await f.appliedCount(userId)).toBe(1); // committed before the crash

    const consumer = newTestConsumer({ ...f, ackWaitMs: 1_000 });
    await consumer.start();
    await eventually(async () => (await f.metrics.consumed.get()).values.some((v) => v.labels.outcome === 'duplicate' && v.value === 1), {
      what: 'redelivery recognised as duplicate',
    });
    // The duplicate is counted before its ack reaches the server: wait for the server to see the ack.
    await eventually(
      async () => {
        const info = await f.nats.jsm.consumers.info(streamName(f.namespace, EVENTS_STREAM), TEST_CONSUMER.durableName);
        return info.num_ack_pending + info.num_pending === 0;
      },
      { what: 'the redelivery acknowledged' },
    );
    await consumer.stop();
    expect(await f.appliedCount()).toBe(1);
  }, 30_000);

  it('publishes nothing for a state change that rolls back', async () => {
    const userId = randomUUID();
    await expect(
      f.dataSource.transaction(async (manager) => {
        await manager.query(`INSERT INTO ${SCHEMA}.accounts (user_id) VALUES ($1)`, [userId]);
        await f.outbox.append(manager, UserRegisteredV1, { userId, registeredAt: f.clock.now().toISOString() });
        throw new Error('the change fails after its event was written');
      }),
    ).rejects.toThrow('the change fails');
    expect(await outboxRows()).toBe(0);
    expect(await f.newRelay().relayBatch()).toBe(0);
    expect(await streamMessages()).toBe(0);
  });

  it('refuses to write an event outside a transaction', async () => {
    await expect(f.outbox.append(f.dataSource.manager, UserRegisteredV1, { userId: randomUUID(), registeredAt: new Date().toISOString() })).rejects.toThrow(/inside the transaction/);
  });

  it('rejects an invalid payload on publish and writes nothing', async () => {
    await expect(
      f.dataSource.transaction((manager) => f.outbox.append(manager, UserRegisteredV1, { userId: 'not-a-uuid', registeredAt: 'now' })),
    ).rejects.toThrow(InvalidEventPayloadError);
    expect(await outboxRows()).toBe(0);
  });

  it('delivers to a consumer that was down every event published meanwhile', async () => {
    const first = newTestConsumer(f);
    await first.start();
    await first.stop();

    const relay = f.newRelay();
    await relay.start();
    const users = [];
    for (let i = 0; i < 40; i++) users.push(await registerUser());
    await eventually(async () => (await outboxRows()) === 0, { what: 'outbox drained' });

    const second = newTestConsumer(f);
    await second.start();
    await eventually(async () => (await f.appliedCount()) === users.length, { what: 'all events applied' });
    await second.stop();
    const applied = await f.dataSource.query<Array<{ user_id: string }>>(`SELECT user_id FROM ${SCHEMA}.applied`);
    expect(new Set(applied.map((row) => row.user_id))).toEqual(new Set(users));
  });
});

describe('appendAll', () => {
  it('writes many events of one type in one statement and delivers each once', async () => {
    const users = Array.from({ length: 25 }, () => randomUUID());
    await f.dataSource.transaction((manager) => f.outbox.appendAll(manager, UserRegisteredV1, users.map((userId) => ({ userId, registeredAt: f.clock.now().toISOString() }))));
    await f.newRelay().relayBatch();
    const consumer = newTestConsumer(f);
    await consumer.start();
    await eventually(async () => (await f.appliedCount()) === users.length, { what: 'all applied' });
    await consumer.stop();
    const applied = await f.dataSource.query<Array<{ user_id: string }>>(`SELECT user_id FROM ${SCHEMA}.applied`);
    expect(new Set(applied.map((row) => row.user_id))).toEqual(new Set(users));
  });

  it("sends a row stored under the announcers' old shared subject (evt.any) under its own service's name", async () => {
    const receipt = { service: 'media' as const, userId: randomUUID(), erasureId: null, scope: 'user' as const, scopeId: null, trigger: null, counts: { rows: 1 }, purgedAt: f.clock.now().toISOString() };
    await f.dataSource.transaction((manager) => f.outbox.append(manager, PurgeCompletedV1, receipt));
    // As an instance from before per-announcer subjects wrote it.
    await f.dataSource.query(`UPDATE ${SCHEMA}.outbox SET subject = $1`, [`${eventsRootSubject(f.namespace)}.any.purge-completed.v1`]);
    expect(await new OutboxRelay({ dataSource: f.dataSource, schema: SCHEMA, publisher: 'media', js: f.nats.js, logger: f.logger, metrics: f.metrics }).relayBatch()).toBe(1);
    const stored = await f.nats.jsm.streams.info(streamName(f.namespace, EVENTS_STREAM), { subjects_filter: '>' });
    expect(Object.keys(stored.state.subjects ?? {})).toEqual([eventSubject(f.namespace, PurgeCompletedV1, 'media')]);
  });

  it('reads back from the stream only what a consumer would apply: no junk, no receipt from a service it does not name', async () => {
    const receipt = { service: 'media' as const, userId: randomUUID(), erasureId: null, scope: 'user' as const, scopeId: null, trigger: null, counts: { rows: 1 }, purgedAt: f.clock.now().toISOString() };
    await f.nats.js.publish(eventSubject(f.namespace, PurgeCompletedV1, 'media'), 'null');
    await f.nats.js.publish(eventSubject(f.namespace, PurgeCompletedV1, 'chat'), JSON.stringify(receipt));
    await publishStoredEvent(f.nats.nc, f.namespace, PurgeCompletedV1, receipt);
    expect(await readStoredEvents(f.nats.nc, f.namespace, PurgeCompletedV1)).toEqual([receipt]);
  });

  it('validates every payload before writing any', async () => {
    const good = { userId: randomUUID(), registeredAt: new Date().toISOString() };
    await expect(f.dataSource.transaction((manager) => f.outbox.appendAll(manager, UserRegisteredV1, [good, { userId: 'x', registeredAt: 'y' }]))).rejects.toThrow(InvalidEventPayloadError);
    expect(await outboxRows()).toBe(0);
  });
});
