import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, DiscardPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openRevocationBucket, RevocationMirror, RevocationWriter } from '@homiwork/auth';
import {
  BillingRpc,
  EVENT_CATALOGUE,
  EVENTS_STREAM,
  eventFilterSubject,
  eventSubject,
  IdentityConsumers,
  IdentityRpc,
  MediaConsumers,
  MediaRpc,
  ProhibitedContentDetectedV1,
  PurgeCompletedV1,
  rpcSubject,
  streamName,
  UploadStoredV1,
  UserDeletedV1,
  type ConsumerContract,
  type EventContract,
} from '@homiwork/contracts';
import {
  connectToNats,
  DeadLetterArchive,
  declaredConsumers,
  DEFAULT_STREAM_LIMITS,
  DLQ_CONSUMER_HEADER,
  DLQ_EVENT_SEQUENCE_HEADER,
  DLQ_ORIGINAL_SUBJECT_HEADER,
  EventConsumer,
  kvBuckets,
  MessagingMetrics,
  openKvBucket,
  provisionDurableConsumers,
  provisionKvBuckets,
  provisionStreams,
  rateLimitBucket,
  readStoredEvents,
  RpcClient,
  RpcServer,
  verifyStreams,
  type NatsHandles,
} from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { freePort } from '../src/launch.js';
import { BACKUP_OPERATOR_USER, BACKUP_READER_CONSUMER, DEAD_LETTER_OPERATOR_USER, generatedHeader, natsPermissions, natsUserNames, PROVISIONING_USER, renderNatsAuthorization } from '../src/nats-permissions.js';
import { startNatsServer, type NatsServerProcess } from '../src/nats-server.js';

/**
 * The NATS permissions generated from the contracts and the manifest, enforced by a real
 * nats-server (the Debian package's, as `npm start` runs it) on a free port: anonymous
 * connections are refused, each service's user does what its service does — through the
 * same library calls (RpcServer/RpcClient, JetStream publish with ack, durable consumers,
 * KV) — and nothing another service owns.
 */
const NS = 'permtest';
let dir: string;
let server: NatsServerProcess;
const passwords = Object.fromEntries(natsUserNames().map((user) => [user, `pw-${user}-${randomUUID()}`]));
const opened: NatsHandles[] = [];

async function as(user: string): Promise<NatsHandles> {
  const handles = await connectToNats(server.url, `perm-test-${user}`, { user, password: passwords[user] });
  opened.push(handles);
  return handles;
}

const violations = (): string[] => server.output.filter((line) => /(Publish|Subscription) Violation/.test(line));
/** Violations logged since the current test began. */
let violationsBefore = 0;
beforeEach(() => {
  violationsBefore = server ? violations().length : 0;
});
const newViolations = (): string[] => violations().slice(violationsBefore);

/** A JetStream publish with ack; resolves with the stored sequence or rejects (denied, or no stream). */
async function publishEvent(js: JetStreamClient, event: EventContract, payload: unknown = {}, publisher?: string): Promise<number> {
  const h = natsHeaders();
  h.set('Hw-Event-Type', event.type);
  const ack = await js.publish(eventSubject(NS, event, publisher), JSON.stringify(payload), { msgID: randomUUID(), headers: h, timeout: 2_000 });
  return ack.seq;
}

async function eventCount(): Promise<number> {
  const admin = await as(PROVISIONING_USER);
  return (await admin.jsm.streams.info(streamName(NS, EVENTS_STREAM))).state.messages;
}

/** A core publish the server refuses shows up as a permission error on the connection (and in its log). */
async function refusedPublish(nc: NatsConnection, subject: string): Promise<boolean> {
  const before = violations().length;
  nc.publish(subject, '{}');
  await nc.flush();
  await new Promise((resolve) => setTimeout(resolve, 100));
  return violations().slice(before).some((line) => line.includes(`"${subject}"`));
}

const silent = createLogger({ service: 'perm-test', level: 'silent' });

