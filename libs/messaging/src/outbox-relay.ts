import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { PurgeCompletedV1 } from '@homiwork/contracts';
import type { Logger } from '@homiwork/observability';
import { outboxChannel } from './messaging-tables.migration.js';
import { purgeTriggerLabel, type MessagingMetrics } from './messaging-metrics.js';
import { newInbox } from './nats.js';

interface OutboxRow {
  id: string;
  type: string;
  subject: string;
  /** The JSON text as stored: sent as is, never parsed here. */
  payload: string;
  headers: Record<string, string>;
}

export interface OutboxRelayOptions {
  dataSource: DataSource;
  schema: string;
  js: JetStreamClient;
  logger: Logger;
  metrics: MessagingMetrics;
  batchSize?: number;
  /** Fallback when a NOTIFY is missed (e.g. the LISTEN connection dropped). */
  pollIntervalMs?: number;
  /** Fault-injection seam for crash tests: runs after JetStream acknowledged, before the rows are deleted. */
  hooks?: { afterPublish?: () => void };
  /** How long a batch may wait for JetStream's acks before it is rolled back and tried again. */
  ackTimeoutMs?: number;
  /** The service whose outbox this is (default: the schema, which carries its name). */
  publisher?: string;
}

/**
 * Events several services announce were once stored with the shared subject `<ns>.evt.any.…`,
 * which NATS lets no service publish any more: a row written so before an upgrade goes out
 * under this service's own name instead of blocking the outbox.
 */
const LEGACY_SHARED_SUBJECT = '.evt.any.';

