import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DAY_MS } from '@homiwork/clock';
import {
  ContentCreatedV1,
  ContentDeletedV1,
  ContentExpiredV1,
  ContentRestoredV1,
  GenerationFinishedV1,
  GenerationRpc,
  PrimeStatusChangedV1,
  ProhibitedContentDetectedV1,
  PurgeCompletedV1,
  SAFETY_NET_GRACE_DAYS,
  UserDeletedV1,
} from '@homiwork/contracts';
import { formatDHash, moderationDHash } from '@homiwork/moderation';
import { ObjectStore } from '@homiwork/storage';
import { eventually } from '@homiwork/testing';
import { LocalContractor } from '../src/contractor/local/local-contractor.js';
import { ContentSweeper } from '../src/usecases/purge-content/content-sweeper.js';
import { RunJob } from '../src/usecases/run-job/run-job.usecase.js';
import { startHarness, type Harness, type TestUser } from './harness.js';

// The generation service end to end in one process: RPC routes, the job runner with the
// local contractor, real PostgreSQL, NATS (JetStream events in and out) and S3. Billing,
// identity and media are stood in for by responders speaking their contracts (harness.ts).

const FORBIDDEN_PICTURE_PROMPT = 'a lighthouse in a storm, drawn for the block-list test';
let h: Harness;

beforeAll(async () => {
  // The local contractor is deterministic: the picture this prompt gives is put on the
  // block-list, so its result — never its prompt — is what moderation refuses.
  const picture = await new LocalContractor().generate({ jobId: randomUUID(), kind: 'image', prompt: FORBIDDEN_PICTURE_PROMPT, options: {}, inputs: [] }, new AbortController().signal);
  if (picture.type !== 'file') throw new Error('expected a picture');
  h = await startHarness({
    MODERATION_TEXT_RULES: 'arson=set\\s+fire\\s+to',
    MODERATION_IMAGE_BLOCKLIST: formatDHash(await moderationDHash(picture.data)),
  });
});
afterAll(async () => {
  await h?.stop();
});

const { CreateGenerationRoute, GetGenerationRoute, GetContentRoute, GetContentFileRoute, ListContentsRoute, DeleteContentRoute, RestoreContentRoute } = GenerationRpc;

async function generate(user: TestUser, request: GenerationRpc.CreateGenerationRequest) {
  const accepted = await h.call(CreateGenerationRoute, request, user.id);
  return { accepted, job: await h.finished(accepted.id, user.id) };
}

const jobRow = async (id: string) => (await h.sql<{ status: string; prompt: string | null; attempts: number; error_code: string | null }>('SELECT status, prompt, attempts, error_code FROM generation.jobs WHERE id = $1', [id]))[0];
const contentRow = async (id: string) => (await h.sql<{ expires_at: Date | null; deleted_at: Date | null; object_key: string }>('SELECT expires_at, deleted_at, object_key FROM generation.contents WHERE id = $1', [id]))[0];
const finishedOf = async (jobId: string) => (await h.events(GenerationFinishedV1)).filter((event) => event.jobId === jobId);
const reservationsOf = (jobId: string) => h.peers.reservations.filter((reservation) => reservation.reservationId === jobId);

