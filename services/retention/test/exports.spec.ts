import { createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { EXPORT_FORMAT_VERSION, exportSliceRoute, RetentionRpc, type ExportSlicePage, type ServiceName } from '@homiwork/contracts';
import { MessagingMetrics, RpcError, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { ObjectStore } from '@homiwork/storage';
import { eventually } from '@homiwork/testing';
import { EXPORT_BUILD_LEASE_MS, EXPORT_LINK_LIFETIME_MS, EXPORT_MAX_ATTEMPTS, retryDelayMs, type ExportManifest, type ServiceDocument } from '../src/exports/domain/archive-format.js';
import { ExportsExpirySweeper } from '../src/exports/exports-expiry.sweeper.js';
import { ExportBuilder } from '../src/exports/usecases/build-export/export-builder.js';
import { ExportsSweeper } from '../src/exports/exports.sweeper.js';
import { startRetentionHarness, type RetentionHarness } from './harness.js';

// Export archives (R7.1) on the real retention service, PostgreSQL, NATS and a local S3.
// The data-owning services are stood in for by responders answering export.slice on NATS
// from per-user fixtures (media's files are real objects behind signed URLs of the same S3);
// the real slices together are the end-to-end suite's.

const { CreatePrivacyRequestRoute, GetPrivacyRequestRoute, OpenExportRoute } = RetentionRpc;
const SLICE_SERVICES = ['identity', 'media', 'generation', 'chat', 'billing'] as const satisfies readonly ServiceName[];

interface Fixture {
  records: Record<string, Array<Record<string, unknown>>>;
  files: Array<{ path: string; data: Buffer; mimeType: string }>;
}

let h: RetentionHarness;
let mediaStore: ObjectStore;
const servers: RpcServer[] = [];
/** Per service and user: what the stand-in holds. */
const fixtures = new Map<string, Fixture>();
/** Per service and user: answer with a failure instead (`fail`), wait first (`slow`), or hold a first page until the test releases it (`gate`; within the RPC timeout). */
const behaviour = new Map<string, 'fail' | 'slow' | 'gate'>();
/** Per service and user: the calls held at a gate, oldest first; call one to let it answer. */
const gates = new Map<string, Array<() => void>>();
const sliceCalls: Array<{ service: string; userId: string; cursor?: string }> = [];

const keyOf = (service: string, userId: string) => `${service}:${userId}`;

beforeAll(async () => {
  h = await startRetentionHarness();
  mediaStore = new ObjectStore(h.s3.config, { service: 'media' });
  const logger = createLogger({ service: 'slice-stand-ins', level: 'silent' });
  const metrics = new MessagingMetrics(new ServiceMetrics('slice-stand-ins'));
  for (const service of SLICE_SERVICES) {
    const server = new RpcServer(h.nc, h.namespace, service, logger, metrics);
    server.serve(exportSliceRoute(service), async (request): Promise<ExportSlicePage> => {
      sliceCalls.push({ service, userId: request.userId, ...(request.cursor ? { cursor: request.cursor } : {}) });
      const mode = behaviour.get(keyOf(service, request.userId));
      if (mode === 'fail') throw new RpcError(503, 'service_unavailable', `${service} is down`);
      if (mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 1_500));
      if (mode === 'gate' && request.cursor === undefined) await new Promise<void>((resolve) => (gates.get(keyOf(service, request.userId)) ?? gates.set(keyOf(service, request.userId), []).get(keyOf(service, request.userId))!).push(resolve));
      const fixture = fixtures.get(keyOf(service, request.userId)) ?? { records: {}, files: [] };
      // Two pages: the first collection's first record alone, then everything else — so joining pages is tested.
      const [firstName, firstRecords = []] = Object.entries(fixture.records)[0] ?? [];
      if (request.cursor === undefined && firstName && firstRecords.length > 1) {
        return { collections: { [firstName]: firstRecords.slice(0, 1) }, files: [], nextCursor: 'page-2' };
      }
      const rest = Object.fromEntries(Object.entries(fixture.records).map(([name, records]) => [name, name === firstName && request.cursor !== undefined ? records.slice(1) : records]));
      const files = await Promise.all(
        fixture.files.map(async (file) => ({ path: file.path, url: await mediaStore.signedGetUrl(mediaStore.keyFor(request.userId, file.path), 300), mimeType: file.mimeType, bytes: file.data.length })),
      );
      return { collections: rest, files, nextCursor: null };
    });
    servers.push(server);
  }
});
afterAll(async () => {
  for (const server of servers) await server.stop();
  await h?.stop();
});

/** A user with data in every stand-in: marked with `tag` everywhere, so another user's data is recognisable in an archive. */
async function userWithData(): Promise<{ userId: string; tag: string; files: Fixture['files'] }> {
  const userId = randomUUID();
  const tag = `tag-${randomBytes(6).toString('hex')}`;
  const files = [
    { path: `uploads/${randomUUID()}.png`, data: randomBytes(70_000), mimeType: 'image/png' },
    { path: `uploads/${randomUUID()}.txt`, data: Buffer.from(`notes of ${tag}\n`), mimeType: 'text/plain' },
  ];
  for (const file of files) await mediaStore.put(userId, file.path, file.data, { contentType: file.mimeType });
  fixtures.set(keyOf('identity', userId), { records: { account: [{ id: userId, username: `user_${tag}` }] }, files: [] });
  fixtures.set(keyOf('media', userId), { records: { uploads: files.map((file, index) => ({ id: file.path, note: `${tag}-${index}` })) }, files });
  fixtures.set(keyOf('generation', userId), { records: { contents: [{ id: randomUUID(), prompt: `poem ${tag}` }, { id: randomUUID(), prompt: `song ${tag}` }] }, files: [] });
  fixtures.set(keyOf('chat', userId), { records: { messages: [{ text: `hello ${tag}` }] }, files: [] });
  fixtures.set(keyOf('billing', userId), { records: { orders: [{ amount: 5, note: tag }] }, files: [] });
  return { userId, tag, files };
}

async function requestExport(userId: string, type: 'export' | 'access' = 'export') {
  return h.call(CreatePrivacyRequestRoute, { type, regime: 'gdpr' }, { userId });
}

async function completed(userId: string, id: string) {
  let view: RetentionRpc.PrivacyRequestView | undefined;
  await eventually(
    async () => {
      view = await h.call(GetPrivacyRequestRoute, { id }, { userId });
      return view.status === 'completed';
    },
    { timeoutMs: 20_000, what: 'the export to complete' },
  );
  return view!;
}

function linkParts(downloadUrl: string): { exportId: string; token: string } {
  const url = new URL(downloadUrl);
  const match = /^\/v1\/privacy\/exports\/([0-9a-f-]{36})$/.exec(url.pathname);
  if (!match) throw new Error('unexpected download URL');
  return { exportId: match[1]!, token: url.searchParams.get('token')! };
}

/** What the gateway does: the object through its presigned URL, decrypted with the key retention hands over (the tag checked at the end), untarred. */
async function download(exportId: string, token: string): Promise<{ entries: Map<string, Buffer>; raw: Buffer; fileName: string }> {
  const opened = await h.call(OpenExportRoute, { exportId, token });
  const response = await fetch(opened.url);
  expect(response.ok).toBe(true);
  const ciphertext = Buffer.from(await response.arrayBuffer());
  expect(ciphertext.length).toBe(opened.bytes);
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(opened.key, 'base64'), Buffer.from(opened.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(opened.tag, 'base64'));
  const raw = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from([raw]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    entries.set(entry.header.name, Buffer.concat(chunks));
  }
  return { entries, raw, fileName: opened.fileName };
}

describe('an export archive', () => {
  it('decrypts, holds every service’s document (pages joined) and files, retention’s own slice, and nothing of another user; stored encrypted under the user’s prefix', async () => {
    const me = await userWithData();
    const other = await userWithData();
    await h.call(CreatePrivacyRequestRoute, { type: 'consent_withdrawal', regime: 'gdpr' }, { userId: me.userId });
    await h.call(CreatePrivacyRequestRoute, { type: 'restriction', regime: 'gdpr' }, { userId: other.userId });
    behaviour.set(keyOf('identity', me.userId), 'slow');
    const request = await requestExport(me.userId);
    expect(request.status).toBe('in_progress');
    expect(request.downloadUrl).toBeUndefined();
    // A duplicate while it is built answers the same request.
    expect((await requestExport(me.userId)).id).toBe(request.id);
    behaviour.delete(keyOf('identity', me.userId));

    const done = await completed(me.userId, request.id);
    expect(done).toMatchObject({ outcome: 'exported' });
    expect(done.history.map((change) => change.status)).toEqual(['in_progress', 'completed']);
    expect(done.downloadUrl).toMatch(/^http:\/\/127\.0\.0\.1:8080\/v1\/privacy\/exports\/[0-9a-f-]{36}\?token=/);
    expect(new Date(done.downloadExpiresAt!).getTime() - new Date(done.completedAt!).getTime()).toBe(EXPORT_LINK_LIFETIME_MS);
    // The same link on every read while it lives.
    expect((await h.call(GetPrivacyRequestRoute, { id: request.id }, { userId: me.userId })).downloadUrl).toBe(done.downloadUrl);

    const { exportId, token } = linkParts(done.downloadUrl!);
    const { entries, raw, fileName } = await download(exportId, token);
    expect(fileName).toMatch(/^homiwork-export-\d{4}-\d{2}-\d{2}\.tar$/);

    const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8')) as ExportManifest;
    expect(manifest).toMatchObject({ formatVersion: EXPORT_FORMAT_VERSION, exportId, userId: me.userId });
    // The manifest's services (ERASURE_SERVICES, in its order), retention's own last.
    expect(manifest.services.map((service) => service.service)).toEqual([...h.config.ERASURE_SERVICES.filter((service) => service !== 'retention'), 'retention']);
    expect([...SLICE_SERVICES].sort()).toEqual(h.config.ERASURE_SERVICES.filter((service) => service !== 'retention').sort());
    expect(manifest.files).toEqual(me.files.map((file) => ({ path: `files/media/${file.path}`, service: 'media', mimeType: file.mimeType, bytes: file.data.length })));
    expect([...entries.keys()][0]).toBe('manifest.json');

    for (const service of SLICE_SERVICES) {
      const document = JSON.parse(entries.get(`services/${service}.json`)!.toString('utf8'));
      expect(document).toEqual({ service, formatVersion: EXPORT_FORMAT_VERSION, collections: fixtures.get(keyOf(service, me.userId))!.records });
    }
    for (const file of me.files) expect(entries.get(`files/media/${file.path}`)!.equals(file.data)).toBe(true);
    const own = JSON.parse(entries.get('services/retention.json')!.toString('utf8')) as ServiceDocument;
    expect(own.collections.privacy_requests!.map((item) => item.type as string).sort()).toEqual(['consent_withdrawal', 'export']);
    expect(own.collections.privacy_requests!.find((item) => item.type === 'consent_withdrawal')).toMatchObject({ status: 'completed', outcome: 'recorded' });

    // Nothing of the other user anywhere in the archive.
    expect(raw.includes(other.tag)).toBe(false);
    expect(raw.includes(other.userId)).toBe(false);
    for (const file of other.files) expect(raw.includes(file.data.subarray(0, 64))).toBe(false);
    // The stored object is ciphertext, under retention/<userId>/exports/<exportId>.
    const rows = await h.sql<{ object_key: string; token_hash: Buffer }>('SELECT object_key, token_hash FROM exports WHERE id = $1', [exportId]);
    expect(rows[0]!.object_key).toBe(`retention/${me.userId}/exports/${exportId}/1`);
    expect(rows[0]!.token_hash.includes(Buffer.from(token))).toBe(false);
    const stored = await new ObjectStore(h.s3.config, { service: 'retention' }).get(rows[0]!.object_key);
    const storedBytes = Buffer.concat(await stored.toArray());
    expect(storedBytes.includes(Buffer.from('manifest.json'))).toBe(false);
    expect(storedBytes.includes(Buffer.from(me.tag))).toBe(false);

    // A wrong token says nothing of the export: 404.
    await expect(h.call(OpenExportRoute, { exportId, token: `${token.slice(0, -2)}xx` })).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(h.call(OpenExportRoute, { exportId: randomUUID(), token })).rejects.toMatchObject({ status: 404 });
    // The user's data key destroyed (their erasure): link and archive unreadable.
    await h.sql('DELETE FROM user_data_keys WHERE user_id = $1', [me.userId]);
    expect((await h.call(GetPrivacyRequestRoute, { id: request.id }, { userId: me.userId })).downloadUrl).toBeUndefined();
    await expect(h.call(OpenExportRoute, { exportId, token })).rejects.toMatchObject({ status: 410, code: 'link_expired' });
  });

  it('the link expires after RETENTION_SCHEDULE.exports (410), and the sweeper deletes the archive; the request stays completed', async () => {
    const me = await userWithData();
    const request = await requestExport(me.userId, 'access');
    const done = await completed(me.userId, request.id);
    const { exportId, token } = linkParts(done.downloadUrl!);
    const [row] = await h.sql<{ object_key: string }>('SELECT object_key FROM exports WHERE id = $1', [exportId]);
    const store = new ObjectStore(h.s3.config, { service: 'retention' });

    h.advanceClock(EXPORT_LINK_LIFETIME_MS - 60_000);
    await h.get(ExportsSweeper).sweep();
    await expect(h.call(OpenExportRoute, { exportId, token })).resolves.toMatchObject({ bytes: expect.any(Number) });
    expect(await store.stat(row!.object_key)).not.toBeNull();

    h.advanceClock(60_000);
    await expect(h.call(OpenExportRoute, { exportId, token })).rejects.toMatchObject({ status: 410, code: 'link_expired' });
    expect((await h.call(GetPrivacyRequestRoute, { id: request.id }, { userId: me.userId })).downloadUrl).toBeUndefined();

    await h.get(ExportsSweeper).sweep();
    expect(await store.stat(row!.object_key)).toBeNull();
    expect(await h.sql('SELECT 1 FROM exports WHERE id = $1', [exportId])).toHaveLength(0);
    await expect(h.call(OpenExportRoute, { exportId, token })).rejects.toMatchObject({ status: 410, code: 'link_expired' });
    await expect(h.call(GetPrivacyRequestRoute, { id: request.id }, { userId: me.userId })).resolves.toMatchObject({ status: 'completed', outcome: 'exported' });
  });
});

describe('a build survives failing services and restarts', () => {
  it('a service failing: the request stays in progress and the build is retried after its back-off; it completes once the service answers', async () => {
    const me = await userWithData();
    behaviour.set(keyOf('billing', me.userId), 'fail');
    const request = await requestExport(me.userId);
    await eventually(async () => (await h.sql<{ attempts: number; next_attempt_at: Date | null }>('SELECT attempts FROM exports WHERE request_id = $1', [request.id]))[0]?.attempts === 1);
    await eventually(async () => {
      const [row] = await h.sql<{ next_attempt_at: Date }>('SELECT next_attempt_at FROM exports WHERE request_id = $1', [request.id]);
      return Math.abs(row!.next_attempt_at.getTime() - h.now().getTime() - retryDelayMs(1)) < 5_000;
    });
    expect((await h.call(GetPrivacyRequestRoute, { id: request.id }, { userId: me.userId })).status).toBe('in_progress');

    // Before the back-off is over, a sweep leaves it alone.
    await h.get(ExportsSweeper).sweep();
    expect((await h.sql<{ attempts: number }>('SELECT attempts FROM exports WHERE request_id = $1', [request.id]))[0]!.attempts).toBe(1);

    behaviour.delete(keyOf('billing', me.userId));
    h.advanceClock(retryDelayMs(1));
    await h.get(ExportsSweeper).sweep();
    const done = await completed(me.userId, request.id);
    expect(done.downloadUrl).toBeDefined();
  });

  it(`a service failing for good: given up after ${EXPORT_MAX_ATTEMPTS} attempts — rejected, outcome failed, nothing left; a new request may be made`, async () => {
    const me = await userWithData();
    behaviour.set(keyOf('chat', me.userId), 'fail');
    const request = await requestExport(me.userId);
    // The first attempt (started with the request) has failed and been postponed by its back-off, not just leased.
    await eventually(async () => {
      const [row] = await h.sql<{ attempts: number; next_attempt_at: Date }>('SELECT attempts, next_attempt_at FROM exports WHERE request_id = $1', [request.id]);
      return row?.attempts === 1 && row.next_attempt_at.getTime() - h.now().getTime() <= retryDelayMs(1);
    });
    // The sweeps run the later attempts to the end before they return.
    for (let attempt = 1; attempt < EXPORT_MAX_ATTEMPTS; attempt++) {
      h.advanceClock(retryDelayMs(attempt));
      await h.get(ExportsSweeper).sweep();
      if (attempt + 1 < EXPORT_MAX_ATTEMPTS) expect((await h.sql<{ attempts: number }>('SELECT attempts FROM exports WHERE request_id = $1', [request.id]))[0]!.attempts).toBe(attempt + 1);
    }
    const view = await h.call(GetPrivacyRequestRoute, { id: request.id }, { userId: me.userId });
    expect(view).toMatchObject({ status: 'rejected', outcome: 'failed' });
    expect(view.history.map((change) => change.status)).toEqual(['in_progress', 'rejected']);
    expect(await h.sql('SELECT 1 FROM exports WHERE request_id = $1', [request.id])).toHaveLength(0);
    expect(await new ObjectStore(h.s3.config, { service: 'retention' }).listOwnerKeys(me.userId)).toEqual([]);
    behaviour.delete(keyOf('chat', me.userId));
    expect((await requestExport(me.userId)).id).not.toBe(request.id);
  });

  it('retention stopped mid-build: another instance picks the build up once its lease is over', async () => {
    const me = await userWithData();
    behaviour.set(keyOf('generation', me.userId), 'slow');
    const request = await requestExport(me.userId);
    await eventually(() => sliceCalls.some((call) => call.service === 'generation' && call.userId === me.userId));
    await h.running()[0]!.stop();
    behaviour.delete(keyOf('generation', me.userId));
    await h.startInstance();
    expect((await h.sql<{ ready_at: Date | null }>('SELECT ready_at FROM exports WHERE request_id = $1', [request.id]))[0]!.ready_at).toBeNull();

    h.advanceClock(16 * 60_000);
    await h.get(ExportsSweeper).sweep();
    const done = await completed(me.userId, request.id);
    const { exportId, token } = linkParts(done.downloadUrl!);
    const { entries } = await download(exportId, token);
    expect(JSON.parse(entries.get('services/generation.json')!.toString('utf8')).collections).toEqual(fixtures.get(keyOf('generation', me.userId))!.records);
  });
});

/** How many build attempts ended with `outcome` (retention_export_builds_total), over every running instance. */
async function builds(outcome: string): Promise<number> {
  let total = 0;
  for (const instance of h.running()) {
    const text = await instance.service.app.get(ServiceMetrics).metricsText();
    total += Number(new RegExp(`retention_export_builds_total\\{outcome="${outcome}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
  }
  return total;
}

async function exportIdOf(requestId: string): Promise<string> {
  const [row] = await h.sql<{ id: string }>('SELECT id FROM exports WHERE request_id = $1', [requestId]);
  return row!.id;
}

describe('a build that outlives its lease', () => {
  it('and the attempt that took it over write different objects; the loser removes only its own, and the ready archive stays whole', async () => {
    const me = await userWithData();
    const gate = keyOf('generation', me.userId);
    behaviour.set(gate, 'gate');
    const request = await requestExport(me.userId);
    const exportId = await exportIdOf(request.id);
    // Attempt 1 (started with the request) is held inside its build, past its lease.
    await eventually(() => gates.get(gate)?.length === 1);
    h.advanceClock(EXPORT_BUILD_LEASE_MS + 60_000);
    const second = h.get(ExportBuilder).buildNext(exportId);
    await eventually(() => gates.get(gate)?.length === 2);
    const superseded = await builds('superseded');

    // Attempt 2 finishes first and is the archive; then attempt 1 finishes and loses.
    gates.get(gate)![1]!();
    expect(await second).toBe('ready');
    gates.get(gate)![0]!();
    await eventually(async () => (await builds('superseded')) === superseded + 1, { what: 'attempt 1 to end superseded' });
    behaviour.delete(gate);
    gates.delete(gate);

    const done = await completed(me.userId, request.id);
    const link = linkParts(done.downloadUrl!);
    expect(link.exportId).toBe(exportId);
    const { entries } = await download(link.exportId, link.token);
    expect(JSON.parse(entries.get('services/generation.json')!.toString('utf8')).collections).toEqual(fixtures.get(gate)!.records);
    const [row] = await h.sql<{ object_key: string; attempts: number }>('SELECT object_key, attempts FROM exports WHERE id = $1', [exportId]);
    expect(row).toEqual({ object_key: `retention/${me.userId}/exports/${exportId}/2`, attempts: 2 });
    expect(await new ObjectStore(h.s3.config, { service: 'retention' }).listOwnerKeys(me.userId)).toEqual([row!.object_key]);
  });
});

describe('one archive per user at a time', () => {
  it('a new access/export request while the archive lives answers the completed one with its live link; once it has expired, a new one is built', async () => {
    const me = await userWithData();
    const first = await requestExport(me.userId);
    const done = await completed(me.userId, first.id);
    const callsBefore = sliceCalls.filter((call) => call.userId === me.userId).length;

    const again = await requestExport(me.userId);
    expect(again).toEqual(done);
    const access = await requestExport(me.userId, 'access');
    expect(access).toMatchObject({ id: first.id, status: 'completed', downloadUrl: done.downloadUrl });
    expect(await h.sql('SELECT 1 FROM privacy_requests WHERE user_id = $1', [me.userId])).toHaveLength(1);
    expect(await h.sql('SELECT 1 FROM exports WHERE user_id = $1', [me.userId])).toHaveLength(1);
    expect(sliceCalls.filter((call) => call.userId === me.userId)).toHaveLength(callsBefore);

    h.advanceClock(EXPORT_LINK_LIFETIME_MS);
    await h.get(ExportsSweeper).sweep();
    const fresh = await requestExport(me.userId);
    expect(fresh.id).not.toBe(first.id);
    expect(fresh.status).toBe('in_progress');
    await completed(me.userId, fresh.id);
  });

  it('expired archives are deleted while builds are stuck: expiry never waits on them', async () => {
    const ready = await userWithData();
    const readyRequest = await requestExport(ready.userId);
    await completed(ready.userId, readyRequest.id);
    const [archive] = await h.sql<{ object_key: string }>('SELECT object_key FROM exports WHERE request_id = $1', [readyRequest.id]);
    const store = new ObjectStore(h.s3.config, { service: 'retention' });

    // Another user's build hangs (held at a gate), and is due again in the sweep below.
    const stuck = await userWithData();
    const gate = keyOf('chat', stuck.userId);
    behaviour.set(gate, 'gate');
    await requestExport(stuck.userId);
    await eventually(() => gates.get(gate)?.length === 1);
    h.advanceClock(EXPORT_LINK_LIFETIME_MS);

    const sweeping = h.get(ExportsSweeper).sweep();
    await eventually(() => gates.get(gate)?.length === 2, { what: 'the sweep’s build to hang' });
    await eventually(async () => (await store.stat(archive!.object_key)) === null, { what: 'the expired archive to be deleted while the build hangs' });
    expect(await h.sql('SELECT 1 FROM exports WHERE request_id = $1', [readyRequest.id])).toHaveLength(0);
    // The expiry's own timer runs apart from the builds' sweep.
    await expect(h.get(ExportsExpirySweeper).sweep()).resolves.toBe(0);

    for (const release of gates.get(gate)!) release();
    behaviour.delete(gate);
    gates.delete(gate);
    await sweeping;
  });
});
