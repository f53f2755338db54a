/**
 * Chat (issue 10), two measurements in one run on the machine's PostgreSQL and NATS:
 *   1. capped vs plain — the cost of the §5.5 cap: `capped` is chat's insert as SendMessage
 *      does it (conversation upsert-lock with its next timestamp, then INSERT + trim to the
 *      newest 100 in one statement) into conversations already holding 100 messages; `plain` is the same INSERT
 *      alone; both one transaction each through chat's own repositories and Transactor, the
 *      sealed bytes made beforehand (encryption is not part of either), each worker its own
 *      conversation. Goal: capped ≤ 1.5× plain. Rounds alternate the two lines.
 *   2. end to end — messages/s through chat as it runs (RPC over NATS, moderation, two
 *      transactions with sealing, reservation, context decrypt, reply), with billing and
 *      generation's chat.reply answered by in-process stand-ins (the real reply path runs in
 *      the e2e suite): the figure is chat's own throughput, not the contractor's.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/chat.bench.ts
 * Knobs: BENCH_CONCURRENCY (4), BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_E2E_CONCURRENCY (8).
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
import { ConversationsRepository } from '../services/chat/src/persistence/conversations.repository.js';
import { MessagesRepository } from '../services/chat/src/persistence/messages.repository.js';
import { type Cleanup, createBenchDatabase, intEnv, out, removeNamespaceOnCleanup, runBench } from './support/bench-kit.js';
import { closedLoop, type LoopResult } from './support/loops.js';
import { fmt, pad } from './support/stats.js';

const CONFIG = {
  concurrency: intEnv('BENCH_CONCURRENCY', 4, 1, 64),
  seconds: intEnv('BENCH_SECONDS', 5, 1, 300),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 20),
  e2eConcurrency: intEnv('BENCH_E2E_CONCURRENCY', 8, 1, 256),
};
const RUN_ID = `benchchat${randomId(3)}`;
const cleanups: Cleanup[] = [];
const CAP = ChatRpc.STORED_MESSAGES_PER_ASSISTANT;

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
  const conversations = new ConversationsRepository(db);
  const messages = new MessagesRepository(db);
  // About the size of a sealed 200-character message.
  const sealed = randomBytes(229);
  const assistantId = 'poem-helper';
  const cappedUsers = Array.from({ length: CONFIG.concurrency }, () => randomUUID());
  const plainUsers = Array.from({ length: CONFIG.concurrency }, () => randomUUID());
  const message = (userId: string, createdAt: Date) => ({ id: randomUUID(), userId, assistantId, role: 'user' as const, sealed, keyVersion: 1, status: 'answered' as const, createdAt });
  const capped = async (userId: string) => {
    await transactor.run(async () => {
      const createdAt = await conversations.lockForNextMessage(userId, assistantId, new Date());
      await messages.insertAndTrim(message(userId, createdAt), CAP);
    });
  };
  for (const userId of cappedUsers) for (let i = 0; i < CAP; i++) await capped(userId);
  await dataSource.query('ANALYZE chat.messages');

  out(`capped insert vs plain insert, ${CONFIG.concurrency} workers, each its own conversation (capped ones at ${CAP} stored), ${CONFIG.seconds} s per line`);
  const ratios: number[] = [];
  for (let round = 1; round <= CONFIG.rounds; round++) {
    const plain = await closedLoop(CONFIG.concurrency, { seconds: CONFIG.seconds }, async (_index, worker) => {
      await transactor.run(() => messages.insertUncapped(message(plainUsers[worker]!, new Date())));
      return { ok: true, outcome: 'ok' };
    });
    const cap = await closedLoop(CONFIG.concurrency, { seconds: CONFIG.seconds }, async (_index, worker) => {
      await capped(cappedUsers[worker]!);
      return { ok: true, outcome: 'ok' };
    });
    const ratio = plain.perSecond / cap.perSecond;
    ratios.push(ratio);
    out(`round ${round}`);
    line('plain', plain);
    line('capped', cap, ratio);
  }
  const [{ n: over } = { n: -1 }] = await dataSource.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM chat.messages WHERE user_id = ANY($1) GROUP BY user_id HAVING count(*) <> ${CAP}) c`, [cappedUsers]);
  out(`capped conversations not at exactly ${CAP} after the run: ${over}`);
  out(`capped cost ×${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)} of plain (goal ≤ 1.5)`);
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
