import { execFile } from 'node:child_process';
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  ErasureApprovedV1,
  ErasureRequestedV1,
  LegalHoldPlacedV1,
  LegalHoldReleasedV1,
  ProhibitedContentDetectedV1,
  PurgeCompletedV1,
  RetentionConsumers,
  RetentionRpc,
  streamName,
  UserDeletedV1,
  type CallerContext,
  type DATA_OWNING_SERVICES,
  type EventPayload,
} from '@homiwork/contracts';
import { UserDataKeys } from '@homiwork/data-keys';
import { RpcError } from '@homiwork/messaging';
import { catalogueViolations, ServiceMetrics } from '@homiwork/observability';
import { ObjectStore } from '@homiwork/storage';
import { eventually } from '@homiwork/testing';
import { AuditErasures } from '../src/erasures/index.js';
import { startRetentionHarness, type RetentionHarness } from './harness.js';

type Service = (typeof DATA_OWNING_SERVICES)[number];
const HOUR = 3_600_000;

describe('retention: legal holds, erasures and signed receipts', () => {
  let h: RetentionHarness;
  const operator: Partial<CallerContext> = { userId: randomUUID(), role: 'operator' };

  beforeAll(async () => {
    h = await startRetentionHarness({ instances: 2 });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const requestErasure = async (userId: string, erasureId = randomUUID(), options: { messageId?: string } = {}) => {
    await h.publish(ErasureRequestedV1, { userId, erasureId, reason: 'user_request', requestedAt: h.now().toISOString() }, options);
    return erasureId;
  };
  const erasureRow = async (erasureId: string) =>
    (await h.sql<{ status: string; user_id: string | null; reason: string; jws: string | null; approved_at: Date | null }>('SELECT status, user_id, reason, jws, approved_at FROM erasures WHERE id = $1', [erasureId]))[0];
  const waitForStatus = async (erasureId: string, status: string) => {
    await eventually(async () => (await erasureRow(erasureId))?.status === status, { what: `erasure ${status}`, timeoutMs: 15_000 });
  };
  const approvalsOf = async (erasureId: string) => (await h.events(ErasureApprovedV1)).filter((event) => event.erasureId === erasureId);
  const receipt = (service: Service, userId: string, erasureId: string, counts: Record<string, number> = { rows: 1 }): EventPayload<typeof PurgeCompletedV1> => ({
    service,
    userId,
    erasureId,
    scope: 'user',
    scopeId: userId,
    trigger: { type: 'UserDeleted.v1', messageId: randomUUID() },
    counts,
    purgedAt: h.now().toISOString(),
  });
  /** Every service but retention confirms by PurgeCompleted; retention by its own purge on UserDeleted. */
  const purgeEverywhere = async (userId: string, erasureId: string) => {
    await h.publish(UserDeletedV1, { userId, erasureId, reason: 'user_request', deletedAt: h.now().toISOString() });
    for (const service of h.config.ERASURE_SERVICES.filter((name) => name !== 'retention')) await h.publish(PurgeCompletedV1, receipt(service, userId, erasureId, { rows: 2, objects: 1 }));
  };
  const rpcError = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  };

  it('opens an erasure with every expected service and approves it when no hold stands', async () => {
    const userId = randomUUID();
    const erasureId = await requestErasure(userId);
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId && event.userId === userId));
    const view = await h.call(RetentionRpc.GetErasureRoute, { erasureId });
    expect(view).toMatchObject({ id: erasureId, status: 'in_progress', reason: 'user_request', overdue: false, receipts: [], expectedServices: h.config.ERASURE_SERVICES });
    expect(view.jws).toBeUndefined();
    expect(new Date(view.deadlineAt).getTime() - new Date(view.requestedAt).getTime()).toBe(24 * HOUR);
    expect(JSON.stringify(view)).not.toContain(userId);
    // The same request again (another message) changes nothing and approves nothing more.
    await requestErasure(userId, erasureId);
    await h.outboxDrained();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await approvalsOf(erasureId)).toHaveLength(1);
    expect(await h.sql('SELECT count(*)::int AS n FROM erasures WHERE id = $1', [erasureId])).toEqual([{ n: 1 }]);
  });

  it('answers 404 for an unknown erasure', async () => {
    const error = await rpcError(h.call(RetentionRpc.GetErasureRoute, { erasureId: randomUUID() }));
    expect([error.status, error.code]).toEqual([404, 'not_found']);
  });

  it('holds an erasure while a legal hold stands and approves it once released', async () => {
    const userId = randomUUID();
    const { id: holdId } = await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'court order 12/3' }, operator);
    await h.eventsUntil(LegalHoldPlacedV1, (events) => events.some((event) => event.holdId === holdId && event.userId === userId));
    expect(await h.call(RetentionRpc.ActiveHoldsRoute, { userIds: [userId, randomUUID()] })).toEqual({ heldUserIds: [userId] });

    const erasureId = await requestErasure(userId);
    await waitForStatus(erasureId, 'held');
    await h.outboxDrained();
    expect(await approvalsOf(erasureId)).toEqual([]);
    // Publicly in progress (the subject of an investigation is not told of the hold); held for operators.
    expect((await h.call(RetentionRpc.GetErasureRoute, { erasureId })).status).toBe('in_progress');
    expect((await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: false }, operator)).items.find((item) => item.id === erasureId)?.status).toBe('held');

    // Held past its deadline: not overdue (the law stops it, not a failure).
    h.advanceClock(25 * HOUR);
    expect((await h.call(RetentionRpc.GetErasureRoute, { erasureId })).overdue).toBe(false);
    expect((await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: true }, operator)).items.map((item) => item.id)).not.toContain(erasureId);

    // A second hold: releasing the first alone approves nothing.
    const { id: second } = await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'tax audit' }, operator);
    const holdsActive = async (): Promise<number> => {
      const [instance] = h.running();
      await instance!.get(AuditErasures).execute();
      return Number(/^retention_legal_holds_active\{[^}]*\} (\d+)$/m.exec(await instance!.get(ServiceMetrics).metricsText())?.[1]);
    };
    const activeInDatabase = async () => (await h.sql<{ n: number }>('SELECT count(*)::int AS n FROM legal_holds WHERE released_at IS NULL'))[0]!.n;
    const withBoth = await holdsActive();
    expect(withBoth).toBe(await activeInDatabase());
    expect(withBoth).toBeGreaterThanOrEqual(2);
    await h.call(RetentionRpc.ReleaseLegalHoldRoute, { id: holdId }, operator);
    await h.outboxDrained();
    expect(await approvalsOf(erasureId)).toEqual([]);
    expect((await erasureRow(erasureId))?.status).toBe('held');

    await h.call(RetentionRpc.ReleaseLegalHoldRoute, { id: second }, operator);
    const approvals = await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId));
    expect(approvals.filter((event) => event.erasureId === erasureId)).toHaveLength(1);
    expect((await erasureRow(erasureId))?.status).toBe('in_progress');
    // The deadline counts again from the release.
    const released = await h.call(RetentionRpc.GetErasureRoute, { erasureId });
    expect(released.overdue).toBe(false);
    expect(new Date(released.deadlineAt).getTime()).toBeGreaterThan(h.now().getTime() + 23 * HOUR);
    await h.eventsUntil(LegalHoldReleasedV1, (events) => events.filter((event) => event.userId === userId).length === 2);
    expect(await holdsActive()).toBe(withBoth - 2);

    // The record: who placed and released, when, why — and no longer active.
    const { items } = await h.call(RetentionRpc.ListLegalHoldsRoute, { userId }, operator);
    expect(items).toHaveLength(2);
    expect(items.every((item) => item.releasedAt !== undefined && item.source === 'operator')).toBe(true);
    expect(items.map((item) => item.reason).sort()).toEqual(['court order 12/3', 'tax audit']);
    const rows = await h.sql<{ placed_by: string; released_by: string }>('SELECT placed_by, released_by FROM legal_holds WHERE user_id = $1', [userId]);
    expect(rows.every((row) => row.placed_by === operator.userId && row.released_by === operator.userId)).toBe(true);
    expect((await h.call(RetentionRpc.ActiveHoldsRoute, { userIds: [userId] })).heldUserIds).toEqual([]);

    // Released already, or unknown: 404.
    expect((await rpcError(h.call(RetentionRpc.ReleaseLegalHoldRoute, { id: second }, operator))).status).toBe(404);
    expect((await rpcError(h.call(RetentionRpc.ReleaseLegalHoldRoute, { id: randomUUID() }, operator))).status).toBe(404);
  });

  it('a hold and an erasure at the same moment: the erasure is either held or approved before the hold, never both', async () => {
    const users = Array.from({ length: 8 }, () => randomUUID());
    const erasures = new Map<string, string>();
    await Promise.all(
      users.map(async (userId) => {
        const [erasureId] = await Promise.all([requestErasure(userId), h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'race' }, operator)]);
        erasures.set(userId, erasureId);
      }),
    );
    for (const erasureId of erasures.values()) await eventually(async () => (await erasureRow(erasureId)) !== undefined, { what: 'the erasure row' });
    await h.outboxDrained();
    const approved = await h.events(ErasureApprovedV1);
    for (const [userId, erasureId] of erasures) {
      const row = (await erasureRow(erasureId))!;
      const [hold] = await h.sql<{ placed_at: Date }>('SELECT placed_at FROM legal_holds WHERE user_id = $1', [userId]);
      const approvals = approved.filter((event) => event.erasureId === erasureId);
      if (row.status === 'held') expect(approvals).toEqual([]);
      else {
        expect(row.status).toBe('in_progress');
        expect(approvals).toHaveLength(1);
        expect(row.approved_at!.getTime()).toBeLessThanOrEqual(hold!.placed_at.getTime());
      }
    }
  });

  it('completes and signs the receipt when every service has confirmed; the served key verifies it; duplicates change nothing', async () => {
    const userId = randomUUID();
    const erasureId = await requestErasure(userId);
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId));
    await purgeEverywhere(userId, erasureId);
    await waitForStatus(erasureId, 'completed');

    const view = await h.call(RetentionRpc.GetErasureRoute, { erasureId });
    expect(view.status).toBe('completed');
    expect(view.overdue).toBe(false);
    expect(view.receipts.map((r) => r.service)).toEqual(h.config.ERASURE_SERVICES);
    expect(view.receipts.find((r) => r.service === 'media')!.counts).toEqual({ objects: 1, rows: 2 });
    expect((await erasureRow(erasureId))?.user_id).toBeNull();
    expect(JSON.stringify(view)).not.toContain(userId);

    // The JWS: EdDSA with the current key, over exactly the JSON served without `jws`.
    const [header, payload, signature] = view.jws!.split('.');
    const { keys } = await h.call(RetentionRpc.ReceiptKeysRoute, {});
    const decodedHeader = JSON.parse(Buffer.from(header!, 'base64url').toString()) as { alg: string; kid: string; typ: string };
    expect(decodedHeader.alg).toBe('EdDSA');
    const key = keys.find((candidate) => candidate.kid === decodedHeader.kid)!;
    expect(key.status).toBe('current');
    const publicKey = createPublicKey({ key: key.jwk, format: 'jwk' });
    expect(verify(null, Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature!, 'base64url'))).toBe(true);
    const served: Partial<typeof view> = { ...view };
    delete served.jws;
    expect(Buffer.from(payload!, 'base64url').toString('utf8')).toBe(JSON.stringify(served));
    // Altered (one count), the same signature fails.
    const altered = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as typeof view;
    altered.receipts[0]!.counts = { ...altered.receipts[0]!.counts, rows: 0 };
    expect(verify(null, Buffer.from(`${header}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}`), publicKey, Buffer.from(signature!, 'base64url'))).toBe(false);

    // The documented offline check, on the two API answers as saved: valid; one count changed: invalid.
    const dir = mkdtempSync(join(tmpdir(), 'receipt-'));
    try {
      const verifier = (erasureJson: unknown) => {
        writeFileSync(join(dir, 'erasure.json'), JSON.stringify(erasureJson));
        writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys }));
        return new Promise<{ code: number; stdout: string }>((done) =>
          execFile(process.execPath, [resolve(import.meta.dirname, '../../../tools/verify-erasure-receipt.mjs'), join(dir, 'erasure.json'), join(dir, 'keys.json')], (error, stdout) =>
            done({ code: error ? Number(error.code) : 0, stdout }),
          ),
        );
      };
      const good = await verifier(view);
      expect(good).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^valid: erasure ${erasureId} `)) as unknown });
      const changed = structuredClone(view);
      changed.receipts[1]!.counts = { ...changed.receipts[1]!.counts, rows: 3 };
      const bad = await verifier(changed);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/^invalid: the erasure document differs from what the receipt signed, at receipts\.1\.counts\.rows/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Duplicates: a second UserDeleted (retention purges again, finds nothing), late receipts — the receipt does not change.
    await purgeEverywhere(userId, erasureId);
    await h.publish(PurgeCompletedV1, receipt('media', userId, erasureId, { rows: 99 }));
    await h.eventsUntil(PurgeCompletedV1, (events) => events.filter((event) => event.service === 'retention' && event.erasureId === erasureId).length === 2);
    await h.outboxDrained();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await h.call(RetentionRpc.GetErasureRoute, { erasureId })).toEqual(view);
    expect(await h.sql('SELECT count(*)::int AS n FROM erasure_receipts WHERE erasure_id = $1', [erasureId])).toEqual([{ n: h.config.ERASURE_SERVICES.length }]);
    expect(await approvalsOf(erasureId)).toHaveLength(1);
  });

  it('takes a receipt only from the service it names: one announced under another service\'s subject is dead-lettered, not recorded', async () => {
    const userId = randomUUID();
    const erasureId = await requestErasure(userId);
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId));
    const others = h.config.ERASURE_SERVICES.filter((name) => name !== 'retention');
    // Each service's receipt, published by the next one (NATS permissions let a service publish only under its own name).
    for (const [index, service] of others.entries()) {
      await h.publish(PurgeCompletedV1, receipt(service, userId, erasureId, { rows: 99 }), { publisher: others[(index + 1) % others.length] });
    }
    const durable = RetentionConsumers.purgeCompleted.durableName;
    const jsm = await jetstreamManager(h.nc);
    const dlq = streamName(h.namespace, DEAD_LETTER_STREAM);
    await eventually(async () => ((await jsm.streams.info(dlq, { subjects_filter: '>' })).state.subjects?.[deadLetterSubject(h.namespace, RetentionConsumers.purgeCompleted)] ?? 0) === others.length, {
      what: `${durable}: every forged receipt dead-lettered`,
    });
    expect((await h.call(RetentionRpc.GetErasureRoute, { erasureId })).receipts).toEqual([]);

    await purgeEverywhere(userId, erasureId);
    await waitForStatus(erasureId, 'completed');
    const view = await h.call(RetentionRpc.GetErasureRoute, { erasureId });
    expect(view.receipts.find((r) => r.service === 'media')!.counts).toEqual({ objects: 1, rows: 2 });
  });

  it('takes receipts that arrive before their ErasureRequested, and completes once the request is known', async () => {
    const userId = randomUUID();
    const erasureId = randomUUID();
    const [first, ...rest] = h.config.ERASURE_SERVICES.filter((name) => name !== 'retention');
    await h.publish(PurgeCompletedV1, receipt(first!, userId, erasureId));
    await eventually(async () => (await h.sql('SELECT 1 FROM erasure_receipts WHERE erasure_id = $1', [erasureId])).length === 1, { what: 'the early receipt' });
    // A second receipt of the same service (another message) does not replace the first.
    await h.publish(PurgeCompletedV1, receipt(first!, userId, erasureId, { rows: 7 }));
    // Every receipt in, the request still unknown: not completed (nothing to sign the reason with).
    for (const service of rest) await h.publish(PurgeCompletedV1, receipt(service, userId, erasureId));
    await h.publish(UserDeletedV1, { userId, erasureId, reason: 'privacy_request', deletedAt: h.now().toISOString() });
    await eventually(async () => (await h.sql('SELECT 1 FROM erasure_receipts WHERE erasure_id = $1', [erasureId])).length === h.config.ERASURE_SERVICES.length, { what: 'every receipt' });
    expect((await erasureRow(erasureId))?.status).toBe('in_progress');

    await h.publish(ErasureRequestedV1, { userId, erasureId, reason: 'privacy_request', requestedAt: h.now().toISOString() });
    await waitForStatus(erasureId, 'completed');
    const view = await h.call(RetentionRpc.GetErasureRoute, { erasureId });
    expect(view).toMatchObject({ reason: 'privacy_request', status: 'completed' });
    expect(view.receipts).toHaveLength(h.config.ERASURE_SERVICES.length);
    expect(view.receipts.find((r) => r.service === first)!.counts).toEqual({ rows: 1 });
  });

  it('shows an erasure overdue past its deadline, in the view, the operators list and the gauge', async () => {
    const userId = randomUUID();
    const erasureId = await requestErasure(userId);
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId));
    await h.publish(PurgeCompletedV1, receipt('media', userId, erasureId));
    await eventually(async () => (await h.sql('SELECT 1 FROM erasure_receipts WHERE erasure_id = $1', [erasureId])).length === 1, { what: 'a receipt' });

    const before = await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: true }, operator);
    expect(before.items.map((item) => item.id)).not.toContain(erasureId);
    h.advanceClock(25 * HOUR);
    expect((await h.call(RetentionRpc.GetErasureRoute, { erasureId })).overdue).toBe(true);
    const { items } = await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: true }, operator);
    const listed = items.find((item) => item.id === erasureId)!;
    expect(listed.overdue).toBe(true);
    expect(listed.missingServices).toEqual(h.config.ERASURE_SERVICES.filter((name) => name !== 'media'));
    expect((await h.call(RetentionRpc.AdminListErasuresRoute, { overdue: false }, operator)).items.some((item) => item.id === erasureId)).toBe(true);

    // Every instance reads the same numbers from the database.
    for (const instance of h.running()) {
      await instance.get(AuditErasures).execute();
      const text = await instance.get(ServiceMetrics).metricsText();
      const overdue = Number(/retention_erasures_open\{[^}]*state="overdue"[^}]*\} (\d+)/.exec(text)?.[1]);
      expect(overdue).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/retention_erasures_open\{[^}]*state="held"/);
      // A whole running retention's metrics: every one in the catalogue, every label value known.
      expect(catalogueViolations(text)).toEqual([]);
    }
  });

  it('lets only operators place, release and list holds and list erasures', async () => {
    const user: Partial<CallerContext> = { userId: randomUUID(), role: 'user' };
    const userId = randomUUID();
    for (const call of [
      () => h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'x' }, user),
      () => h.call(RetentionRpc.ReleaseLegalHoldRoute, { id: randomUUID() }, user),
      () => h.call(RetentionRpc.ListLegalHoldsRoute, {}, user),
      () => h.call(RetentionRpc.AdminListErasuresRoute, { overdue: false }, user),
    ]) {
      const error = await rpcError(call());
      expect([error.status, error.code]).toEqual([403, 'forbidden']);
    }
    expect((await rpcError(h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'x' }, {}))).status).toBe(401);
    expect(await h.sql('SELECT count(*)::int AS n FROM legal_holds WHERE user_id = $1', [userId])).toEqual([{ n: 0 }]);
    // A blank reason is the contract's 400, naming the field.
    const blank = await rpcError(h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: '   ' }, operator));
    expect(blank.status).toBe(400);
    expect(blank.message).toContain('reason');
  });

  it('places one automatic hold on prohibited content, which holds a later erasure', async () => {
    const userId = randomUUID();
    const detected = { userId, subjectKind: 'upload' as const, rule: 'csam.hash', detectedAt: h.now().toISOString() };
    await h.publish(ProhibitedContentDetectedV1, detected);
    await h.publish(ProhibitedContentDetectedV1, { ...detected, rule: 'other.rule' });
    await eventually(async () => (await h.sql('SELECT 1 FROM legal_holds WHERE user_id = $1', [userId])).length === 1, { what: 'the automatic hold' });
    await h.outboxDrained();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const holds = await h.sql<{ source: string; reason: string; placed_by: string | null; released_at: Date | null }>('SELECT source, reason, placed_by, released_at FROM legal_holds WHERE user_id = $1', [userId]);
    expect(holds).toHaveLength(1);
    expect(holds[0]).toMatchObject({ source: 'prohibited_content', placed_by: null, released_at: null });
    expect(['prohibited content: csam.hash', 'prohibited content: other.rule']).toContain(holds[0]!.reason);

    const erasureId = await requestErasure(userId);
    await waitForStatus(erasureId, 'held');
    expect(await approvalsOf(erasureId)).toEqual([]);
  });

  it("purges retention's own data of the user on UserDeleted, keeps the legal record, and confirms with counts", async () => {
    const userId = randomUUID();
    const other = randomUUID();
    const erasureId = await requestErasure(userId);
    await h.eventsUntil(ErasureApprovedV1, (events) => events.some((event) => event.erasureId === erasureId));
    const now = h.now();
    for (const owner of [userId, other]) {
      await h.sql("INSERT INTO due_items (kind, subject_id, user_id, basis_at, due_at) VALUES ('upload', $1, $2, $3, $3), ('content', $4, $2, $3, NULL)", [randomUUID(), owner, now, randomUUID()]);
      await h.sql('INSERT INTO prime_status (user_id, active, changed_at) VALUES ($1, true, $2)', [owner, now]);
      await h.sql("INSERT INTO privacy_requests (id, user_id, type, regime, status, created_at, due_at) VALUES ($1, $2, 'access', 'gdpr', 'completed', $3, $3)", [randomUUID(), owner, now]);
      const stored = await h.get(ObjectStore).put(owner, `exports/${randomUUID()}`, Buffer.from('sealed archive'), { contentType: 'application/octet-stream' });
      await h.sql('INSERT INTO exports (id, user_id, request_id, object_key, created_at) VALUES ($1, $2, $3, $4, $5)', [randomUUID(), owner, randomUUID(), stored.key, now]);
      await h.get(UserDataKeys).seal(owner, 'export key');
    }
    await h.call(RetentionRpc.PlaceLegalHoldRoute, { userId, reason: 'placed after the approval' }, operator);

    await h.publish(UserDeletedV1, { userId, erasureId, reason: 'user_request', deletedAt: now.toISOString() });
    const [purge] = (await h.eventsUntil(PurgeCompletedV1, (events) => events.some((event) => event.service === 'retention' && event.userId === userId))).filter(
      (event) => event.service === 'retention' && event.userId === userId,
    );
    expect(purge).toMatchObject({ erasureId, scope: 'user', scopeId: userId, trigger: { type: UserDeletedV1.type } });
    expect(purge!.counts).toEqual({ due_items: 2, prime_status: 1, exports: 1, objects: 1, privacy_requests_unlinked: 1, data_keys: 1 });

    const count = async (sql: string, id: string) => (await h.sql<{ n: number }>(sql, [id]))[0]!.n;
    for (const [owner, expected] of [
      [userId, 0],
      [other, 1],
    ] as const) {
      expect(await count('SELECT count(*)::int AS n FROM due_items WHERE user_id = $1', owner)).toBe(expected * 2);
      expect(await count('SELECT count(*)::int AS n FROM prime_status WHERE user_id = $1', owner)).toBe(expected);
      expect(await count('SELECT count(*)::int AS n FROM privacy_requests WHERE user_id = $1', owner)).toBe(expected);
      expect(await count('SELECT count(*)::int AS n FROM exports WHERE user_id = $1', owner)).toBe(expected);
      expect(await count('SELECT count(*)::int AS n FROM user_data_keys WHERE user_id = $1', owner)).toBe(expected);
      expect(await h.get(ObjectStore).listOwnerKeys(owner)).toHaveLength(expected);
    }
    // The request record stays, unlinked; the tombstone refuses later writes; holds and the erasure are the legal record.
    expect(await h.sql("SELECT count(*)::int AS n FROM privacy_requests WHERE user_id IS NULL AND type = 'access'")).not.toEqual([{ n: 0 }]);
    expect(await count('SELECT count(*)::int AS n FROM tombstones WHERE user_id = $1', userId)).toBe(1);
    expect(await count('SELECT count(*)::int AS n FROM legal_holds WHERE user_id = $1', userId)).toBe(1);
    expect((await erasureRow(erasureId))?.status).toBe('in_progress');
    await eventually(async () => (await h.sql('SELECT 1 FROM erasure_receipts WHERE erasure_id = $1 AND service = $2', [erasureId, 'retention'])).length === 1, { what: "retention's receipt" });
  });

  it('counts the services’ own scheduled purges as safety-net misses', async () => {
    const userId = randomUUID();
    const own: EventPayload<typeof PurgeCompletedV1> = { service: 'chat', userId, erasureId: null, scope: 'chat_history', scopeId: null, trigger: null, counts: { messages: 3 }, purgedAt: h.now().toISOString() };
    const day = own.purgedAt.slice(0, 10);
    const [before] = await h.sql<{ purges: number }>("SELECT purges FROM receipt_audit WHERE service = 'chat' AND scope = 'chat_history' AND day = $1", [day]);
    await h.publish(PurgeCompletedV1, own);
    await h.publish(PurgeCompletedV1, { ...own, userId: randomUUID() });
    // One answering an expiry event is not a miss.
    await h.publish(PurgeCompletedV1, { ...own, trigger: { type: 'ChatHistoryExpired.v1', messageId: randomUUID() } });
    await eventually(async () => (await h.sql<{ purges: number }>("SELECT purges FROM receipt_audit WHERE service = 'chat' AND scope = 'chat_history' AND day = $1", [day]))[0]?.purges === (before?.purges ?? 0) + 2, {
      what: 'the audit row',
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await h.sql<{ purges: number }>("SELECT purges FROM receipt_audit WHERE service = 'chat' AND scope = 'chat_history' AND day = $1", [day]))[0]?.purges).toBe((before?.purges ?? 0) + 2);
    let total = 0;
    for (const instance of h.running()) {
      const text = await instance.get(ServiceMetrics).metricsText();
      total += Number(/retention_safety_net_purges_total\{[^}]*service="chat"[^}]*scope="chat_history"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    }
    expect(total).toBe(2);
  });
});
