/**
 * Chat (issue 10), two measurements in one run on the machine's PostgreSQL and NATS:
 *   1. capped vs plain — the cost of the §5.5 cap: `capped` is chat's insert as SendMessage
 *      does it (one call of store_message_capped: the conversation upsert-locked with its next
 *      timestamp, the INSERT, the trim to the newest 100) into conversations already holding
 *      100 messages; `plain` is the same INSERT
 *      alone; both one transaction each through chat's own repositories and Transactor, the
 *      sealed bytes made beforehand (encryption is not part of either), each worker its own
 *      conversation, in a table that already holds BENCH_BACKGROUND_CONVERSATIONS other full
 *      conversations (a table of one bench's own rows is not what the planner sees in use).
 *      Goal: capped ≤ 1.5× plain. A round runs the two lines in alternating 1-second slices
 *      (BENCH_SECONDS of each), so a change of machine load mid-round hits both alike.
 *      Before every round `VACUUM ANALYZE` does what autovacuum does in production: this
 *      machine's PostgreSQL runs with autovacuum off (CI), and with statistics from before
 *      the plain line's tens of thousands of rows the planner trims through the created_at
 *      index, which reads the whole index per insert (an incremental sort looking for the
 *      end of a group that has no end) — capped then measured 5–20× plain, worse every
 *      round as the table grew. The plan the trim ran with is printed at the end.
 *   2. end to end — messages/s through chat as it runs (RPC over NATS, moderation, two
 *      transactions with sealing, reservation, context decrypt, reply), with billing and
 *      generation's chat.reply answered by in-process stand-ins (the real reply path runs in
 *      the e2e suite): the figure is chat's own throughput, not the contractor's.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/chat.bench.ts
 * Knobs: BENCH_CONCURRENCY (4), BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_E2E_CONCURRENCY (8),
 * BENCH_BACKGROUND_CONVERSATIONS (2000).
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { BillingRpc, ChatRpc, GenerationRpc, type CallerContext } from '@homiwork/contracts';
import { MessagingMetrics, RpcClient, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { createServiceDataSource, Database, runMigrations, Transactor } from '@homiwork/persistence';
import { startService } from '@homiwork/service-kit';
import { databaseUrl, randomId, TEST_NATS_URL } from '@homiwork/testing';
import { ChatModule } from '../services/chat/src/chat.module.js';
import { chatConfigSchema } from '../services/chat/src/config.js';
import { CHAT_MIGRATIONS } from '../services/chat/src/migrations/index.js';
import { MessagesRepository } from '../services/chat/src/persistence/messages.repository.js';
import { type Cleanup, createBenchDatabase, intEnv, out, removeNamespaceOnCleanup, runBench } from './support/bench-kit.js';
import { closedLoop, type LoopResult } from './support/loops.js';
import { fmt, pad, percentile } from './support/stats.js';

const CONFIG = {
  concurrency: intEnv('BENCH_CONCURRENCY', 4, 1, 64),
  seconds: intEnv('BENCH_SECONDS', 5, 1, 300),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 20),
  e2eConcurrency: intEnv('BENCH_E2E_CONCURRENCY', 8, 1, 256),
  backgroundConversations: intEnv('BENCH_BACKGROUND_CONVERSATIONS', 2000, 0, 100_000),
};
const RUN_ID = `benchchat${randomId(3)}`;
const cleanups: Cleanup[] = [];
const CAP = ChatRpc.STORED_MESSAGES_PER_ASSISTANT;

/** One line's 1-second slices as one result: throughput over their summed time, percentiles over all their latencies. */
function merged(slices: LoopResult[]): LoopResult {
  const latencies = slices.flatMap((slice) => slice.latencies).sort((a, b) => a - b);
  const done = slices.reduce((sum, slice) => sum + slice.done, 0);
  const wall = slices.reduce((sum, slice) => sum + slice.wall, 0);
  const outcomes: Record<string, number> = {};
  for (const slice of slices) for (const [outcome, count] of Object.entries(slice.outcomes)) outcomes[outcome] = (outcomes[outcome] ?? 0) + count;
  const firstFailure = slices.find((slice) => slice.firstFailure)?.firstFailure;
  return { done, wall, perSecond: done / wall, latencies, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? Number.NaN, outcomes, ...(firstFailure ? { firstFailure } : {}) };
}

