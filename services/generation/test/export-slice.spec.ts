import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSliceRoute, GenerationRpc, type ExportSlicePage } from '@homiwork/contracts';
import { ExportSlice } from '../src/usecases/export-slice/export-slice.usecase.js';
import { startHarness, type Harness, type TestUser } from './harness.js';

// R7.1: generation's export slice, asked over NATS as retention asks it, from the service as
// it runs (harness.ts: real PostgreSQL, NATS, local S3; peers stood in for).

const Route = exportSliceRoute('generation');
const { CreateGenerationRoute, DeleteContentRoute, GetContentFileRoute } = GenerationRpc;
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const slice = (userId: string, cursor?: string) => h.call(Route, { userId, ...(cursor === undefined ? {} : { cursor }) }, randomUUID());

async function generate(user: TestUser, request: GenerationRpc.CreateGenerationRequest) {
  const accepted = await h.call(CreateGenerationRoute, request, user.id);
  return h.finished(accepted.id, user.id);
}

/** A job a runner holds (leased for an hour): its prompt is still stored. */
async function runningJob(userId: string, prompt: string, createdAt = new Date()): Promise<string> {
  const id = randomUUID();
  await h.sql(
    `INSERT INTO generation.jobs (id, user_id, kind, prompt, status, cost, reserved_at, attempts, lease_until, created_at, started_at)
     VALUES ($1, $2, 'poem', $3, 'running', 2, $4, 1, $5, $4, $4)`,
    [id, userId, prompt, createdAt, new Date(Date.now() + 3_600_000)],
  );
  return id;
}

async function allPages(read: (cursor?: string) => Promise<ExportSlicePage>): Promise<ExportSlicePage[]> {
  const pages: ExportSlicePage[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    pages.push(page);
    cursor = page.nextCursor ?? undefined;
    if (pages.length > 1000) throw new Error('the export never ends');
  } while (cursor !== undefined);
  return pages;
}