/** What EventConsumer does at start with its durable: verify it against its contract (creating or updating only if allowed). */
function provisionAsService(handles: NatsHandles, consumer: ConsumerContract): Promise<void> {
  const metrics = new MessagingMetrics(new ServiceMetrics(`perm-test-${randomUUID()}`));
  return new EventConsumer({ contract: consumer, handler: () => Promise.resolve(), namespace: NS, dataSource: undefined as never, schema: 'unused', js: handles.js, jsm: handles.jsm, logger: silent, metrics }).provision();
}

/** What EventConsumer does with its durable: verify it, get it, pull, ack. */
async function consumeOwnDurable(handles: NatsHandles, consumer: ConsumerContract): Promise<number> {
  const stream = streamName(NS, EVENTS_STREAM);
  await provisionAsService(handles, consumer);
  const durable = await handles.js.consumers.get(stream, consumer.durableName);
  const batch = await durable.fetch({ max_messages: 10, expires: 1_000 });
  let acked = 0;
  for await (const msg of batch) {
    msg.ack();
    acked++;
  }
  await handles.nc.flush();
  return acked;
}

/** What the migrate tool provisions: both streams, every durable of the contracts, the KV buckets. */
async function migrate(): Promise<void> {
  const admin = await as(PROVISIONING_USER);
  await provisionStreams(admin.jsm, NS, { ...DEFAULT_STREAM_LIMITS, maxBytes: 16 * 1024 * 1024 });
  await provisionDurableConsumers(admin.jsm, NS);
  await provisionKvBuckets(admin.nc, kvBuckets(NS));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homiwork-nats-perm-'));
  server = await startNatsServer({ ns: NS, port: await freePort(), dir, passwords });
}, 30_000);

afterAll(async () => {
  for (const handles of opened) await handles.nc.close().catch(() => undefined);
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('NATS authentication', () => {
  it('refuses an anonymous connection and a wrong password', async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/Authorization/i);
    await expect(connectToNats(server.url, 'wrong', { user: 'identity', password: 'not-the-password-at-all' })).rejects.toThrow(/Authorization/i);
    await expect(connectToNats(server.url, 'swapped', { user: 'media', password: passwords.identity })).rejects.toThrow(/Authorization/i);
    await expect(connectToNats(server.url, 'half', { user: 'media' })).rejects.toThrow(/both a user and a password/);
  });

  it('connects each service with its own user, replies arriving in its own inbox', async () => {
    for (const user of natsUserNames()) {
      const handles = await as(user);
      expect(handles.nc.info?.server_id).toBeTruthy();
    }
  });
});

describe('provisioning, by the migrate user only', () => {
  it('refuses a service starting before migrate ran, saying to run migrate', async () => {
    const media = await as('media');
    await expect(verifyStreams(media.jsm, NS)).rejects.toThrow(/run migrate/);
    await expect(openKvBucket((await as('gateway')).nc, rateLimitBucket(NS))).rejects.toThrow(/run migrate/);
    // The server logs the refusals a moment later: let them land in this test, not the next.
    await new Promise((resolve) => setTimeout(resolve, 200));
  });

  it('lets the migrate user provision both streams, every durable consumer with its contract\'s configuration, and the KV buckets', async () => {
    await migrate();
    const admin = await as(PROVISIONING_USER);
    const stream = streamName(NS, EVENTS_STREAM);
    for (const consumer of declaredConsumers().values()) {
      const info = await admin.jsm.consumers.info(stream, consumer.durableName);
      expect(info.config).toMatchObject({ filter_subject: eventFilterSubject(NS, consumer.event), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_deliver: -1 });
      expect(info.config.deliver_subject).toBeUndefined();
    }
    // Run again (every rollout does): nothing to change, nothing refused.
    await migrate();
    expect(newViolations().join('\n')).toBe('');
  });

  it('fails a service\'s start when its durable differs from its contract, until migrate puts it back', async () => {
    const media = await as('media');
    const admin = await as(PROVISIONING_USER);
    const consumer = MediaConsumers.uploadExpired;
    const stream = streamName(NS, EVENTS_STREAM);
    await admin.jsm.consumers.update(stream, consumer.durableName, { max_ack_pending: 7 });
    await expect(provisionAsService(media, consumer)).rejects.toThrow(/differs from its contract \(max_ack_pending\).*run migrate/);
    await migrate();
    await expect(provisionAsService(media, consumer)).resolves.toBeUndefined();
  });
});