function line(name: string, result: LoopResult, ratio?: number): void {
  out(`${pad(name, 10)} ${pad(fmt(result.perSecond, 0), 8)} /s   p50 ${pad(fmt(result.p50, 2), 7)} ms   p99 ${pad(fmt(result.p99, 2), 7)} ms${ratio === undefined ? '' : `   ×${fmt(ratio, 2)} of plain`}${result.firstFailure ? `   first failure: ${result.firstFailure}` : ''}`);
}

async function cappedVsPlain(url: string): Promise<void> {
  const dataSource = createServiceDataSource({ databaseUrl: url, schema: 'chat', migrations: [...CHAT_MIGRATIONS], poolSize: CONFIG.concurrency + 2 });
  await dataSource.initialize();
  cleanups.push({ what: 'closing the bench pool', run: () => dataSource.destroy() });
  await runMigrations(dataSource);
  const db = new Database(dataSource);
  const transactor = new Transactor(dataSource);
  const messages = new MessagesRepository(db);
  // About the size of a sealed 200-character message.
  const sealed = randomBytes(229);
  const assistantId = 'poem-helper';
  const cappedUsers = Array.from({ length: CONFIG.concurrency }, () => randomUUID());
  const plainUsers = Array.from({ length: CONFIG.concurrency }, () => randomUUID());
  const message = (userId: string, createdAt: Date) => ({ id: randomUUID(), userId, assistantId, role: 'user' as const, sealed, keyVersion: 1, status: 'answered' as const, createdAt });
  const capped = async (userId: string) => {
    const { id, role, sealed: bytes, keyVersion, status } = message(userId, new Date());
    await transactor.run(() => messages.storeCapped({ id, userId, assistantId, role, sealed: bytes, keyVersion, status }, new Date(), false, CAP));
  };
  // Other users' full conversations, written over the past weeks, straight in SQL: only their shape matters.
  await dataSource.query(
    `WITH c AS (SELECT gen_random_uuid() AS user_id FROM generate_series(1, $1)),
          i AS (INSERT INTO chat.conversations (user_id, assistant_id, last_message_at) SELECT user_id, $2, now() - interval '1 hour' FROM c)
     INSERT INTO chat.messages (id, user_id, assistant_id, role, sealed, key_version, status, created_at)
     SELECT gen_random_uuid(), c.user_id, $2, CASE WHEN n % 2 = 0 THEN 'user' ELSE 'assistant' END, $3, 1, 'answered', now() - interval '30 days' * random()
       FROM c, generate_series(1, $4) n`,
    [CONFIG.backgroundConversations, assistantId, sealed, CAP],
  );
  for (const userId of cappedUsers) for (let i = 0; i < CAP; i++) await capped(userId);
  const vacuum = () => dataSource.query('VACUUM ANALYZE chat.messages, chat.conversations');

  out(`capped insert vs plain insert, ${CONFIG.concurrency} workers, each its own conversation (capped ones at ${CAP} stored), ${CONFIG.backgroundConversations} other conversations at ${CAP}, VACUUM ANALYZE before each round, ${CONFIG.seconds} × 1 s per line, the two lines alternating by the second`);
  const ratios: number[] = [];
  const lines = {
    plain: () =>
      closedLoop(CONFIG.concurrency, { seconds: 1 }, async (_index, worker) => {
        await transactor.run(() => messages.insertUncapped(message(plainUsers[worker]!, new Date())));
        return { ok: true, outcome: 'ok' };
      }),
    capped: () =>
      closedLoop(CONFIG.concurrency, { seconds: 1 }, async (_index, worker) => {
        await capped(cappedUsers[worker]!);
        return { ok: true, outcome: 'ok' };
      }),
  };
  for (let round = 1; round <= CONFIG.rounds; round++) {
    await vacuum();
    const slices: Record<keyof typeof lines, LoopResult[]> = { plain: [], capped: [] };
    for (let slice = 0; slice < CONFIG.seconds; slice++) {
      for (const name of slice % 2 === 0 ? (['plain', 'capped'] as const) : (['capped', 'plain'] as const)) slices[name].push(await lines[name]());
    }
    const plain = merged(slices.plain);
    const cap = merged(slices.capped);
    const ratio = plain.perSecond / cap.perSecond;
    ratios.push(ratio);
    out(`round ${round}`);
    line('plain', plain);
    line('capped', cap, ratio);
  }
  const [{ n: over } = { n: -1 }] = await dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM chat.messages WHERE user_id = ANY($1) GROUP BY user_id HAVING count(*) <> ${CAP}) c`, [cappedUsers]);
  out(`capped conversations not at exactly ${CAP} after the run: ${over}`);
  out(`capped cost ×${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)} of plain (goal ≤ 1.5)`);
  // A copy of store_message_capped's trim query (keep the two alike): which index it used.
  const userId = cappedUsers[0]!;
  const plan = await dataSource.query<Array<{ 'QUERY PLAN': string }>>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
     SELECT id FROM chat.messages WHERE user_id = $1 AND assistant_id = $2 ORDER BY created_at DESC, id DESC OFFSET $3 LIMIT 1`,
    [userId, assistantId, CAP],
  );
  const text = plan.map((row) => row['QUERY PLAN']);
  const scan = text.find((row) => /Scan/.test(row))?.trim() ?? '?';
  out(`trim plan: ${scan}; ${text.find((row) => row.trimStart().startsWith('Buffers'))?.trim() ?? ''}; ${text.at(-1)?.trim() ?? ''}`);
}