/**
 * Moves committed outbox rows to JetStream. Each batch is claimed with
 * FOR UPDATE SKIP LOCKED, so any number of relays (one per service instance) share the
 * work without sending a row twice at once; rows are deleted only after JetStream
 * acknowledged them. A relay killed between publish and delete leaves the rows for the
 * next relay, which publishes them again with the same Nats-Msg-Id: JetStream drops the
 * copy inside its duplicate window, and the consumers' inbox drops it after that.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private listener: pg.Client | undefined;
  private wake: (() => void) | undefined;
  private pendingWake = false;
  private lastBacklogCheck = 0;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly publisher: BatchPublisher;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.publisher = new BatchPublisher(options.js, options.ackTimeoutMs ?? 10_000);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.options.metrics.initRelay();
    await this.listen();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signal();
    await this.loop;
    this.publisher.close();
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
  }

  /** Publishes one batch; returns how many rows were relayed. Exposed for tests and tooling. */
  async relayBatch(): Promise<number> {
    const { dataSource, schema, metrics } = this.options;
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const rows = (await runner.query(
        `SELECT id, type, subject, payload::text AS payload, headers FROM "${schema}".outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      )) as OutboxRow[];
      if (rows.length === 0) {
        await runner.commitTransaction();
        return 0;
      }
      const announcer = `.evt.${this.options.publisher ?? schema}.`;
      for (const row of rows) if (row.subject.includes(LEGACY_SHARED_SUBJECT)) row.subject = row.subject.replace(LEGACY_SHARED_SUBJECT, announcer);
      await this.publisher.publishAll(rows);
      this.options.hooks?.afterPublish?.();
      await runner.query(`DELETE FROM "${schema}".outbox WHERE id = ANY($1::uuid[])`, [rows.map((row) => row.id)]);
      await runner.commitTransaction();
      for (const row of rows) {
        metrics.published.inc({ event: row.type });
        if (row.type === PurgeCompletedV1.type) metrics.purgesCompleted.inc({ trigger: purgeTrigger(row.payload) });
      }
      return rows.length;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const relayed = await this.relayBatch();
        failures = 0;
        await this.reportBacklog();
        if (relayed === this.batchSize) continue;
        await this.waitForWork(this.pollIntervalMs);
      } catch (error) {
        failures++;
        this.options.logger.error({ err: error, failures }, 'outbox relay failed; retrying');
        await this.waitForWork(Math.min(30_000, 250 * 2 ** failures));
      }
    }
  }

  private async listen(): Promise<void> {
    const url = (this.options.dataSource.options as { url?: string }).url;
    const client = new pg.Client({ connectionString: url, application_name: `${this.options.schema}-outbox-relay` });
    client.on('notification', () => this.signal());
    // A lost LISTEN connection only slows delivery to the poll interval; never crash for it.
    client.on('error', (error) => this.options.logger.warn({ err: error }, 'outbox LISTEN connection lost; polling'));
    await client.connect();
    await client.query(`LISTEN "${outboxChannel(this.options.schema)}"`);
    this.listener = client;
  }

  private signal(): void {
    if (this.wake) this.wake();
    else this.pendingWake = true;
  }

  private waitForWork(timeoutMs: number): Promise<void> {
    if (this.pendingWake || !this.running) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        this.pendingWake = false;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.wake = done;
    });
  }

  private async reportBacklog(): Promise<void> {
    const now = Date.now();
    if (now - this.lastBacklogCheck < 5_000) return;
    this.lastBacklogCheck = now;
    await this.refreshBacklog();
  }

  /** Sets outbox_backlog and outbox_oldest_age_seconds from the table now. Exposed for tests and tooling. */
  async refreshBacklog(): Promise<void> {
    const [row] = await this.options.dataSource.query<Array<{ n: number; oldest: Date | null }>>(`SELECT count(*)::int AS n, min(occurred_at) AS oldest FROM "${this.options.schema}".outbox`);
    this.options.metrics.outboxBacklog.set(row?.n ?? 0);
    // Against the wall clock, as event_lag_seconds: the age an operator waits for, not the service clock's.
    this.options.metrics.outboxOldestAge.set(row?.oldest ? Math.max(0, (Date.now() - row.oldest.getTime()) / 1000) : 0);
  }
}

/**
 * The `trigger` label of purges_completed_total: the event that asked for the purge in
 * snake case (`UserDeleted.v1` → `user_deleted`), `scheduled` for a service's own sweep.
 * Read from the validated payload the outbox holds; never the user or message id.
 */
export function purgeTrigger(payload: string): string {
  const trigger = (JSON.parse(payload) as { trigger?: { type?: string } | null }).trigger;
  return trigger?.type ? purgeTriggerLabel(trigger.type) : 'scheduled';
}

/** JetStream's answer to a publish: where the message was stored, or why not. */
interface PubAck {
  stream?: string;
  seq?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

interface PendingBatch {
  remaining: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Publishes a batch of rows to JetStream and waits until every one is acknowledged.
 * `js.publish` makes each message a request of its own, and nats.js builds an Error
 * (with a stack trace) to cancel every finished request, `noAsyncTraces` or not: measured
 * in the events bench, a fifth of the relay's CPU. Here all acks of the relay come to one
 * subscription on a private inbox instead, told apart by the reply subject's last token.
 * The messages are the same as js.publish sends (headers, Nats-Msg-Id), so JetStream's
 * duplicate window works as before. Without access to the connection it falls back to
 * js.publish.
 */
class BatchPublisher {
  private readonly nc: NatsConnection | undefined;
  private inbox: string | undefined;
  private subscription: Subscription | undefined;
  private next = 0;
  private readonly pending = new Map<number, PendingBatch>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly ackTimeoutMs: number,
  ) {
    // nats.js keeps the connection on its JetStream client; the public type does not say so.
    const nc = (js as { nc?: NatsConnection }).nc;
    this.nc = nc && typeof nc.publish === 'function' && typeof nc.subscribe === 'function' ? nc : undefined;
  }

  async publishAll(rows: ReadonlyArray<Pick<OutboxRow, 'id' | 'subject' | 'payload' | 'headers'>>): Promise<void> {
    if (!this.nc) {
      await Promise.all(rows.map((row) => this.js.publish(row.subject, row.payload, { msgID: row.id, headers: headersOf(row) })));
      return;
    }
    const inbox = this.listen(this.nc);
    const tokens: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const batch: PendingBatch = { remaining: rows.length, resolve, reject };
      for (const row of rows) {
        const token = this.next++;
        tokens.push(token);
        this.pending.set(token, batch);
        const h = headersOf(row);
        h.set('Nats-Msg-Id', row.id);
        this.nc!.publish(row.subject, row.payload, { reply: `${inbox}.${token}`, headers: h });
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`JetStream did not acknowledge ${rows.length} messages within ${this.ackTimeoutMs} ms`)), this.ackTimeoutMs);
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
      for (const token of tokens) this.pending.delete(token);
    }
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.inbox = undefined;
  }

  private listen(nc: NatsConnection): string {
    if (this.inbox && this.subscription && !this.subscription.isClosed()) return this.inbox;
    const inbox = newInbox(nc);
    this.subscription = nc.subscribe(`${inbox}.*`, { callback: (error, msg) => this.acknowledged(error, msg) });
    this.inbox = inbox;
    return inbox;
  }

  private acknowledged(error: Error | null, msg: Msg): void {
    if (error) {
      // The subscription itself failed (e.g. a permissions error): fail every batch in flight.
      for (const batch of new Set(this.pending.values())) batch.reject(error);
      this.pending.clear();
      this.subscription = undefined;
      return;
    }
    const token = Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
    const batch = this.pending.get(token);
    if (!batch) return; // an ack that came after its batch gave up
    this.pending.delete(token);
    const failure = ackFailure(msg);
    if (failure) batch.reject(failure);
    else if (--batch.remaining === 0) batch.resolve();
  }
}

function headersOf(row: Pick<OutboxRow, 'headers'>): ReturnType<typeof natsHeaders> {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(row.headers)) h.set(key, value);
  return h;
}

/** Why JetStream did not store a message, or undefined when it did (a duplicate is stored, once). */
function ackFailure(msg: Msg): Error | undefined {
  // No stream listens on the subject: the server answers "no responders" (503) without data.
  if (msg.data.length === 0) return new Error(`JetStream did not store the message: ${msg.headers?.code ?? 'empty'} ${msg.headers?.description ?? 'answer'}`);
  let ack: PubAck;
  try {
    ack = msg.json<PubAck>();
  } catch {
    return new Error('JetStream answered a publish with something that is not JSON');
  }
  if (ack.error) return new Error(`JetStream refused the message: ${ack.error.err_code ?? ack.error.code ?? '?'} ${ack.error.description ?? ''}`);
  if (!ack.stream) return new Error('JetStream answered a publish without a stream');
  return undefined;
}
