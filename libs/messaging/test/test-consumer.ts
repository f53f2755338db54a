import type { DataSource } from 'typeorm';
import { defineConsumer, UserRegisteredV1 } from '@homiwork/contracts';
import type { Logger } from '@homiwork/observability';
import { EventConsumer, type EventHandler, type MessagingMetrics, type NatsHandles } from '../src/index.js';
import { SCHEMA } from './schema.js';

/** The consumer the messaging tests (and their crashing child processes) share. */
export const TEST_CONSUMER = defineConsumer({ service: 'retention', event: UserRegisteredV1, backoffMs: [50, 100] });

export const recordApplication: EventHandler<typeof UserRegisteredV1> = async (payload, context) => {
  await context.manager.query(`INSERT INTO ${SCHEMA}.applied (message_id, user_id) VALUES ($1, $2)`, [context.messageId, payload.userId]);
};

export function newTestConsumer(deps: {
  dataSource: DataSource;
  namespace: string;
  nats: NatsHandles;
  logger: Logger;
  metrics: MessagingMetrics;
  handler?: EventHandler<typeof UserRegisteredV1>;
  ackWaitMs?: number;
  hooks?: { afterCommit?: () => void };
}): EventConsumer<typeof UserRegisteredV1> {
  return new EventConsumer({
    contract: TEST_CONSUMER,
    handler: deps.handler ?? recordApplication,
    namespace: deps.namespace,
    dataSource: deps.dataSource,
    schema: SCHEMA,
    js: deps.nats.js,
    jsm: deps.nats.jsm,
    logger: deps.logger,
    metrics: deps.metrics,
    ackWaitMs: deps.ackWaitMs ?? 30_000,
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
  });
}