describe('generation export slice', () => {
  it("holds the user's jobs (the prompt only while stored), live and trashed content with their files, nothing of another user", async () => {
    const user = h.newUser();
    const other = h.newUser();
    const poem = await generate(user, { kind: 'poem', prompt: 'A poem about a lighthouse keeper' });
    const text = await generate(user, { kind: 'text', prompt: 'A short thank-you note', assistantStyle: 'greeting' });
    await h.call(DeleteContentRoute, { id: text.contentId! }, user.id);
    const pending = await runningJob(user.id, 'Still being written: a limerick');
    const theirs = await generate(other, { kind: 'poem', prompt: 'Their own private poem' });

    const page = await slice(user.id);
    expect(page.nextCursor).toBeNull();
    expect(Object.keys(page.collections)).toEqual(['jobs', 'contents']);
    const jobs = page.collections.jobs!;
    expect(jobs.map((job) => job.id)).toEqual([poem.id, text.id, pending]);
    expect(jobs[0]).toEqual({
      id: poem.id,
      kind: 'poem',
      status: 'succeeded',
      style: null,
      uploadIds: [],
      cost: 2,
      contentId: poem.contentId,
      failure: null,
      createdAt: poem.createdAt,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
    expect(jobs[1]).toMatchObject({ status: 'succeeded', style: 'greeting' });
    expect(jobs[1]).not.toHaveProperty('prompt');
    expect(jobs[2]).toMatchObject({ status: 'running', prompt: 'Still being written: a limerick', finishedAt: null });

    const contents = page.collections.contents!;
    expect(contents.map((content) => content.id)).toEqual([poem.contentId, text.contentId]);
    expect(contents[0]).toEqual({
      id: poem.contentId,
      jobId: poem.id,
      kind: 'poem',
      mimeType: expect.stringMatching(/^text\/plain/),
      bytes: expect.any(Number),
      sourceUploadIds: [],
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      deletedAt: null,
      file: `contents/${poem.contentId}.txt`,
    });
    expect(contents[1]).toMatchObject({ id: text.contentId, deletedAt: expect.any(String), file: `contents/${text.contentId}.txt` });

    // The files: the live one's bytes are those the user's own signed URL gives; the trashed one is there too.
    expect(page.files.map((file) => file.path)).toEqual([`contents/${poem.contentId}.txt`, `contents/${text.contentId}.txt`]);
    const own = await (await fetch((await h.call(GetContentFileRoute, { id: poem.contentId! }, user.id)).url)).arrayBuffer();
    const exported = await fetch(page.files[0]!.url);
    expect(exported.status).toBe(200);
    expect(Buffer.from(await exported.arrayBuffer())).toEqual(Buffer.from(own));
    expect(page.files[0]!.bytes).toBe(Buffer.from(own).length);
    const trashed = await fetch(page.files[1]!.url);
    expect(trashed.status).toBe(200);
    expect((await trashed.arrayBuffer()).byteLength).toBe(page.files[1]!.bytes);

    // Nothing of the other user; no owner id or object key in the records.
    const objectKeys = (await h.sql<{ object_key: string }>('SELECT object_key FROM generation.contents WHERE user_id = $1', [user.id])).map((row) => row.object_key);
    const records = JSON.stringify(page.collections);
    for (const absent of [other.id, theirs.id, theirs.contentId!, 'Their own private poem', user.id, ...objectKeys]) expect(records).not.toContain(absent);
    expect(JSON.stringify(page.files)).not.toContain(theirs.contentId!);
  });

  it('pages by a cursor across both collections: every row once, in order, each page within its target; the cursor works over NATS', async () => {
    const user = h.newUser();
    const start = Date.now() - 3_600_000;
    const jobs: string[] = [];
    for (let index = 0; index < 12; index++) jobs.push(await runningJob(user.id, `prompt number ${index} `.repeat(10), new Date(start + index * 1_000)));
    const contents: string[] = [];
    for (let index = 0; index < 7; index++) {
      const id = randomUUID();
      const { key } = await h.store.put(user.id, id, Buffer.from(`content ${index}`), { contentType: 'text/plain; charset=utf-8', size: Buffer.byteLength(`content ${index}`) });
      await h.sql(
        `INSERT INTO generation.contents (id, user_id, job_id, kind, mime_type, bytes, object_key, created_at, expires_at) VALUES ($1, $2, $3, 'text', 'text/plain; charset=utf-8', $4, $5, $6, $7)`,
        [id, user.id, jobs[index], Buffer.byteLength(`content ${index}`), key, new Date(start + index * 1_000), new Date(start + 90 * 86_400_000)],
      );
      contents.push(id);
    }
    const target = 1_500;
    const useCase = h.service.app.get(ExportSlice);
    const pages = await allPages((cursor) => useCase.execute({ userId: user.id, ...(cursor === undefined ? {} : { cursor }) }, target));
    expect(pages.length).toBeGreaterThan(4);
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(target);
    expect(pages.flatMap((page) => page.collections.jobs!.map((job) => job.id))).toEqual(jobs);
    expect(pages.flatMap((page) => page.collections.contents!.map((content) => content.id))).toEqual(contents);
    expect(pages.flatMap((page) => page.files.map((file) => file.path))).toEqual(contents.map((id) => `contents/${id}.txt`));

    const viaNats = await allPages((cursor) => slice(user.id, cursor));
    expect(viaNats).toHaveLength(1);
    const resumed = await slice(user.id, pages[2]!.nextCursor!);
    expect(resumed.collections.jobs!.map((job) => job.id).concat(resumed.collections.contents!.map((content) => content.id))).toEqual(
      [...jobs, ...contents].slice(pages.slice(0, 3).reduce((sum, page) => sum + page.collections.jobs!.length + page.collections.contents!.length, 0)),
    );
  });

  it('an unknown user answers empty collections; a foreign cursor is refused with a 400', async () => {
    expect(await slice(randomUUID())).toEqual({ collections: { jobs: [], contents: [] }, files: [], nextCursor: null });
    await expect(slice(randomUUID(), 'uploads:')).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
    await expect(slice(randomUUID(), 'jobs:yesterday')).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
  });
});