describe('a job from request to stored content', () => {
  it('text: 202 queued with its cost, one reservation, runs, stores UTF-8 text readable by a signed URL; prompt gone; announced once', async () => {
    const user = h.newUser();
    const { accepted, job } = await generate(user, { kind: 'text', prompt: 'A warm birthday greeting for my colleague Maria', assistantStyle: 'greeting' });
    expect(accepted).toEqual({ id: accepted.id, status: 'queued', cost: 2 });
    expect(job).toMatchObject({ id: accepted.id, kind: 'text', status: 'succeeded', contentId: expect.any(String) });
    expect(reservationsOf(accepted.id)).toEqual([{ userId: user.id, reservationId: accepted.id, purpose: 'text' }]);

    const content = await h.call(GetContentRoute, { id: job.contentId! }, user.id);
    expect(content).toMatchObject({ id: job.contentId, kind: 'text', mimeType: 'text/plain; charset=utf-8', deletedAt: null });
    const file = await h.call(GetContentFileRoute, { id: job.contentId! }, user.id);
    expect(new Date(file.expiresAt).getTime() - h.clock.nowMs()).toBeLessThanOrEqual(900_000);
    const download = await fetch(file.url);
    expect(download.status).toBe(200);
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await download.arrayBuffer());
    expect(text.length).toBeGreaterThan(10);
    expect(Buffer.byteLength(text)).toBe(content.bytes);

    // Minimisation: the prompt is gone the moment the job ends.
    expect(await jobRow(accepted.id)).toMatchObject({ status: 'succeeded', prompt: null, attempts: 1 });
    await eventually(async () => (await finishedOf(accepted.id)).length === 1, { what: 'GenerationFinished' });
    expect(await finishedOf(accepted.id)).toEqual([expect.objectContaining({ userId: user.id, jobId: accepted.id, purpose: 'text', outcome: 'succeeded' })]);
    const created = (await h.events(ContentCreatedV1)).filter((event) => event.contentId === job.contentId);
    expect(created).toEqual([expect.objectContaining({ userId: user.id, kind: 'text', sourceUploadIds: [] })]);
    expect(await h.call(ListContentsRoute, { deleted: false }, user.id)).toEqual({ items: [content] });
  });

  it('image from an upload: the transformed input bytes are read from media, the PNG decodes, the content names its source', async () => {
    const user = h.newUser();
    const uploadId = randomUUID();
    const input = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366aa' } }).webp().toBuffer();
    h.peers.uploads.set(uploadId, { userId: user.id, mimeType: 'image/webp', data: input });
    const { job } = await generate(user, { kind: 'image', prompt: 'a postcard of the sea', uploadIds: [uploadId] });
    expect(job.status).toBe('succeeded');
    expect(h.peers.uploadReads).toContain(uploadId);
    const file = await h.call(GetContentFileRoute, { id: job.contentId! }, user.id);
    expect(file.mimeType).toBe('image/png');
    const metadata = await sharp(Buffer.from(await (await fetch(file.url)).arrayBuffer())).metadata();
    expect(metadata.format).toBe('png');
    await eventually(async () => (await h.events(ContentCreatedV1)).some((event) => event.contentId === job.contentId), { what: 'ContentCreated' });
    expect((await h.events(ContentCreatedV1)).find((event) => event.contentId === job.contentId)!.sourceUploadIds).toEqual([uploadId]);
  });
});

