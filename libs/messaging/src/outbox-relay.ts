import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Logger } from '@homiwork/observability';
import { outboxChannel } from './messaging-tables.migration.js';
import type { MessagingMetrics } from './messaging-metrics.js';

interface OutboxRow {
  id: string;
  type: string;
  subject: string;
  payload: unknown;
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
}

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

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.listen();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signal();
    await this.loop;
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
  }

  /** Publishes one batch; returns how many rows were relayed. Exposed for tests and tooling. */
  async relayBatch(): Promise<number> {
    const { dataSource, schema, js, metrics } = this.options;
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const rows = (await runner.query(
        `SELECT id, type, subject, payload, headers FROM "${schema}".outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      )) as OutboxRow[];
      if (rows.length === 0) {
        await runner.commitTransaction();
        return 0;
      }
      await Promise.all(
        rows.map((row) => {
          const h = natsHeaders();
          for (const [key, value] of Object.entries(row.headers)) h.set(key, value);
          return js.publish(row.subject, JSON.stringify(row.payload), { msgID: row.id, headers: h });
        }),
      );
      this.options.hooks?.afterPublish?.();
      await runner.query(`DELETE FROM "${schema}".outbox WHERE id = ANY($1::uuid[])`, [rows.map((row) => row.id)]);
      await runner.commitTransaction();
      for (const row of rows) metrics.published.inc({ event: row.type });
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
    const [row] = await this.options.dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM "${this.options.schema}".outbox`);
    this.options.metrics.outboxBacklog.set(row?.n ?? 0);
  }
}