describe('what each service may do', () => {
  it('lets each data service verify the streams, publish its own events with a JetStream ack, and consume its own durables, with only its rights after migrate ran', async () => {
    const identity = await as('identity');
    const media = await as('media');
    expect(await verifyStreams(identity.jsm, NS)).toHaveLength(2);
    expect(await verifyStreams(media.jsm, NS)).toHaveLength(2);
    expect(await publishEvent(identity.js, UserDeletedV1)).toBeGreaterThan(0);
    expect(await publishEvent(media.js, ProhibitedContentDetectedV1, {}, 'media')).toBeGreaterThan(0);
    expect(await publishEvent(media.js, UploadStoredV1)).toBeGreaterThan(0);
    expect(await publishEvent(identity.js, PurgeCompletedV1, {}, 'identity')).toBeGreaterThan(0);
    expect(await consumeOwnDurable(media, MediaConsumers.userDeleted)).toBe(1);
    expect(await consumeOwnDurable(identity, IdentityConsumers.prohibitedContentDetected)).toBe(1);
    // A handler's dead letter goes to its own consumer's dead-letter subject.
    const dlq = await identity.js.publish(`${NS}.dlq.${IdentityConsumers.prohibitedContentDetected.durableName}`, '{}', { msgID: randomUUID() });
    expect(dlq.stream).toBe(streamName(NS, 'DEAD_LETTERS'));
    expect(newViolations()).toEqual([]);
  });

  it('lets the gateway call every service and each service answer its own routes', async () => {
    const identity = await as('identity');
    const media = await as('media');
    const gateway = await as('gateway');
    const logger = createLogger({ service: 'perm-test', level: 'silent' });
    const metrics = new MessagingMetrics(new ServiceMetrics(`perm-test-${randomUUID()}`));
    const identityServer = new RpcServer(identity.nc, NS, 'identity', logger, metrics);
    identityServer.serve(IdentityRpc.RecordActivityRoute, () => Promise.resolve({}));
    const mediaServer = new RpcServer(media.nc, NS, 'media', logger, metrics);
    mediaServer.serve(MediaRpc.ListUploadsRoute, () => Promise.resolve({ items: [] }));
    await Promise.all([identity.nc.flush(), media.nc.flush()]);
    const client = new RpcClient(gateway.nc, NS);
    await expect(client.call(IdentityRpc.RecordActivityRoute, { day: '2026-01-01' }, { requestId: 'r1' })).resolves.toEqual({});
    await expect(client.call(MediaRpc.ListUploadsRoute, {}, { requestId: 'r2' })).resolves.toEqual({ items: [] });
    await identityServer.stop();
    await mediaServer.stop();
    expect(newViolations()).toEqual([]);
  });

  it('lets identity write revocations and the gateway mirror them, and the gateway keep its rate-limit counters', async () => {
    const identity = await as('identity');
    const gateway = await as('gateway');
    const writer = new RevocationWriter(await openRevocationBucket(identity.nc, NS, 300));
    const mirror = new RevocationMirror(await openRevocationBucket(gateway.nc, NS, 300));
    await mirror.start();
    const userId = randomUUID();
    await writer.revokeUser(userId);
    await expect.poll(() => mirror.isRevoked({ sub: userId, sid: randomUUID() }), { timeout: 3_000 }).toBe(true);
    mirror.stop();
    // As NatsKvRateLimiter.open and its compare-and-set (services/gateway/src/rate-limit).
    const counters = await openKvBucket(gateway.nc, rateLimitBucket(NS));
    const revision = await counters.create('auth.k.1', '1');
    await counters.update('auth.k.1', '2', revision);
    expect((await counters.get('auth.k.1'))?.string()).toBe('2');
    expect(newViolations()).toEqual([]);
  });
});

