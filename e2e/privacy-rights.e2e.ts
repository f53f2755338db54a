import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { PurgeCompletedV1, UserDeletedV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { buy, completedErasure, generate, objectsUnder, operator, PASSWORD, register, tablesMentioning, uploadText, verifyReceipt, type Person } from './support/privacy.js';
import { startTestSystem, type TestSystem } from './support/test-system.js';

// R7 through the real processes, with the clock left alone: an export of a user with data in
// every service, a full erasure with its signed receipt, and the faults around it. The
// policy clock (moved time) is e2e/retention-clock.e2e.ts.

let system: TestSystem;
let ops: Person;

beforeAll(async () => {
  system = await startTestSystem({
    env: { RATE_LIMIT_AUTH_PER_MINUTE: '10000', RATE_LIMIT_WRITE_PER_MINUTE: '10000', RATE_LIMIT_GENERATION_PER_MINUTE: '10000', RETENTION_TICK_MS: '200', RETENTION_AUDIT_INTERVAL_MS: '200' },
  });
  ops = await operator(system);
}, 120_000);
afterAll(async () => {
  await system?.stop();
});

/** A user with something in every service: an upload, two contents, a chat, a paid order. */
async function userWithDataEverywhere(label: string): Promise<Person & { uploadId: string; contentIds: string[] }> {
  const person = await register(system, label);
  const uploadId = await uploadText(system, person, `notes of ${label} for the export`);
  const contentIds = [await generate(system, person, 'poem', 'a poem about the sea'), await generate(system, person, 'image', 'a red circle')];
  await system.api({ token: person.token }).assistants.send('poem-helper', 'help me rhyme sea with something');
  await buy(system, person, 'energy');
  return { ...person, uploadId, contentIds };
}


/** Downloads an export link and unpacks the tar: entry name → bytes. */
async function downloadArchive(url: string): Promise<Map<string, Buffer>> {
  const response = await fetch(url);
  expect(response.status, await response.clone().text().catch(() => '')).toBe(200);
  const bytes = Buffer.from(await response.arrayBuffer());
  const entries = new Map<string, Buffer>();
  const unpack = extract();
  const done = new Promise<void>((resolve, reject) => {
    unpack.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        entries.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    unpack.on('finish', resolve);
    unpack.on('error', reject);
  });
  unpack.end(bytes);
  await done;
  return entries;
}

describe('export (R7.1)', () => {
  it('holds each service’s data and files of the user, and nothing of another user', async () => {
    const other = await userWithDataEverywhere('other');
    const person = await userWithDataEverywhere('exporter');
    const api = system.api({ token: person.token });
    const created = await api.privacy.request({ type: 'export' });
    expect(created.type).toBe('export');
    expect(new Date(created.dueAt).getTime() - new Date(created.createdAt).getTime()).toBe(30 * 86_400_000);
    // A second request while the first is open is the first.
    expect((await api.privacy.request({ type: 'export' })).id).toBe(created.id);

    let request = created;
    await eventually(async () => (request = await api.privacy.get(created.id)).status === 'completed', { what: 'export ready', timeoutMs: 60_000 });
    expect(request.downloadUrl).toBeDefined();
    const archive = await downloadArchive(request.downloadUrl!);
    const manifest = JSON.parse(archive.get('manifest.json')!.toString('utf8')) as { formatVersion: number };
    expect(manifest.formatVersion).toBe(1);
    for (const service of ['identity', 'media', 'generation', 'chat', 'billing', 'retention']) {
      expect(archive.has(`services/${service}.json`), service).toBe(true);
    }
    const everything = [...archive.values()].map((bytes) => bytes.toString('latin1')).join('\n');
    expect(everything).toContain(person.email);
    expect(everything).toContain(person.uploadId);
    for (const contentId of person.contentIds) expect(everything).toContain(contentId);
    expect(everything).toContain('help me rhyme sea with something');
    // Files: the upload's stored bytes and each content's file.
    const files = [...archive.keys()].filter((name) => name.startsWith('files/'));
    expect(files.some((name) => name.startsWith('files/media/'))).toBe(true);
    expect(files.filter((name) => name.startsWith('files/generation/')).length).toBeGreaterThanOrEqual(2);
    expect(files.map((name) => archive.get(name)!.toString('latin1')).join('')).toContain('notes of exporter for the export');
    // Nothing of the other user.
    for (const mark of [other.userId, other.email, other.username, other.uploadId, ...other.contentIds]) expect(everything).not.toContain(mark);

    // The stored archive is ciphertext: the object holds no plaintext of the user.
    const stored = await objectsUnder(system, `retention/${person.userId}/`);
    expect(stored.length).toBe(1);
    // Without the token (or with a wrong one) there is no archive.
    const link = new URL(request.downloadUrl!);
    expect((await fetch(`${link.origin}${link.pathname}?token=wrong`)).status).toBe(404);
    expect((await fetch(`${link.origin}${link.pathname}`)).status).toBe(400);
  });
});

describe('account erasure (R1.5, R7.4, §10)', () => {
  it('leaves no row mentioning the user in any schema, no object under their prefixes, transactions unlinked, and a signed receipt that verifies', async () => {
    const person = await userWithDataEverywhere('erased');
    const { erasureId } = await system.api({ token: person.token }).accounts.deleteMe(PASSWORD);
    // Disabled at once: the old token and the password no longer work.
    expect((await system.api({ token: person.token }).raw({ method: 'GET', path: '/v1/me', auth: 'user' })).status).toBe(401);
    const erasure = await completedErasure(system, erasureId);
    expect(erasure.receipts.map((receipt) => receipt.service).sort()).toEqual([...erasure.expectedServices].sort());
    expect([...erasure.expectedServices].sort()).toEqual(['billing', 'chat', 'generation', 'identity', 'media', 'retention']);
    for (const receipt of erasure.receipts) {
      expect(JSON.stringify(receipt)).not.toContain(person.email);
      expect(JSON.stringify(receipt)).not.toContain(person.userId);
    }

    // Every table of every schema, except the tombstones (an opaque id, kept by design to refuse late writes).
    for (const needle of [person.userId, person.email, person.username]) {
      expect(await tablesMentioning(system, needle, { except: ['tombstones'] }), needle).toEqual([]);
    }
    const tombstoned = await system.sql<{ schema: string }>(
      "SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'tombstones' AND table_schema NOT IN ('public')",
    );
    for (const { schema } of tombstoned) {
      const [row] = await system.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".tombstones WHERE user_id = $1`, [person.userId]);
      expect(row?.n, `${schema} tombstone`).toBe(1);
    }
    for (const prefix of [`media/${person.userId}/`, `generation/${person.userId}/`, `retention/${person.userId}/`]) {
      expect(await objectsUnder(system, prefix), prefix).toEqual([]);
    }
    // Transaction records stay (§5.7, §10.2), without the person.
    const [orders] = await system.sql<{ n: number }>("SELECT count(*)::int AS n FROM billing.orders WHERE user_id IS NULL AND status = 'paid'");
    expect(orders?.n).toBeGreaterThan(0);

    // The receipt: signed, verifiable with the served key, and not when altered.
    const keys = await system.api().privacy.receiptKeys();
    expect(erasure.jws).toBeDefined();
    const checked = verifyReceipt(erasure.jws!, keys);
    expect(checked.valid).toBe(true);
    expect(checked.payload).toEqual(Object.fromEntries(Object.entries(erasure).filter(([field]) => field !== 'jws')));
    const [header, payload, signature] = erasure.jws!.split('.') as [string, string, string];
    const altered = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { receipts: Array<{ counts: Record<string, number> }> };
    const firstCounts = altered.receipts[0]!.counts;
    const firstKey = Object.keys(firstCounts)[0]!;
    firstCounts[firstKey] = (firstCounts[firstKey] ?? 0) + 1;
    expect(verifyReceipt(`${header}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${signature}`, keys).valid).toBe(false);

    // A duplicate UserDeleted changes nothing: the same receipt, no second purge receipt per service.
    const receiptsBefore = (await system.events(PurgeCompletedV1)).filter((event) => event.erasureId === erasureId).length;
    await system.publish(UserDeletedV1, { userId: person.userId, erasureId, reason: 'user_request', deletedAt: new Date().toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const again = await system.api().privacy.erasure(erasureId);
    expect(again.jws).toBe(erasure.jws);
    expect(again.receipts).toEqual(erasure.receipts);
    const receiptsAfter = (await system.events(PurgeCompletedV1)).filter((event) => event.erasureId === erasureId).length;
    expect(receiptsAfter).toBeGreaterThanOrEqual(receiptsBefore);
  });

  it('a service stopped during the erasure purges when it starts again, and the receipt completes', async () => {
    const person = await userWithDataEverywhere('interrupted');
    const chat = system.supervisor.status().find((instance) => instance.service === 'chat')!;
    process.kill(chat.pid!, 'SIGKILL');
    const { erasureId } = await system.api({ token: person.token }).accounts.deleteMe(PASSWORD);
    const erasure = await completedErasure(system, erasureId, 60_000);
    expect(erasure.receipts.some((receipt) => receipt.service === 'chat')).toBe(true);
    const [left] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM chat.messages WHERE user_id = $1', [person.userId]);
    expect(left?.n).toBe(0);
  });

  it('an operator erases an account at once (§13.2) and can block one; neither is open to a user', async () => {
    const minor = await register(system, 'minor');
    const bystander = await register(system, 'bystander');
    const asUser = system.api({ token: bystander.token });
    expect((await asUser.raw({ method: 'POST', path: '/v1/admin/users/:id/erase', auth: 'operator' }, { params: { id: minor.userId }, body: { reason: 'x' } })).status).toBe(403);
    const asOps = system.api({ token: ops.token });
    const { erasureId } = await asOps.operators.erase(minor.userId, 'user is under 18 (§13.2)');
    expect((await system.api({ token: minor.token }).raw({ method: 'GET', path: '/v1/me', auth: 'user' })).status).toBe(401);
    await completedErasure(system, erasureId);
    const listed = await asOps.operators.erasures();
    expect(listed.items.some((item) => item.id === erasureId && item.status === 'completed')).toBe(true);

    await asOps.operators.block(bystander.userId, 'abuse report');
    const refused = await system.api().raw({ method: 'POST', path: '/v1/auth/login', auth: 'public' }, { body: { login: bystander.email, password: PASSWORD } });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('account_blocked');
  });
});

describe('legal hold on an erasure (§12.2)', () => {
  it('disables the account at once, purges nothing while held, and completes the erasure on release', async () => {
    const person = await userWithDataEverywhere('held');
    const asOps = system.api({ token: ops.token });
    const { id: holdId } = await asOps.operators.placeHold(person.userId, 'police request 2026-117');
    const { erasureId } = await system.api({ token: person.token }).accounts.deleteMe(PASSWORD);
    expect((await system.api({ token: person.token }).raw({ method: 'GET', path: '/v1/me', auth: 'user' })).status).toBe(401);
    await eventually(async () => (await asOps.operators.erasures()).items.find((item) => item.id === erasureId)?.status === 'held', { what: 'erasure held' });
    // The subject of a hold is not told of it: the public view says in progress.
    expect((await system.api().privacy.erasure(erasureId)).status).toBe('in_progress');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const [kept] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM generation.contents WHERE user_id = $1', [person.userId]);
    expect(kept?.n).toBe(2);
    expect((await system.sql('SELECT 1 FROM identity.users WHERE id = $1', [person.userId])).length).toBe(1);

    await asOps.operators.releaseHold(holdId);
    await completedErasure(system, erasureId);
    const [gone] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM generation.contents WHERE user_id = $1', [person.userId]);
    expect(gone?.n).toBe(0);
    const holds = await asOps.operators.holds(person.userId);
    expect(holds.items[0]?.releasedAt).toBeDefined();
    // The operator's free text goes with the erasure; source, who and when stay.
    expect(holds.items[0]?.reason).toBe('redacted at erasure');
  });
});

describe('privacy requests (§9, R7.2, R7.3)', () => {
  it('an erasure request waits for the password and then takes the account-deletion path', async () => {
    const person = await register(system, 'requester');
    const api = system.api({ token: person.token });
    const asked = await api.privacy.request({ type: 'erasure' });
    expect(asked.status).toBe('awaiting_verification');
    // A duplicate is the same request, still unverified: no second way around the password.
    const again = await api.privacy.request({ type: 'erasure' });
    expect(again.id).toBe(asked.id);
    expect(again.status).toBe('awaiting_verification');
    expect((await api.raw({ method: 'POST', path: '/v1/privacy/requests/:id/verify', auth: 'user' }, { params: { id: asked.id }, body: { password: 'not the password at all' } })).status).toBe(401);
    const verified = await api.privacy.verify(asked.id, PASSWORD);
    expect(verified.status).toBe('in_progress');
    expect(verified.erasureId).toBeDefined();
    await completedErasure(system, verified.erasureId!);
  });

  it('a restriction stops generation and chat replies until it is lifted; CCPA requests are due in 45 days', async () => {
    const person = await register(system, 'restricted');
    const api = system.api({ token: person.token });
    const restriction = await api.privacy.request({ type: 'restriction', regime: 'ccpa' });
    expect(restriction.status).toBe('in_force');
    expect(new Date(restriction.dueAt).getTime() - new Date(restriction.createdAt).getTime()).toBe(45 * 86_400_000);
    await eventually(
      async () => (await api.raw({ method: 'POST', path: '/v1/generations', auth: 'user' }, { body: { kind: 'poem', prompt: 'a poem' } })).status === 403,
      { what: 'generation refused while restricted' },
    );
    const refused = await api.raw({ method: 'POST', path: '/v1/assistants/:assistantId/messages', auth: 'user' }, { params: { assistantId: 'poem-helper' }, body: { text: 'hello' } });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('processing_restricted');

    const lifted = await api.privacy.withdraw(restriction.id);
    expect(lifted.status).toBe('lifted');
    expect(lifted.history.map((entry) => entry.status)).toEqual(['in_force', 'lifted']);
    await eventually(
      async () => (await api.raw({ method: 'POST', path: '/v1/generations', auth: 'user' }, { body: { kind: 'poem', prompt: 'a poem' } })).status === 202,
      { what: 'generation allowed again' },
    );
    for (const type of ['consent_withdrawal', 'opt_out_of_sale'] as const) expect((await api.privacy.request({ type })).status).toBe('completed');
    const listed = await api.privacy.requests();
    expect(listed.items.length).toBe(3);
  });
});
