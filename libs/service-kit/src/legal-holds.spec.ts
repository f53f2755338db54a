import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetentionRpc } from '@homiwork/contracts';
import { connectToNats, isInfrastructureFailure, MessagingMetrics, RpcClient, RpcServer, type NatsHandles } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { LegalHolds, LegalHoldsUnknown } from './legal-holds.js';

// Retention stood in for by a responder of holds.active on the real NATS.

let nats: NatsHandles;
let namespace: string;
let retention: RpcServer;
let holds: LegalHolds;
const held = new Set<string>();
const questions: string[][] = [];
/** Extra ids retention (wrongly) adds to every answer. */
const noise: string[] = [];

beforeAll(async () => {
  nats = await connectToNats(TEST_NATS_URL, 'legal-holds-spec');
  namespace = createTestNamespace();
  retention = new RpcServer(nats.nc, namespace, 'retention', createLogger({ service: 'retention', level: 'silent' }), new MessagingMetrics(new ServiceMetrics('retention')));
  retention.serve(RetentionRpc.ActiveHoldsRoute, ({ userIds }) => {
    questions.push(userIds);
    return Promise.resolve({ heldUserIds: [...userIds.filter((userId) => held.has(userId)), ...noise] });
  });
  holds = new LegalHolds(new RpcClient(nats.nc, namespace, 2_000));
});
afterAll(async () => {
  await retention?.stop();
  await nats?.nc.drain();
});

const ids = (n: number) => Array.from({ length: n }, () => randomUUID());

describe('LegalHolds.heldAmong', () => {
  it('asks in chunks of at most ACTIVE_HOLDS_MAX_USER_IDS, each id once, and answers the held ones among those asked', async () => {
    const users = ids(2_500);
    held.add(users[3]!).add(users[1_700]!).add(users[2_499]!);
    questions.length = 0;
    const answer = await holds.heldAmong([...users, ...users.slice(0, 10)]);
    expect([...answer].sort()).toEqual([users[3]!, users[1_700]!, users[2_499]!].sort());
    expect(questions.map((q) => q.length)).toEqual([1_000, 1_000, 500]);
    expect(new Set(questions.flat()).size).toBe(2_500);
  });

  it('asks nothing for no ids', async () => {
    questions.length = 0;
    expect(await holds.heldAmong([])).toEqual(new Set());
    expect(questions).toEqual([]);
  });

  it('ignores an id in the answer that was not asked about', async () => {
    const stranger = randomUUID();
    noise.push(stranger);
    try {
      expect(await holds.heldAmong(ids(3))).toEqual(new Set());
    } finally {
      noise.length = 0;
    }
  });

  it('the contract refuses an empty question and one over the bound', () => {
    expect(RetentionRpc.ActiveHoldsRoute.request.safeParse({ userIds: [] }).success).toBe(false);
    expect(RetentionRpc.ActiveHoldsRoute.request.safeParse({ userIds: ids(RetentionRpc.ACTIVE_HOLDS_MAX_USER_IDS + 1) }).success).toBe(false);
    expect(RetentionRpc.ActiveHoldsRoute.request.safeParse({ userIds: ids(RetentionRpc.ACTIVE_HOLDS_MAX_USER_IDS) }).success).toBe(true);
  });

  it('without an answer throws LegalHoldsUnknown, an unreachable dependency for an event consumer (redelivered, not dead-lettered)', async () => {
    const silent = new LegalHolds(new RpcClient(nats.nc, createTestNamespace(), 300));
    const failure = await silent.heldAmong(ids(1)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(LegalHoldsUnknown);
    expect(isInfrastructureFailure(failure)).toBe(true);
  });
});

describe('LegalHolds.sweep', () => {
  /** A table of due rows (oldest first) and a sweep over it, as the services' repositories do it in SQL. */
  function table(rows: Array<{ id: number; userId: string | null }>, batchSize: number) {
    const left = [...rows];
    const purges: Array<readonly string[]> = [];
    const sweep = (over = holds) =>
      over.sweep({
        batchSize,
        candidates: (heldSoFar) => {
          const batch = left.filter((row) => row.userId === null || !heldSoFar.includes(row.userId)).slice(0, batchSize);
          return Promise.resolve({ rows: batch.length, userIds: [...new Set(batch.flatMap((row) => (row.userId ? [row.userId] : [])))] });
        },
        purge: (cleared) => {
          purges.push(cleared);
          const taken = left.filter((row) => row.userId === null || cleared.includes(row.userId)).slice(0, batchSize);
          for (const row of taken) left.splice(left.indexOf(row), 1);
          return Promise.resolve({ count: taken.length, seen: taken.length });
        },
      });
    return { left, purges, sweep };
  }

  it('goes past a held user’s rows, however many and however old, and deletes everyone else’s', async () => {
    const [heldUser, a, b] = ids(3) as [string, string, string];
    held.add(heldUser);
    const rows = [
      ...Array.from({ length: 7 }, (_, i) => ({ id: i, userId: heldUser })),
      { id: 7, userId: a },
      { id: 8, userId: b },
      { id: 9, userId: a },
    ];
    const t = table(rows, 3);
    questions.length = 0;
    expect(await t.sweep()).toBe(3);
    expect(t.left.map((row) => row.userId)).toEqual(Array(7).fill(heldUser));
    for (const cleared of t.purges) expect(cleared).not.toContain(heldUser);
    // Each question names only the owners of one batch of candidates.
    for (const question of questions) expect(question.length).toBeLessThanOrEqual(3);
    expect(questions.flat()).not.toContain(undefined);
  });

  it('asks nothing when nothing is due, and nothing for ownerless rows', async () => {
    questions.length = 0;
    expect(await table([], 5).sweep()).toBe(0);
    const ownerless = table([{ id: 1, userId: null }], 5);
    expect(await ownerless.sweep()).toBe(1);
    expect(questions).toEqual([]);
  });

  it('stops at the first unanswered question: earlier batches stay done, nothing more is deleted', async () => {
    const users = ids(4);
    const t = table(
      users.map((userId, id) => ({ id, userId })),
      2,
    );
    let asked = 0;
    const flaky = new (class extends LegalHolds {
      override heldAmong(userIds: Iterable<string>): Promise<Set<string>> {
        return ++asked === 1 ? holds.heldAmong(userIds) : Promise.reject(new LegalHoldsUnknown(new Error('retention went away')));
      }
    })(undefined as never);
    await expect(t.sweep(flaky)).rejects.toBeInstanceOf(LegalHoldsUnknown);
    expect(t.left.map((row) => row.userId)).toEqual(users.slice(2));
  });
});