/** A dead letter as a service's EventConsumer writes it, on the dead-letter subject of one of its durables. */
async function writeLetter(handles: NatsHandles, consumer: ConsumerContract, data: string, headers: Record<string, string>): Promise<void> {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(headers)) h.set(key, value);
  await handles.js.publish(`${NS}.dlq.${consumer.durableName}`, data, { msgID: `${consumer.durableName}:${randomUUID()}`, headers: h });
}

describe('the dead-letter operator', () => {
  it('lists and replays a dead letter as the event it was made from; no service may read the dead letters', async () => {
    const identity = await as('identity');
    const media = await as('media');
    const consumer = IdentityConsumers.prohibitedContentDetected;
    const payload = { note: randomUUID() };
    const sequence = await publishEvent(media.js, consumer.event, payload, 'media');
    await writeLetter(identity, consumer, JSON.stringify(payload), {
      [DLQ_CONSUMER_HEADER]: consumer.durableName,
      [DLQ_ORIGINAL_SUBJECT_HEADER]: eventSubject(NS, consumer.event, 'media'),
      [DLQ_EVENT_SEQUENCE_HEADER]: String(sequence),
    });
    const archive = new DeadLetterArchive(await as(DEAD_LETTER_OPERATOR_USER), NS);
    const letter = (await archive.list({ consumer: consumer.durableName })).at(-1);
    expect(letter).toBeDefined();
    const before = await eventCount();
    expect((await archive.replay(letter!.id)).subject).toBe(eventSubject(NS, consumer.event, 'media'));
    expect(await eventCount()).toBe(before + 1);
    expect(newViolations()).toEqual([]);
    await expect(new DeadLetterArchive(identity, NS).list()).rejects.toThrow(/permission/i);
  });

  it("refuses a service's forged dead letter: a made-up UserDeleted is never replayed as identity's event", async () => {
    const media = await as('media');
    const archive = new DeadLetterArchive(await as(DEAD_LETTER_OPERATOR_USER), NS);
    const victim = JSON.stringify({ userId: randomUUID(), deletedAt: new Date().toISOString() });
    const userDeleted = eventSubject(NS, UserDeletedV1);
    // On its own UserDeleted consumer's dead-letter subject, pointing at no event, or at a real UserDeleted with other bytes.
    await writeLetter(media, MediaConsumers.userDeleted, victim, { [DLQ_CONSUMER_HEADER]: MediaConsumers.userDeleted.durableName, [DLQ_ORIGINAL_SUBJECT_HEADER]: userDeleted });
    const genuine = await publishEvent((await as('identity')).js, UserDeletedV1, { userId: randomUUID() });
    await writeLetter(media, MediaConsumers.userDeleted, victim, { [DLQ_ORIGINAL_SUBJECT_HEADER]: userDeleted, [DLQ_EVENT_SEQUENCE_HEADER]: String(genuine) });
    // On another consumer's dead-letter subject, its headers naming UserDeleted and the consumer that reads it.
    await writeLetter(media, MediaConsumers.uploadExpired, victim, { [DLQ_CONSUMER_HEADER]: MediaConsumers.userDeleted.durableName, [DLQ_ORIGINAL_SUBJECT_HEADER]: userDeleted, [DLQ_EVENT_SEQUENCE_HEADER]: String(genuine) });
    const forged = (await archive.list()).filter((letter) => letter.consumer.startsWith('media--'));
    expect(forged.map((letter) => letter.consumer)).toEqual([MediaConsumers.userDeleted.durableName, MediaConsumers.userDeleted.durableName, MediaConsumers.uploadExpired.durableName]);
    const before = await eventCount();
    await expect(archive.replay(forged[0]!.id)).rejects.toThrow(/records no event-stream sequence.*refused/);
    await expect(archive.replay(forged[1]!.id)).rejects.toThrow(/does not carry the event.*refused/);
    await expect(archive.replay(forged[2]!.id)).rejects.toThrow(/names another consumer, subject or event type.*refused/);
    expect(await eventCount()).toBe(before);
  });
});