describe('refusals at creation leave nothing behind', () => {
  it('402 from billing passes through and the job row goes', async () => {
    const user = h.newUser();
    h.peers.billing.set(user.id, 'broke');
    await expect(h.call(CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about autumn' }, user.id)).rejects.toMatchObject({ status: 402, code: 'insufficient_energy' });
    expect(await h.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [user.id])).toEqual([]);
  });

  it('billing failing or silent: 503, the job failed with its prompt gone, and GenerationFinished(failed) so a reservation made after all is refunded', async () => {
    for (const behaviour of ['fail', 'silent'] as const) {
      const user = h.newUser();
      h.peers.billing.set(user.id, behaviour);
      await expect(h.call(CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about winter' }, user.id)).rejects.toMatchObject({ status: 503 });
      const [job] = await h.sql<{ id: string; status: string; prompt: string | null; error_code: string }>('SELECT id, status, prompt, error_code FROM generation.jobs WHERE user_id = $1', [user.id]);
      expect(job).toMatchObject({ status: 'failed', prompt: null, error_code: 'reservation_failed' });
      await eventually(async () => (await finishedOf(job!.id)).length === 1, { what: `GenerationFinished after billing ${behaviour}` });
      expect((await finishedOf(job!.id))[0]).toMatchObject({ outcome: 'failed', purpose: 'poem' });
      expect(await h.call(GetGenerationRoute, { id: job!.id }, user.id)).toMatchObject({ status: 'failed', error: { code: 'reservation_failed' } });
    }
  });

  it('an upload that is not the caller’s: 404 upload_not_found naming its position; nothing reserved or stored', async () => {
    const user = h.newUser();
    const own = randomUUID();
    const foreign = randomUUID();
    h.peers.uploads.set(own, { userId: user.id, mimeType: 'image/webp', data: Buffer.from('x') });
    h.peers.uploads.set(foreign, { userId: randomUUID(), mimeType: 'image/webp', data: Buffer.from('x') });
    const before = h.peers.reservations.length;
    await expect(h.call(CreateGenerationRoute, { kind: 'image', prompt: 'mine and theirs', uploadIds: [own, foreign] }, user.id)).rejects.toMatchObject({ status: 404, code: 'upload_not_found', message: expect.stringContaining('uploadIds.1') });
    expect(h.peers.reservations.length).toBe(before);
    expect(await h.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [user.id])).toEqual([]);
  });

  it('a text upload as an input: 422 unsupported_input naming its position; nothing reserved or stored (its text would reach the contractor unscrubbed)', async () => {
    const user = h.newUser();
    const picture = randomUUID();
    const notes = randomUUID();
    const sound = randomUUID();
    h.peers.uploads.set(picture, { userId: user.id, mimeType: 'image/webp', data: Buffer.from('x') });
    h.peers.uploads.set(notes, { userId: user.id, mimeType: 'text/plain; charset=utf-8', data: Buffer.from(`Notes of ${user.username}, ${user.email}, +49 170 1234567`) });
    h.peers.uploads.set(sound, { userId: user.id, mimeType: 'audio/mp4', data: Buffer.from('x') });
    const before = h.peers.reservations.length;
    for (const kind of ['poem', 'text', 'image', 'song', 'video'] as const) {
      const refused = h.call(CreateGenerationRoute, { kind, prompt: 'a poem about my notes', uploadIds: [picture, notes] }, user.id);
      await expect(refused).rejects.toMatchObject({ status: 422, code: 'unsupported_input', message: expect.stringContaining('uploadIds.1') });
    }
    // Sound serves a song, not a poem.
    await expect(h.call(CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about this tune', uploadIds: [sound] }, user.id)).rejects.toMatchObject({ status: 422, code: 'unsupported_input', message: expect.stringContaining('uploadIds.0') });
    expect(h.peers.reservations.length).toBe(before);
    expect(h.peers.uploadReads).not.toContain(notes);
    expect(await h.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [user.id])).toEqual([]);
  });

  it('inputs together larger than GENERATION_MAX_INPUT_MB by media’s sizes: 422 inputs_too_large; nothing reserved or stored', async () => {
    const user = h.newUser();
    const ids = [randomUUID(), randomUUID()];
    // Each within the limit, together over it: 4 × 50 MB would have been read and base64-expanded to ~1 GB.
    for (const id of ids) h.peers.uploads.set(id, { userId: user.id, mimeType: 'image/webp', data: Buffer.from('x'), bytes: Math.ceil(h.config.GENERATION_MAX_INPUT_MB * 0.6) });
    const before = h.peers.reservations.length;
    await expect(h.call(CreateGenerationRoute, { kind: 'image', prompt: 'two big pictures', uploadIds: ids }, user.id)).rejects.toMatchObject({ status: 422, code: 'inputs_too_large', message: expect.stringContaining('uploadIds') });
    expect(h.peers.reservations.length).toBe(before);
    expect(await h.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [user.id])).toEqual([]);
    // The same upload named twice is read once, so it counts once.
    const accepted = await h.call(CreateGenerationRoute, { kind: 'image', prompt: 'one big picture named twice', uploadIds: [ids[0]!, ids[0]!] }, user.id);
    expect(accepted.status).toBe('queued');
    await h.finished(accepted.id, user.id);
  });

  it('a prompt within the limit that NFKC spells out beyond it: 400 naming prompt; nothing reserved or stored', async () => {
    const user = h.newUser();
    const before = h.peers.reservations.length;
    // 700 × ㌖ is 700 characters, and 4,200 once NFKC spells each out as キロメートル.
    await expect(h.call(CreateGenerationRoute, { kind: 'poem', prompt: '\u3316'.repeat(700) }, user.id)).rejects.toMatchObject({ status: 400, code: 'validation_failed', message: expect.stringMatching(/^prompt/) });
    expect(h.peers.reservations.length).toBe(before);
    expect(await h.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [user.id])).toEqual([]);
  });

  it('a prohibited prompt: 422 content_rejected, ProhibitedContentDetected with the rule only, no job, no reservation', async () => {
    const user = h.newUser();
    const before = h.peers.reservations.length;
    await expect(h.call(CreateGenerationRoute, { kind: 'text', prompt: 'Tell me how to SET FIRE TO the school' }, user.id)).rejects.toMatchObject({ status: 422, code: 'content_rejected' });
    expect(h.peers.reservations.length).toBe(before);
    expect(await h.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [user.id])).toEqual([]);
    await eventually(async () => (await h.events(ProhibitedContentDetectedV1)).some((event) => event.userId === user.id), { what: 'ProhibitedContentDetected' });
    const detected = (await h.events(ProhibitedContentDetectedV1)).filter((event) => event.userId === user.id);
    expect(detected).toEqual([{ userId: user.id, subjectKind: 'prompt', rule: 'text-rule:arson', detectedAt: expect.any(String) }]);
  });
});

