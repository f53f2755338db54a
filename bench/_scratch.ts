import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { SystemClock } from '@homiwork/clock';
import { UserRegisteredV1, eventSubject } from '@homiwork/contracts';
import { CreateMessagingTables1764200000000, Outbox } from '@homiwork/messaging';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { databaseUrl, randomId, withAdminClient } from '@homiwork/testing';

const name = `scratch_${randomId()}`;
await withAdminClient((c) => c.query(`CREATE DATABASE "${name}"`));
const url = databaseUrl(name);
const ds = createServiceDataSource({ databaseUrl: url, schema: 'bench', migrations: [CreateMessagingTables1764200000000] });
await ds.initialize();
await runMigrations(ds);
const outbox = new Outbox('bench', 'ns', new SystemClock());
const N = 3000;
const pay = () => ({ userId: randomUUID(), registeredAt: new Date().toISOString() });
const w = (s: string) => process.stdout.write(s + '\n');
async function timeit(label: string, fn: () => Promise<void>) {
  for (let r = 0; r < 2; r++) {
    const t = performance.now();
    await fn();
    w(`${label} run${r}: ${((performance.now() - t) / N * 1000).toFixed(0)} us/event`);
  }
}
await timeit('outbox.append (typeorm tx, 1 tx of N)', () => ds.transaction(async (m) => { for (let i = 0; i < N; i++) await outbox.append(m, UserRegisteredV1, pay()); }));
await timeit('manager.query same INSERT (typeorm)', () => ds.transaction(async (m) => { for (let i = 0; i < N; i++) await m.query(`INSERT INTO "bench".outbox (id, type, subject, payload, headers, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)`, [randomUUID(), 'UserRegistered.v1', eventSubject('ns', UserRegisteredV1), JSON.stringify(pay()), '{}', new Date().toISOString()]); }));
const client = new pg.Client({ connectionString: url });
await client.connect();
const ins = async () => { await client.query('BEGIN'); for (let i = 0; i < N; i++) await client.query(`INSERT INTO "bench".outbox (id, type, subject, payload, headers, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)`, [randomUUID(), 'UserRegistered.v1', eventSubject('ns', UserRegisteredV1), JSON.stringify(pay()), '{}', new Date().toISOString()]); await client.query('COMMIT'); };
await timeit('raw pg.Client INSERT (trigger on)', ins);
await client.query('ALTER TABLE "bench".outbox DISABLE TRIGGER outbox_notify');
await timeit('raw pg.Client INSERT (trigger off)', ins);
await client.query('ALTER TABLE "bench".outbox ENABLE TRIGGER outbox_notify');
await timeit('raw pg.Client SELECT 1', async () => { for (let i = 0; i < N; i++) await client.query('SELECT 1'); });
// multi-row insert
await timeit('one multi-row INSERT per 50 (pg.Client)', async () => { await client.query('BEGIN'); for (let i = 0; i < N; i += 50) { const vals: unknown[] = []; const rows: string[] = []; for (let j = 0; j < 50; j++) { const b = j * 6; rows.push(`($${b+1},$${b+2},$${b+3},$${b+4},$${b+5},$${b+6})`); vals.push(randomUUID(), 'UserRegistered.v1', 's', JSON.stringify(pay()), '{}', new Date().toISOString()); } await client.query(`INSERT INTO "bench".outbox (id, type, subject, payload, headers, occurred_at) VALUES ${rows.join(',')}`, vals); } await client.query('COMMIT'); });
// commit cost
await timeit('BEGIN; INSERT; COMMIT per event (pg.Client, fsync per commit)', async () => { for (let i = 0; i < N; i++) { await client.query('BEGIN'); await client.query(`INSERT INTO "bench".outbox (id, type, subject, payload, headers, occurred_at) VALUES ($1,'t','s','{}','{}',now())`, [randomUUID()]); await client.query('COMMIT'); } });
await client.end();
await ds.destroy();
await withAdminClient((c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