describe('what no service may do', () => {
  it("refuses identity publishing media's events or a receipt under media's name, and media publishing UserDeleted: nothing reaches the stream", async () => {
    const identity = await as('identity');
    const media = await as('media');
    const before = await eventCount();
    await expect(publishEvent(identity.js, ProhibitedContentDetectedV1, {}, 'identity')).rejects.toThrow(/permission/i);
    // A receipt under another service's name: each announces PurgeCompleted under its own only.
    await expect(publishEvent(identity.js, PurgeCompletedV1, {}, 'media')).rejects.toThrow(/permission/i);
    await expect(publishEvent(identity.js, UploadStoredV1)).rejects.toThrow(/permission/i);
    await expect(publishEvent(media.js, UserDeletedV1)).rejects.toThrow(/permission/i);
    expect(await eventCount()).toBe(before);
  });

  it('refuses the gateway publishing any event', async () => {
    const gateway = await as('gateway');
    const before = await eventCount();
    for (const event of EVENT_CATALOGUE) await expect(publishEvent(gateway.js, event, {}, 'gateway'), event.type).rejects.toThrow(/permission/i);
    expect(await eventCount()).toBe(before);
  });

  it("refuses the gateway getting a value it stored answered onto an event subject: no forged event by way of a bucket", async () => {
    const gateway = await as('gateway');
    const bucket = rateLimitBucket(NS).name;
    const receipt = JSON.stringify({ service: 'media', userId: randomUUID(), erasureId: randomUUID(), scope: 'user', scopeId: null, trigger: null, counts: { rows: 1 }, purgedAt: new Date().toISOString() });
    const h = natsHeaders();
    h.set('Hw-Event-Type', PurgeCompletedV1.type);
    gateway.nc.publish(`$KV.${bucket}.forged`, receipt, { headers: h }); // the gateway writes this bucket
    await gateway.nc.flush();
    const before = await eventCount();
    const ask = JSON.stringify({ last_by_subj: `$KV.${bucket}.forged` });
    // A direct get (raw bytes and headers to the reply subject) is refused; a message get answers an envelope.
    expect(await refusedPublish(gateway.nc, `$JS.API.DIRECT.GET.KV_${bucket}`)).toBe(true);
    for (const reply of [eventSubject(NS, PurgeCompletedV1, 'media'), `${NS}.evt.any.purge-completed.v1`]) {
      gateway.nc.publish(`$JS.API.DIRECT.GET.KV_${bucket}`, ask, { reply });
      gateway.nc.publish(`$JS.API.STREAM.MSG.GET.KV_${bucket}`, ask, { reply });
    }
    await gateway.nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stored = await (await as(PROVISIONING_USER)).jsm.streams.info(streamName(NS, EVENTS_STREAM));
    const operator = await as(DEAD_LETTER_OPERATOR_USER);
    for (let seq = stored.state.last_seq - (stored.state.messages - before) + 1; seq <= stored.state.last_seq; seq++) {
      const message = (await operator.jsm.streams.getMessage(streamName(NS, EVENTS_STREAM), { seq }))!;
      expect(new TextDecoder().decode(message.data)).not.toBe(receipt);
      expect(() => PurgeCompletedV1.schema.parse(message.json())).toThrow();
    }
  });

  it('refuses calls from a service that is not the gateway, and serving another service\'s routes', async () => {
    const identity = await as('identity');
    const media = await as('media');
    expect(await refusedPublish(identity.nc, rpcSubject(NS, 'media', MediaRpc.DeleteUploadRoute.method))).toBe(true);
    expect(await refusedPublish(media.nc, rpcSubject(NS, 'identity', IdentityRpc.GetProfileRoute.method))).toBe(true);
    await expect(new RpcClient(media.nc, NS).call(IdentityRpc.DeleteAccountRoute, { password: 'x'.repeat(12) }, { requestId: 'r' }, { timeoutMs: 1_000 })).rejects.toThrow();
    const before = violations().length;
    media.nc.subscribe(rpcSubject(NS, 'identity', IdentityRpc.LoginRoute.method), { queue: 'identity' });
    await media.nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(violations().slice(before).some((line) => line.includes('Subscription'))).toBe(true);
  });

  it('lets a service call only the service-to-service routes that name it, and keeps the gateway away from them', async () => {
    const [generation, gateway, media] = await Promise.all([as('generation'), as('gateway'), as('media')]);
    const reserve = rpcSubject(NS, 'billing', BillingRpc.ReserveEnergyRoute.method);
    const identifiers = rpcSubject(NS, 'identity', IdentityRpc.GetIdentifiersRoute.method);
    expect(await refusedPublish(generation.nc, reserve)).toBe(false);
    expect(await refusedPublish(generation.nc, identifiers)).toBe(false);
    // The public edge never reaches the energy ledger or a user's identifiers directly.
    expect(await refusedPublish(gateway.nc, reserve)).toBe(true);
    expect(await refusedPublish(gateway.nc, identifiers)).toBe(true);
    expect(await refusedPublish(media.nc, reserve)).toBe(true);
    // Generation is not the gateway: the public routes of other services stay closed to it.
    expect(await refusedPublish(generation.nc, rpcSubject(NS, 'billing', BillingRpc.CreateOrderRoute.method))).toBe(true);
  });

  it("refuses reading another user's replies: no inbox but one's own", async () => {
    const media = await as('media');
    const before = violations().length;
    media.nc.subscribe('_INBOX.>');
    media.nc.subscribe('_INBOX.gateway.>');
    await media.nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(violations().slice(before).filter((line) => line.includes('Subscription')).length).toBe(2);
  });

  it('refuses identity writing the rate-limit bucket, and the gateway or media writing revocations', async () => {
    const identity = await as('identity');
    const gateway = await as('gateway');
    const media = await as('media');
    expect(await refusedPublish(identity.nc, `$KV.${NS.toUpperCase()}_RATE_LIMITS.auth.k.1`)).toBe(true);
    expect(await refusedPublish(gateway.nc, `$KV.${NS.toUpperCase()}_REVOCATIONS.user.${randomUUID()}`)).toBe(true);
    expect(await refusedPublish(media.nc, `$KV.${NS.toUpperCase()}_REVOCATIONS.user.${randomUUID()}`)).toBe(true);
    await expect(openRevocationBucket(media.nc, NS, 300)).rejects.toThrow();
  });

  it("refuses a service reading another's durable consumer or the streams' contents directly", async () => {
    const identity = await as('identity');
    const stream = streamName(NS, EVENTS_STREAM);
    await expect(identity.jsm.consumers.info(stream, MediaConsumers.userDeleted.durableName)).rejects.toThrow(/permission/i);
    expect(await refusedPublish(identity.nc, `$JS.API.CONSUMER.MSG.NEXT.${stream}.${MediaConsumers.userDeleted.durableName}`)).toBe(true);
    await expect(identity.jsm.consumers.add(stream, { durable_name: 'snoop', ack_policy: AckPolicy.None })).rejects.toThrow(/permission/i);
    await expect(identity.jsm.streams.getMessage(stream, { seq: 1 })).rejects.toThrow(/permission/i);
    await expect(identity.jsm.streams.delete(stream)).rejects.toThrow(/permission/i);
    await expect(identity.jsm.streams.purge(stream)).rejects.toThrow(/permission/i);
  });
});