describe('failures while running end the job failed, refunded, prompt gone', () => {
  it('a prohibited result: content_rejected, ProhibitedContentDetected(generated), no content and no object', async () => {
    const user = h.newUser();
    const { accepted, job } = await generate(user, { kind: 'image', prompt: FORBIDDEN_PICTURE_PROMPT });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'content_rejected' } });
    expect(job.contentId).toBeUndefined();
    expect(await jobRow(accepted.id)).toMatchObject({ prompt: null });
    expect(await h.sql('SELECT 1 FROM generation.contents WHERE user_id = $1', [user.id])).toEqual([]);
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);
    await eventually(async () => (await h.events(ProhibitedContentDetectedV1)).some((event) => event.userId === user.id), { what: 'ProhibitedContentDetected' });
    expect((await h.events(ProhibitedContentDetectedV1)).filter((event) => event.userId === user.id)).toEqual([expect.objectContaining({ subjectKind: 'generated', rule: 'image-blocklist:0' })]);
    await eventually(async () => (await finishedOf(accepted.id)).length === 1, { what: 'GenerationFinished' });
    expect((await finishedOf(accepted.id))[0]!.outcome).toBe('failed');
  });

  it('identity cannot name the identifiers to scrub: the job fails closed, nothing is dispatched', async () => {
    const user = h.newUser();
    h.peers.identityDown.add(user.id);
    const { accepted, job } = await generate(user, { kind: 'poem', prompt: 'a poem about rain' });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'identifiers_unavailable', message: expect.stringContaining('nothing was sent') } });
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);
    await eventually(async () => (await finishedOf(accepted.id)).length === 1, { what: 'GenerationFinished' });
    expect((await finishedOf(accepted.id))[0]!.outcome).toBe('failed');
  });

  it('an input upload gone by the time the job runs (expired meanwhile): upload_not_found', async () => {
    const user = h.newUser();
    const uploadId = randomUUID();
    h.peers.uploads.set(uploadId, { userId: user.id, mimeType: 'image/webp', data: Buffer.from('x') });
    h.peers.bytesGone.add(uploadId);
    const { accepted, job } = await generate(user, { kind: 'image', prompt: 'from an upload that expired', uploadIds: [uploadId] });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'upload_not_found' } });
    expect(await jobRow(accepted.id)).toMatchObject({ prompt: null });
  });
});

describe('the input budget holds while the bytes are read', () => {
  it('inputs media under-reported, together over GENERATION_MAX_INPUT_MB: the job fails input_too_large before anything is sent', async () => {
    const user = h.newUser();
    const ids = [randomUUID(), randomUUID()];
    // Each under the limit (as each was allowed before), together over it.
    for (const id of ids) h.peers.uploads.set(id, { userId: user.id, mimeType: 'image/webp', data: Buffer.alloc(Math.ceil(h.config.GENERATION_MAX_INPUT_MB * 0.6), 1), bytes: 1 });
    const { accepted, job } = await generate(user, { kind: 'image', prompt: 'two pictures that grew', uploadIds: ids });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'input_too_large' } });
    expect(await jobRow(accepted.id)).toMatchObject({ prompt: null });
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);
    for (const id of ids) h.peers.uploads.delete(id);
  }, 30_000);
});

