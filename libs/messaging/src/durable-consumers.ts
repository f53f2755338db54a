import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import * as contracts from '@homiwork/contracts';
import { eventFilterSubject, EVENTS_STREAM, streamName, type ConsumerContract } from '@homiwork/contracts';

/** How an EventConsumer runs its durable; production keeps the defaults, which migrate provisions. */
export interface ConsumerTuning {
  /** Messages applied in one transaction; the server lets four batches be unacknowledged. */
  batchSize: number;
  /** How long a delivery may stay unacknowledged before the server redelivers it. */
  ackWaitMs: number;
}

export const DEFAULT_CONSUMER_TUNING: ConsumerTuning = { batchSize: 64, ackWaitMs: 15_000 };

/**
 * The configuration of a consumer's durable, from its contract: migrate creates it with
 * this, and EventConsumer verifies the durable it finds against it. A pull consumer (no
 * deliver subject) filtered on exactly its one event (from every publisher of an `any` event).
 */
export function durableConsumerConfig(ns: string, contract: ConsumerContract, tuning: Partial<ConsumerTuning> = {}): ConsumerConfig {
  const { batchSize, ackWaitMs } = { ...DEFAULT_CONSUMER_TUNING, ...tuning };
  return {
    durable_name: contract.durableName,
    filter_subject: eventFilterSubject(ns, contract.event),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWaitMs * 1_000_000,
    // Unlimited: the server must never silently give up on an event (a long outage, a crash
    // loop). EventConsumer counts the handler's failures itself and dead-letters; nothing else.
    max_deliver: -1,
    max_ack_pending: batchSize * 4,
  } as ConsumerConfig;
}

/**
 * How a durable found on the server differs from the expected configuration (empty: as
 * expected). Beyond the settings we write, a deliver subject or group makes it a push
 * consumer, delivering wherever that subject says — never one of ours.
 */
export function consumerConfigDifferences(found: ConsumerInfo['config'], expected: ConsumerConfig): string[] {
  const differences: string[] = [];
  const keys = ['durable_name', 'filter_subject', 'ack_policy', 'deliver_policy', 'ack_wait', 'max_deliver', 'max_ack_pending'] as const;
  for (const key of keys) if (found[key] !== expected[key]) differences.push(key);
  const filters = (found as { filter_subjects?: string[] }).filter_subjects;
  if (filters && filters.length > 0) differences.push('filter_subjects');
  if (found.deliver_subject) differences.push('deliver_subject');
  if (found.deliver_group) differences.push('deliver_group');
  return differences;
}

const isConsumer = (value: unknown): value is ConsumerContract =>
  typeof value === 'object' && value !== null && 'durableName' in value && 'event' in value && 'service' in value;

/**
 * Every durable consumer the contracts declare (directly, or grouped as IdentityConsumers,
 * MediaConsumers…), by durable name: a consumer added there is provisioned by migrate and
 * replayable by the dead-letter tool without a change here.
 */
export function declaredConsumers(): Map<string, ConsumerContract> {
  const found = new Map<string, ConsumerContract>();
  for (const value of Object.values(contracts)) {
    if (isConsumer(value)) found.set(value.durableName, value);
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const inner of Object.values(value as Record<string, unknown>)) if (isConsumer(inner)) found.set(inner.durableName, inner);
    }
  }
  return new Map([...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Creates each durable with its contract's configuration, or brings an existing one back
 * to it (the migrate tool, as the provisioning user). Returns the durables' names.
 */
export async function provisionDurableConsumers(jsm: JetStreamManager, ns: string, consumers: Iterable<ConsumerContract> = declaredConsumers().values()): Promise<string[]> {
  const stream = streamName(ns, EVENTS_STREAM);
  const names: string[] = [];
  for (const contract of consumers) {
    const expected = durableConsumerConfig(ns, contract);
    const found = await jsm.consumers.info(stream, contract.durableName).catch(() => null);
    if (!found) await jsm.consumers.add(stream, expected);
    else if (consumerConfigDifferences(found.config, expected).length > 0) {
      // A deliver subject cannot be changed into a pull consumer in place: start it again from the contract.
      if (found.config.deliver_subject || found.config.filter_subject !== expected.filter_subject) {
        await jsm.consumers.delete(stream, contract.durableName);
        await jsm.consumers.add(stream, expected);
      } else await jsm.consumers.update(stream, contract.durableName, expected);
    }
    names.push(contract.durableName);
  }
  return names;
}