describe('what no service may provision', () => {
  it("refuses a service widening the events stream to another user's inbox, or shrinking it to drop unread events", async () => {
    const media = await as('media');
    const admin = await as(PROVISIONING_USER);
    const stream = streamName(NS, EVENTS_STREAM);
    const config = (await admin.jsm.streams.info(stream)).config;
    await expect(media.jsm.streams.update(stream, { subjects: [...config.subjects, '_INBOX.gateway.>'] })).rejects.toThrow(/permission/i);
    await expect(media.jsm.streams.update(stream, { max_msgs: 1, discard: DiscardPolicy.Old })).rejects.toThrow(/permission/i);
    await expect(media.jsm.streams.add({ ...config, name: 'SNOOP', subjects: ['_INBOX.gateway.>'] })).rejects.toThrow(/permission/i);
    expect((await admin.jsm.streams.info(stream)).config).toMatchObject({ subjects: config.subjects, max_msgs: config.max_msgs, discard: config.discard });
  });

  it('refuses a service giving its own durable a foreign filter', async () => {
    const media = await as('media');
    const stream = streamName(NS, EVENTS_STREAM);
    const durable = MediaConsumers.userDeleted.durableName;
    await expect(media.jsm.consumers.add(stream, { durable_name: durable, filter_subject: '_INBOX.gateway.>', ack_policy: AckPolicy.Explicit })).rejects.toThrow(/permission/i);
    await expect(media.jsm.consumers.add(stream, { durable_name: `${durable}-2`, filter_subject: eventSubject(NS, UploadStoredV1), ack_policy: AckPolicy.Explicit })).rejects.toThrow(/permission/i);
    await expect(media.jsm.consumers.update(stream, durable, { filter_subject: eventFilterSubject(NS, ProhibitedContentDetectedV1) })).rejects.toThrow(/permission/i);
    expect((await media.jsm.consumers.info(stream, durable)).config.filter_subject).toBe(eventSubject(NS, UserDeletedV1));
  });

  it("refuses a service making a push consumer that delivers into another service's RPC queue group", async () => {
    const media = await as('media');
    const stream = streamName(NS, EVENTS_STREAM);
    const durable = MediaConsumers.userDeleted.durableName;
    const rpc = rpcSubject(NS, 'identity', IdentityRpc.UpdateProfileRoute.method);
    await expect(media.jsm.consumers.add(stream, { durable_name: durable, deliver_subject: rpc, deliver_group: 'identity', ack_policy: AckPolicy.None })).rejects.toThrow(/permission/i);
    await expect(media.jsm.consumers.add(stream, { deliver_subject: rpc, deliver_group: 'identity', ack_policy: AckPolicy.None })).rejects.toThrow(/permission/i);
    expect((await media.jsm.consumers.info(stream, durable)).config.deliver_subject).toBeUndefined();
  });

  it('refuses a service creating or deleting a KV bucket', async () => {
    const gateway = await as('gateway');
    await expect(gateway.jsm.streams.add({ name: `KV_${NS.toUpperCase()}_OTHER`, subjects: [`$KV.${NS.toUpperCase()}_OTHER.>`] })).rejects.toThrow(/permission/i);
    await expect(gateway.jsm.streams.delete(`KV_${NS.toUpperCase()}_RATE_LIMITS`)).rejects.toThrow(/permission/i);
  });
});