describe('reading and deleting content', () => {
  it('another user’s job and content ids are 404 on every route, and change nothing', async () => {
    const owner = h.newUser();
    const stranger = h.newUser();
    const { accepted, job } = await generate(owner, { kind: 'poem', prompt: 'a poem about mountains' });
    await expect(h.call(GetGenerationRoute, { id: accepted.id }, stranger.id)).rejects.toMatchObject({ status: 404 });
    for (const route of [GetContentRoute, GetContentFileRoute, DeleteContentRoute, RestoreContentRoute]) {
      await expect(h.call(route, { id: job.contentId! }, stranger.id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    }
    await expect(h.call(GetContentRoute, { id: randomUUID() }, owner.id)).rejects.toMatchObject({ status: 404 });
    expect((await contentRow(job.contentId!))!.deleted_at).toBeNull();
  });

  it('soft delete → restore → delete → removed for good after 7 days (row and object), with ContentDeleted naming the source uploads', async () => {
    const user = h.newUser();
    const uploadId = randomUUID();
    h.peers.uploads.set(uploadId, { userId: user.id, mimeType: 'image/webp', data: await sharp({ create: { width: 16, height: 16, channels: 3, background: '#884422' } }).webp().toBuffer() });
    const { job } = await generate(user, { kind: 'image', prompt: 'a sunflower field', uploadIds: [uploadId] });
    const id = job.contentId!;
    const key = (await contentRow(id))!.object_key;

    await h.call(DeleteContentRoute, { id }, user.id);
    expect((await h.call(ListContentsRoute, { deleted: false }, user.id)).items).toEqual([]);
    expect((await h.call(ListContentsRoute, { deleted: true }, user.id)).items.map((item) => item.id)).toEqual([id]);
    // In the trash there is no file to fetch; deleting again changes nothing.
    await expect(h.call(GetContentFileRoute, { id }, user.id)).rejects.toMatchObject({ status: 404 });
    await h.call(DeleteContentRoute, { id }, user.id);
    await eventually(async () => (await h.events(ContentDeletedV1)).some((event) => event.contentId === id), { what: 'ContentDeleted' });
    expect((await h.events(ContentDeletedV1)).filter((event) => event.contentId === id)).toEqual([expect.objectContaining({ userId: user.id, sourceUploadIds: [uploadId] })]);

    const restored = await h.call(RestoreContentRoute, { id }, user.id);
    expect(restored).toMatchObject({ id, deletedAt: null });
    expect((await h.call(ListContentsRoute, { deleted: false }, user.id)).items.map((item) => item.id)).toEqual([id]);
    await eventually(async () => (await h.events(ContentRestoredV1)).some((event) => event.contentId === id), { what: 'ContentRestored' });

    await h.call(DeleteContentRoute, { id }, user.id);
    // Six days later: still restorable, and the sweep leaves it.
    h.clock.advance(6 * DAY_MS);
    await h.service.app.get(ContentSweeper).sweep();
    expect(await contentRow(id)).toBeDefined();
    expect((await h.call(ListContentsRoute, { deleted: true }, user.id)).items.map((item) => item.id)).toEqual([id]);
    // Past 7 days: gone for the user at once; retention's ContentExpired would remove it now,
    // and the safety-net sweep removes row and object once it is a grace day overdue.
    h.clock.advance(1 * DAY_MS + 60_000);
    await expect(h.call(RestoreContentRoute, { id }, user.id)).rejects.toMatchObject({ status: 404 });
    expect((await h.call(ListContentsRoute, { deleted: true }, user.id)).items).toEqual([]);
    h.clock.advance(SAFETY_NET_GRACE_DAYS * DAY_MS);
    await h.service.app.get(ContentSweeper).sweep();
    expect(await contentRow(id)).toBeUndefined();
    expect(await h.store.stat(key)).toBeNull();
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((event) => event.scopeId === id), { what: 'PurgeCompleted' });
    expect((await h.events(PurgeCompletedV1)).filter((event) => event.scopeId === id)).toEqual([
      expect.objectContaining({ service: 'generation', scope: 'content', userId: user.id, trigger: null, counts: { contents: 1, objects: 1 } }),
    ]);
  });

  it('ContentExpired purges the item due by its record and confirms; a redelivery confirms again with zero counts', async () => {
    const user = h.newUser();
    const { job } = await generate(user, { kind: 'poem', prompt: 'a poem about the harbour' });
    const id = job.contentId!;
    const key = (await contentRow(id))!.object_key;
    // Its expiry has come, by generation's clock.
    await h.sql('UPDATE generation.contents SET expires_at = $2 WHERE id = $1', [id, new Date(h.clock.nowMs() - 1_000)]);
    const first = await h.publish(ContentExpiredV1, { userId: user.id, contentId: id, expiredAt: h.clock.now().toISOString() });
    await eventually(async () => (await contentRow(id)) === undefined, { what: 'the expired item purged' });
    expect(await h.store.stat(key)).toBeNull();
    const second = await h.publish(ContentExpiredV1, { userId: user.id, contentId: id, expiredAt: h.clock.now().toISOString() });
    await eventually(async () => (await h.events(PurgeCompletedV1)).filter((event) => event.scopeId === id).length === 2, { what: 'two receipts' });
    const receipts = (await h.events(PurgeCompletedV1)).filter((event) => event.scopeId === id);
    expect(receipts.map((receipt) => [receipt.trigger?.messageId, receipt.counts])).toEqual([
      [first, { contents: 1, objects: 1 }],
      [second, { contents: 0, objects: 0 }],
    ]);
  });
});

describe('ContentExpired deletes only what generation’s own record says is due', () => {
  it('keeps an item Prime keeps, one not yet expired, one restorable in the trash and another user’s, each confirmed with zero counts', async () => {
    const user = h.newUser();
    const other = h.newUser();
    const kept = (await generate(user, { kind: 'poem', prompt: 'a poem Prime keeps' })).job.contentId!;
    const fresh = (await generate(user, { kind: 'poem', prompt: 'a poem not yet expired' })).job.contentId!;
    const trashed = (await generate(user, { kind: 'poem', prompt: 'a poem in the trash' })).job.contentId!;
    const theirs = (await generate(other, { kind: 'poem', prompt: 'a poem of someone else, expired' })).job.contentId!;
    await h.sql('UPDATE generation.contents SET expires_at = NULL WHERE id = $1', [kept]);
    await h.call(DeleteContentRoute, { id: trashed }, user.id);
    await h.sql('UPDATE generation.contents SET expires_at = $2 WHERE id = $1', [theirs, new Date(h.clock.nowMs() - 1_000)]);

    // A stale or Prime-unaware expiry notice for each, and one naming the wrong owner.
    const notices = [kept, fresh, trashed, theirs].map((contentId) => ({ contentId, userId: user.id }));
    const messageIds: string[] = [];
    for (const notice of notices) messageIds.push(await h.publish(ContentExpiredV1, { ...notice, expiredAt: h.clock.now().toISOString() }));
    await eventually(async () => (await h.events(PurgeCompletedV1)).filter((event) => messageIds.includes(event.trigger?.messageId ?? '')).length === 4, { what: 'four receipts' });
    const receipts = (await h.events(PurgeCompletedV1)).filter((event) => messageIds.includes(event.trigger?.messageId ?? ''));
    for (const receipt of receipts) expect(receipt).toMatchObject({ service: 'generation', scope: 'content', userId: user.id, counts: { contents: 0, objects: 0 } });
    for (const id of [kept, fresh, trashed, theirs]) {
      const row = await contentRow(id);
      expect(row, id).toBeDefined();
      expect(await h.store.stat(row!.object_key)).not.toBeNull();
    }
    expect((await h.call(GetContentRoute, { id: kept }, user.id)).expiresAt).toBeNull();
    expect((await h.call(ListContentsRoute, { deleted: true }, user.id)).items.map((item) => item.id)).toEqual([trashed]);

    // The owner's own notice for the expired item does delete it.
    await h.publish(ContentExpiredV1, { contentId: theirs, userId: other.id, expiredAt: h.clock.now().toISOString() });
    await eventually(async () => (await contentRow(theirs)) === undefined, { what: 'the owner’s expired item purged' });
  });
});

describe('Prime switches the retention of existing content (§5.4)', () => {
  it('no Prime: created + 90 days; Prime starts: kept; Prime ends: 90 days from its end; a stale status changes nothing', async () => {
    const user = h.newUser();
    const { job } = await generate(user, { kind: 'poem', prompt: 'a poem about the forest' });
    const id = job.contentId!;
    const content = await h.call(GetContentRoute, { id }, user.id);
    expect(new Date(content.expiresAt!).getTime() - new Date(content.createdAt).getTime()).toBe(90 * DAY_MS);

    const startedAt = h.clock.now();
    const periodEnd = new Date(startedAt.getTime() + 30 * DAY_MS);
    await h.publish(PrimeStatusChangedV1, { userId: user.id, active: true, expiresAt: periodEnd.toISOString(), changedAt: startedAt.toISOString() });
    await eventually(async () => (await contentRow(id))!.expires_at === null, { what: 'Prime keeps the content' });
    expect((await h.call(GetContentRoute, { id }, user.id)).expiresAt).toBeNull();

    // Content made while Prime lasts is kept too.
    const during = await generate(user, { kind: 'poem', prompt: 'a poem made during Prime' });
    expect((await h.call(GetContentRoute, { id: during.job.contentId! }, user.id)).expiresAt).toBeNull();

    h.clock.advance(31 * DAY_MS);
    await h.publish(PrimeStatusChangedV1, { userId: user.id, active: false, expiresAt: periodEnd.toISOString(), changedAt: h.clock.now().toISOString() });
    const expected = new Date(periodEnd.getTime() + 90 * DAY_MS).toISOString();
    await eventually(async () => (await contentRow(id))!.expires_at?.toISOString() === expected, { what: 'Prime ended re-plans' });
    expect((await h.call(GetContentRoute, { id: during.job.contentId! }, user.id)).expiresAt).toBe(expected);

    // The start of the earlier period, delivered late, must not bring Prime back.
    await h.publish(PrimeStatusChangedV1, { userId: user.id, active: true, expiresAt: periodEnd.toISOString(), changedAt: startedAt.toISOString() });
    const marker = await h.publish(ContentExpiredV1, { userId: user.id, contentId: randomUUID(), expiredAt: h.clock.now().toISOString() });
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((event) => event.trigger?.messageId === marker), { what: 'a later event processed' });
    await eventually(async () => (await h.sql('SELECT 1 FROM generation.inbox WHERE consumer LIKE $1', ['%prime-status-changed%'])).length >= 3, { what: 'the stale status consumed' });
    expect((await contentRow(id))!.expires_at?.toISOString()).toBe(expected);

    // Content made after Prime ended: the standard rule from its own creation.
    const after = await generate(user, { kind: 'poem', prompt: 'a poem made after Prime' });
    const afterView = await h.call(GetContentRoute, { id: after.job.contentId! }, user.id);
    expect(new Date(afterView.expiresAt!).getTime()).toBe(Math.max(new Date(afterView.createdAt).getTime(), periodEnd.getTime()) + 90 * DAY_MS);
  });
});