async function endToEnd(url: string): Promise<void> {
  const namespace = `${RUN_ID}e2e`;
  const nc = await connect({ servers: TEST_NATS_URL, name: 'chat-bench' });
  cleanups.push({ what: 'closing NATS', run: () => nc.close() });
  removeNamespaceOnCleanup(nc, namespace, cleanups);
  const logger = createLogger({ service: 'chat-bench-peers', level: 'silent' });
  const metrics = new MessagingMetrics(new ServiceMetrics('chat-bench-peers'));
  const billing = new RpcServer(nc, namespace, 'billing', logger, metrics);
  billing.serve(BillingRpc.ReserveEnergyRoute, () => Promise.resolve({ cost: 1, energy: 1_000_000 }));
  const generation = new RpcServer(nc, namespace, 'generation', logger, metrics);
  generation.serve(GenerationRpc.ChatReplyRoute, (request) => Promise.resolve({ text: `A short verse in reply to ${request.turns.length} turns, about the sea and the wind.` }));
  const config = chatConfigSchema.parse({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: namespace,
    EVENT_STREAM_MAX_BYTES: String(256 * 1024 * 1024),
    OPS_PORT: '0',
    DATA_KEYS_MASTER_KEYS: `1:${randomBytes(32).toString('base64')}`,
  });
  const service = await startService(ChatModule.forRoot(config), config, { service: 'chat' });
  cleanups.push({ what: 'stopping chat', run: () => service.close() });
  const rpc = new RpcClient(nc, namespace, 20_000);
  const users = Array.from({ length: CONFIG.e2eConcurrency }, () => randomUUID());
  const text = 'Write me a short poem about the sea, the wind and a small boat coming home at night.';
  const send = (worker: number) => rpc.call(ChatRpc.SendMessageRoute, { assistantId: 'poem-helper', text }, { requestId: randomUUID(), userId: users[worker] } satisfies CallerContext);
  await closedLoop(CONFIG.e2eConcurrency, { seconds: 2 }, async (_i, worker) => (await send(worker), { ok: true, outcome: 'ok' }));
  out(`\nend to end through chat (stand-in reply and billing), ${CONFIG.e2eConcurrency} users sending at once, conversations at the cap after warm-up:`);
  for (let round = 1; round <= CONFIG.rounds; round++) {
    const result = await closedLoop(CONFIG.e2eConcurrency, { seconds: CONFIG.seconds }, async (_i, worker) => {
      await send(worker);
      return { ok: true, outcome: 'ok' };
    });
    line(`round ${round}`, result);
  }
  await billing.stop();
  await generation.stop();
}

await runBench(
  async () => {
    await createBenchDatabase(RUN_ID, cleanups);
    await cappedVsPlain(databaseUrl(RUN_ID));
    const e2e = `${RUN_ID}_e2e`;
    await createBenchDatabase(e2e, cleanups);
    await endToEnd(databaseUrl(e2e));
  },
  cleanups,
  600_000,
);