describe('the checked-in compose configuration', () => {
  it('is what the generator renders for the production namespace (run `node dist/tools/system/src/nats-config.js --deploy`)', () => {
    const file = readFileSync(new URL('../../../deploy/nats/authorization.conf', import.meta.url), 'utf8');
    expect(file).toBe(generatedHeader('hw') + renderNatsAuthorization(natsPermissions('hw')));
  });
});

describe('the backup operator', () => {
  it('reads the events stream (its settings, the UserDeleted events on it) through its one named consumer, touches no durable, and can publish no event', async () => {
    const userId = randomUUID();
    await publishEvent((await as('identity')).js, UserDeletedV1, { userId, erasureId: randomUUID(), reason: 'user_request', deletedAt: new Date().toISOString() });
    const backup = await as(BACKUP_OPERATOR_USER);
    expect((await backup.jsm.streams.info(streamName(NS, EVENTS_STREAM))).config.max_age).toBeGreaterThan(0);
    expect((await readStoredEvents(backup.nc, NS, UserDeletedV1, { consumerName: BACKUP_READER_CONSUMER })).map((event) => event.userId)).toContain(userId);
    expect(newViolations()).toEqual([]);
    // Only its own consumer: a server-named one, or a service's durable, is refused.
    await expect(readStoredEvents(backup.nc, NS, UserDeletedV1)).rejects.toThrow();
    await expect(backup.jsm.consumers.delete(streamName(NS, EVENTS_STREAM), MediaConsumers.userDeleted.durableName)).rejects.toThrow();
    await expect(backup.jsm.consumers.info(streamName(NS, EVENTS_STREAM), MediaConsumers.userDeleted.durableName)).rejects.toThrow();
    const before = await eventCount();
    await expect(publishEvent(backup.js, UserDeletedV1, { userId: randomUUID() })).rejects.toThrow();
    expect(await eventCount()).toBe(before);
  });
});