describe('a run whose claim was taken over writes nothing', () => {
  it('its result is not recorded, its object is removed, and the job is left to the claim that holds it', async () => {
    const user = h.newUser();
    const jobId = randomUUID();
    // Claimed twice: the second claim (attempt 2, lease far ahead) holds the job now.
    await h.sql(
      "INSERT INTO generation.jobs (id, user_id, kind, prompt, status, cost, reserved_at, attempts, lease_until, created_at, started_at) VALUES ($1, $2, 'poem', 'a poem about the tide', 'running', 2, $3, 2, $4, $3, $3)",
      // By the service's clock (tests before this one moved it): the lease is an hour ahead of the runner's now.
      [jobId, user.id, h.clock.now(), new Date(h.clock.nowMs() + 3_600_000)],
    );
    const [row] = await h.sql<{ created_at: Date }>('SELECT created_at FROM generation.jobs WHERE id = $1', [jobId]);
    const stale = { id: jobId, userId: user.id, kind: 'poem' as const, prompt: 'a poem about the tide', uploadIds: [], style: null, status: 'running' as const, cost: 2, reservedAt: row!.created_at, attempts: 1, leaseUntil: row!.created_at, contentId: null, errorCode: null, errorMessage: null, createdAt: row!.created_at, startedAt: row!.created_at, finishedAt: null };
    const report = await h.service.app.get(RunJob).execute(stale, new AbortController().signal);
    expect(report.outcome).toBe('superseded');
    expect(await jobRow(jobId)).toMatchObject({ status: 'running', attempts: 2, prompt: 'a poem about the tide' });
    expect(await h.sql('SELECT 1 FROM generation.contents WHERE job_id = $1', [jobId])).toEqual([]);
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);
    expect(await finishedOf(jobId)).toEqual([]);
    await h.sql("UPDATE generation.jobs SET status = 'failed', prompt = NULL, finished_at = now(), lease_until = NULL WHERE id = $1", [jobId]);
  });
});

describe('a crash between insert and reservation', () => {
  it('leaves a job the sweep fails with GenerationFinished(failed), so a reservation that happened is refunded', async () => {
    const user = h.newUser();
    const jobId = randomUUID();
    const createdAt = new Date(h.clock.nowMs() - 60_000);
    await h.sql("INSERT INTO generation.jobs (id, user_id, kind, prompt, status, created_at) VALUES ($1, $2, 'text', 'a prompt left behind', 'queued', $3)", [jobId, user.id, createdAt]);
    await h.service.app.get(ContentSweeper).sweep();
    expect(await jobRow(jobId)).toMatchObject({ status: 'failed', prompt: null, error_code: 'reservation_failed' });
    await eventually(async () => (await finishedOf(jobId)).length === 1, { what: 'GenerationFinished' });
    expect((await finishedOf(jobId))[0]).toMatchObject({ outcome: 'failed', purpose: 'text', userId: user.id });
  });
});

describe('UserDeleted', () => {
  it('purges every job, content row, Prime copy and object of the user, confirms with counts, and refuses the user afterwards', async () => {
    const user = h.newUser();
    const other = h.newUser();
    const kept = await generate(other, { kind: 'poem', prompt: 'a poem that stays' });
    await generate(user, { kind: 'poem', prompt: 'a poem that goes' });
    const trashed = await generate(user, { kind: 'image', prompt: 'a picture that goes' });
    await h.call(DeleteContentRoute, { id: trashed.job.contentId! }, user.id);
    await h.publish(PrimeStatusChangedV1, { userId: user.id, active: true, expiresAt: null, changedAt: h.clock.now().toISOString() });
    await eventually(async () => (await h.sql('SELECT 1 FROM generation.prime_status WHERE user_id = $1', [user.id])).length === 1, { what: 'Prime copy' });
    expect((await h.store.listOwnerKeys(user.id)).length).toBe(2);

    const erasureId = randomUUID();
    const messageId = await h.publish(UserDeletedV1, { userId: user.id, erasureId, reason: 'user_request', deletedAt: h.clock.now().toISOString() });
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((event) => event.erasureId === erasureId), { what: 'the purge receipt' });
    for (const table of ['jobs', 'contents', 'prime_status']) expect(await h.sql(`SELECT 1 FROM generation.${table} WHERE user_id = $1`, [user.id])).toEqual([]);
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);
    const receipt = (await h.events(PurgeCompletedV1)).find((event) => event.erasureId === erasureId)!;
    expect(receipt).toMatchObject({ service: 'generation', scope: 'user', scopeId: user.id, trigger: { type: UserDeletedV1.type, messageId }, counts: { jobs: 2, contents: 2, objects: 2 } });

    // The other user's content is untouched; the erased user is refused.
    expect(await contentRow(kept.job.contentId!)).toBeDefined();
    await expect(h.call(CreateGenerationRoute, { kind: 'poem', prompt: 'too late' }, user.id)).rejects.toMatchObject({ status: 401 });
  });
});

describe('a result that lands after its owner’s erasure', () => {
  it('is not put at all when the user was erased while the job ran', async () => {
    const user = h.newUser();
    const jobId = randomUUID();
    const now = h.clock.now();
    await h.sql(
      "INSERT INTO generation.jobs (id, user_id, kind, prompt, status, cost, reserved_at, attempts, lease_until, created_at, started_at) VALUES ($1, $2, 'poem', 'a poem about the tide', 'running', 2, $3, 1, $4, $3, $3)",
      [jobId, user.id, now, new Date(h.clock.nowMs() + 3_600_000)],
    );
    // Erased mid-run: the purge has recorded the tombstone (and found nothing to delete yet).
    await h.sql('INSERT INTO generation.tombstones (user_id, erased_at) VALUES ($1, $2)', [user.id, now]);
    const [row] = await h.sql<{ created_at: Date }>('SELECT created_at FROM generation.jobs WHERE id = $1', [jobId]);
    const running = { id: jobId, userId: user.id, kind: 'poem' as const, prompt: 'a poem about the tide', uploadIds: [], style: null, status: 'running' as const, cost: 2, reservedAt: row!.created_at, attempts: 1, leaseUntil: row!.created_at, contentId: null, errorCode: null, errorMessage: null, createdAt: row!.created_at, startedAt: row!.created_at, finishedAt: null };
    const put = vi.spyOn(h.service.app.get(ObjectStore), 'put');
    try {
      const report = await h.service.app.get(RunJob).execute(running, new AbortController().signal);
      expect(report.outcome).toBe('superseded');
      expect(put).not.toHaveBeenCalled();
    } finally {
      put.mockRestore();
    }
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);
    expect(await h.sql('SELECT 1 FROM generation.contents WHERE user_id = $1', [user.id])).toEqual([]);
    await h.sql('DELETE FROM generation.jobs WHERE id = $1', [jobId]);
  });

  it('is removed by the next sweep when its put completes after the purge', async () => {
    const user = h.newUser();
    const bystander = h.newUser();
    const kept = await generate(bystander, { kind: 'poem', prompt: 'a poem that stays put' });
    await generate(user, { kind: 'poem', prompt: 'a poem before erasure' });
    const erasureId = randomUUID();
    await h.publish(UserDeletedV1, { userId: user.id, erasureId, reason: 'user_request', deletedAt: h.clock.now().toISOString() });
    await eventually(async () => (await h.events(PurgeCompletedV1)).some((event) => event.erasureId === erasureId), { what: 'the purge receipt' });
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);

    // A put the store completes only now (the client had given up on it, or its process died before removing it).
    await h.store.put(user.id, randomUUID(), Buffer.from('a late result'), { contentType: 'text/plain; charset=utf-8', size: 13 });
    expect(await h.store.listOwnerKeys(user.id)).toHaveLength(1);
    await h.service.app.get(ContentSweeper).sweep();
    expect(await h.store.listOwnerKeys(user.id)).toEqual([]);
    // Only erased users' prefixes are touched.
    expect(await h.store.stat((await contentRow(kept.job.contentId!))!.object_key)).not.toBeNull();

    // Past ERASED_OBJECTS_SWEEP_DAYS the prefix is no longer looked at.
    h.clock.advance((h.config.ERASED_OBJECTS_SWEEP_DAYS + 1) * DAY_MS);
    await h.store.put(user.id, randomUUID(), Buffer.from('much later'), { contentType: 'text/plain; charset=utf-8', size: 10 });
    await h.service.app.get(ContentSweeper).sweep();
    expect(await h.store.listOwnerKeys(user.id)).toHaveLength(1);
    await h.store.removeAllForOwner(user.id);
  });
});

describe('metrics', () => {
  it('count jobs by kind, adapter and outcome and time dispatch apart from overhead, with no personal label', async () => {
    const user = h.newUser();
    await generate(user, { kind: 'poem', prompt: 'a poem for the metrics' });
    const text = await (await fetch(`${h.service.url}/metrics`)).text();
    expect(text).toMatch(/generation_jobs_total\{kind="poem",adapter="local",outcome="succeeded",service="generation"\} [1-9]/);
    expect(text).toMatch(/generation_job_seconds_count\{service="generation",kind="poem",adapter="local",phase="dispatch"\} [1-9]/);
    expect(text).toMatch(/generation_job_seconds_count\{service="generation",kind="poem",adapter="local",phase="overhead"\} [1-9]/);
    expect(text).toContain('generation_jobs_in_flight');
    expect(text).not.toContain(user.id);
    expect(text).not.toContain(user.username);
  });
});
