import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContentCreatedV1,
  CreateGeneration,
  CreateOrder,
  DeleteContent,
  GetBalance,
  GetContent,
  GetGeneration,
  GetMe,
  GetUpload,
  ListContents,
  ListProducts,
  ProhibitedContentDetectedV1,
  RestoreContent,
  type GenerationRpc,
  type HttpRoute,
} from '@homiwork/contracts';
import { createTempDir, ffprobeJson, patternJpeg, removeTempDir } from '@homiwork/media-fixtures';
import { eventually } from '@homiwork/testing';
import { startTestSystem, type TestSystem } from './support/test-system.js';
import { submitCheckout } from './support/webhooks.js';
import { objectsUnder } from './support/privacy.js';

const PASSWORD = 'a long and uncommon passphrase';
const DAY = 24 * 3600 * 1000;
const GRANT = 1000;
const COSTS: Record<GenerationRpc.GenerationKind, number> = { song: 30, image: 10, poem: 2, text: 2, video: 50 };
/** Written into every prompt of this file, so a prompt reaching a log line can be found. */
const PROMPT_MARKER = `quokka${randomUUID().slice(0, 8)}`;

let system: TestSystem;
let fixtures: string;
/** The clock only moves forward in this file; each move is relative to the last. */
let clockOffsetMs = 0;

beforeAll(async () => {
  fixtures = await createTempDir('generations-e2e-');
  system = await startTestSystem({
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: '10000',
      RATE_LIMIT_READ_PER_MINUTE: '100000',
      RATE_LIMIT_WRITE_PER_MINUTE: '10000',
      RATE_LIMIT_GENERATION_PER_MINUTE: '10000',
      ENERGY_SIGNUP_GRANT: String(GRANT),
      ENERGY_COSTS: 'song=30,image=10,poem=2,text=2,video=50,chat=1',
      PAYMENT_PROCESSOR: 'local',
      PAYMENT_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
      MODERATION_TEXT_RULES: 'forbidden-phrase=forbidden\\s+phrase',
      CONTENT_SWEEP_INTERVAL_MS: '200',
      PRIME_SWEEP_INTERVAL_MS: '200',
      // Debug lines too are searched for what the user typed.
      LOG_LEVEL: 'debug',
    },
  });
}, 120_000);
afterAll(async () => {
  await system?.stop();
  await removeTempDir(fixtures);
});

interface User {
  userId: string;
  email: string;
  token: string;
}

async function newUser(): Promise<User> {
  const tag = randomUUID().slice(0, 12);
  const email = `gen.${tag}@example.com`;
  const { user } = await system.api().accounts.register({ email, username: `gen_${tag}`, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await system.api().accounts.login({ login: email, password: PASSWORD });
  const created = { userId: user.id, email, token: accessToken };
  // The signup grant arrives through UserRegistered; generating before it lands would be refused.
  await eventually(async () => (await balance(created)) === GRANT, { what: 'signup grant' });
  return created;
}

/** Access tokens live minutes: after the clock moves days, log in again. */
async function logInAgain(user: User): Promise<void> {
  user.token = (await system.api().accounts.login({ login: user.email, password: PASSWORD })).accessToken;
}

async function moveClock(byMs: number): Promise<void> {
  clockOffsetMs += byMs;
  await system.setClockOffset(clockOffsetMs);
}

const as = (user: User) => system.api({ token: user.token });

async function balance(user: User): Promise<number> {
  return (await as(user).call(GetBalance)).energy;
}

async function request(user: User, route: Pick<HttpRoute, 'method' | 'path' | 'auth'>, input: { body?: unknown; params?: Record<string, string>; query?: Record<string, string> } = {}) {
  const answer = await as(user).raw(route, input);
  return { status: answer.status, body: answer.body as Record<string, unknown> & { error?: { code: string; message: string } } };
}

async function generate(user: User, body: Record<string, unknown>): Promise<{ id: string; status: string; cost: number }> {
  const answer = await request(user, CreateGeneration, { body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  return answer.body as unknown as { id: string; status: string; cost: number };
}

/** Polls the job until it ends; a job still queued or running after the timeout fails the test. */
async function finished(user: User, id: string, timeoutMs = 60_000): Promise<GenerationRpc.Generation> {
  let last: GenerationRpc.Generation | undefined;
  await eventually(
    async () => {
      last = await as(user).call(GetGeneration, { params: { id } });
      return last.status === 'succeeded' || last.status === 'failed';
    },
    { what: `generation ${id} to finish`, timeoutMs },
  );
  return last!;
}

async function succeeded(user: User, body: Record<string, unknown>): Promise<{ jobId: string; contentId: string; cost: number }> {
  const accepted = await generate(user, body);
  const job = await finished(user, accepted.id);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  return { jobId: accepted.id, contentId: job.contentId!, cost: accepted.cost };
}

async function download(user: User, contentId: string, query = ''): Promise<{ status: number; bytes: Buffer; type: string | null; headers: Headers }> {
  const response = await fetch(`${system.gateways[0]}/v1/contents/${contentId}/file${query}`, { headers: { authorization: `Bearer ${user.token}` }, redirect: 'manual' });
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()), type: response.headers.get('content-type'), headers: response.headers };
}

async function upload(user: User, file: string, name: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(file)], { type: 'image/jpeg' }), name);
  const response = await fetch(`${system.gateways[0]}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${user.token}` }, body: form });
  expect(response.status).toBe(201);
  return String(((await response.json()) as { id: string }).id);
}


async function jobCount(user: User): Promise<number> {
  const [row] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM generation.jobs WHERE user_id = $1', [user.userId]);
  return row!.n;
}

async function probe(bytes: Buffer, name: string) {
  const path = join(fixtures, `${randomUUID()}-${name}`);
  await writeFile(path, bytes);
  return ffprobeJson(path);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** What each kind must download as: a file of the announced type that really decodes. */
const VALIDATE: Record<GenerationRpc.GenerationKind, (bytes: Buffer, type: string) => Promise<void>> = {
  text(bytes, type) {
    expect(type).toMatch(/^text\/plain;\s*charset=utf-8$/i);
    expect(strictUtf8.decode(bytes).trim().length).toBeGreaterThan(20);
    return Promise.resolve();
  },
  poem(bytes, type) {
    expect(type).toMatch(/^text\/plain;\s*charset=utf-8$/i);
    const lines = strictUtf8.decode(bytes).trim().split('\n').filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    return Promise.resolve();
  },
  async image(bytes, type) {
    expect(type).toBe('image/png');
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThanOrEqual(64);
    expect(meta.height).toBeGreaterThanOrEqual(64);
    expect(meta.exif ?? meta.xmp ?? meta.iptc).toBeUndefined();
  },
  async song(bytes, type) {
    expect(['audio/ogg', 'audio/mpeg']).toContain(type);
    const info = await probe(bytes, type === 'audio/ogg' ? 'song.ogg' : 'song.mp3');
    const audio = info.streams.filter((stream) => stream.codec_type === 'audio');
    expect(audio).toHaveLength(1);
    expect(info.streams.filter((stream) => stream.codec_type === 'video')).toHaveLength(0);
    expect(audio[0]!.codec_name).toBe(type === 'audio/ogg' ? 'opus' : 'mp3');
    expect(info.format.format_name).toContain(type === 'audio/ogg' ? 'ogg' : 'mp3');
    const seconds = Number(info.format.duration);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(10);
  },
  async video(bytes, type) {
    expect(type).toBe('video/mp4');
    const info = await probe(bytes, 'clip.mp4');
    expect(info.format.format_name).toContain('mp4');
    const video = info.streams.find((stream) => stream.codec_type === 'video');
    expect(['h264', 'mpeg4']).toContain(video?.codec_name);
    expect(video!.width).toBeGreaterThan(0);
    expect(video!.height).toBeGreaterThan(0);
    const seconds = Number(info.format.duration);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(10);
  },
};

describe('one generation of each kind with the local contractor (R4.1)', () => {
  const prompts: Record<GenerationRpc.GenerationKind, { prompt: string; assistantStyle?: string }> = {
    song: { prompt: `a cheerful song about a ${PROMPT_MARKER} crossing the river` },
    image: { prompt: `a ${PROMPT_MARKER} watching the sunset over the harbour` },
    poem: { prompt: `a poem about a ${PROMPT_MARKER} and the first snow` },
    text: { prompt: `birthday greetings for my aunt who loves her ${PROMPT_MARKER}`, assistantStyle: 'greeting' },
    video: { prompt: `a short clip of a ${PROMPT_MARKER} dancing in the rain` },
  };
  for (const kind of ['text', 'poem', 'image', 'song', 'video'] as const) {
    it(`${kind}: 202 with its cost reserved, then succeeded, and a downloadable ${kind} of the announced type`, async () => {
      const user = await newUser();
      const accepted = await generate(user, { kind, ...prompts[kind] });
      expect(accepted.cost).toBe(COSTS[kind]);
      expect(['queued', 'running']).toContain(accepted.status);
      // Reserved before the 202: the balance already shows it.
      expect(await balance(user)).toBe(GRANT - COSTS[kind]);

      const job = await finished(user, accepted.id);
      expect(job).toMatchObject({ id: accepted.id, kind, status: 'succeeded' });
      expect(job.error).toBeUndefined();
      const content = await as(user).call(GetContent, { params: { id: job.contentId! } });
      expect(content).toMatchObject({ id: job.contentId, kind, deletedAt: null });
      // Without Prime: 90 days after creation (the written rule; within the policy's 2–4 months).
      expect(new Date(content.expiresAt!).getTime() - new Date(content.createdAt).getTime()).toBe(90 * DAY);

      const file = await download(user, content.id);
      expect(file.status).toBe(200);
      const baseType = (type: string) => type.split(';')[0]!.trim().toLowerCase();
      expect(baseType(file.type!)).toBe(baseType(content.mimeType));
      expect(file.bytes.length).toBe(content.bytes);
      expect(file.headers.get('cache-control')).toMatch(/no-store/);
      await VALIDATE[kind](file.bytes, file.type!);

      const listed = await as(user).call(ListContents);
      expect(listed.items.map((item) => item.id)).toEqual([content.id]);
      // Committed on success, not refunded.
      expect(await balance(user)).toBe(GRANT - COSTS[kind]);
    }, 90_000);
  }

  it('keeps no prompt text once a job has ended, and writes none to any log line', async () => {
    const rows = await system.sql<{ prompt: string | null; status: string }>("SELECT prompt, status FROM generation.jobs WHERE status IN ('succeeded', 'failed')");
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) expect(row.prompt).toBeNull();
    const hits = system.logs.filter((line) => line.includes(PROMPT_MARKER));
    expect(hits).toEqual([]);
  });

  it('offers a signed URL of at most 15 minutes with ?redirect=true, readable without the token', async () => {
    const user = await newUser();
    const { contentId } = await succeeded(user, { kind: 'text', prompt: `a short note about a ${PROMPT_MARKER}` });
    const direct = await download(user, contentId);
    const redirect = await download(user, contentId, '?redirect=true');
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get('location')!);
    const lifetime = Number(location.searchParams.get('X-Amz-Expires'));
    expect(lifetime).toBeGreaterThan(0);
    expect(lifetime).toBeLessThanOrEqual(900);
    const signed = await fetch(location);
    expect(signed.status).toBe(200);
    expect(Buffer.from(await signed.arrayBuffer()).equals(direct.bytes)).toBe(true);
  });
});

describe('a generation from an upload (R4.1)', () => {
  it('makes an image from the user’s uploaded picture and records the upload as its source', async () => {
    const user = await newUser();
    const uploadId = await upload(user, await patternJpeg(fixtures, 'source.jpg', 'a'), 'source.jpg');
    const { contentId } = await succeeded(user, { kind: 'image', prompt: `my ${PROMPT_MARKER} as a watercolour`, uploadIds: [uploadId] });
    const file = await download(user, contentId);
    await VALIDATE.image(file.bytes, file.type!);
    const created = (await system.events(ContentCreatedV1)).find((event) => event.contentId === contentId);
    expect(created).toMatchObject({ userId: user.userId, kind: 'image', sourceUploadIds: [uploadId] });
  }, 60_000);
});

describe('bad input: a clear 4xx naming the field, nothing stored, nothing charged (R4.1)', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['an unknown kind', { kind: 'sculpture', prompt: 'a statue' }, 'kind'],
    ['no kind', { prompt: 'a statue' }, 'kind'],
    ['an empty prompt', { kind: 'text', prompt: '' }, 'prompt'],
    ['a prompt of spaces only', { kind: 'text', prompt: '    ' }, 'prompt'],
    ['an over-long prompt', { kind: 'text', prompt: 'p'.repeat(4_001) }, 'prompt'],
    // 700 characters, 4,200 once NFKC spells each ㌖ out as キロメートル (the form the scrubber reads).
    ['a prompt over-long once NFKC spells it out', { kind: 'text', prompt: '\u3316'.repeat(700) }, 'prompt'],
    ['no prompt', { kind: 'poem' }, 'prompt'],
    ['an upload id that is not an id', { kind: 'image', prompt: 'x', uploadIds: ['not-an-id'] }, 'uploadIds'],
    ['too many upload ids', { kind: 'image', prompt: 'x', uploadIds: Array.from({ length: 5 }, () => randomUUID()) }, 'uploadIds'],
    ['a malformed style', { kind: 'text', prompt: 'x', assistantStyle: 'Formal Letter!' }, 'assistantStyle'],
    ['an unknown field', { kind: 'text', prompt: 'x', userId: randomUUID() }, 'userId'],
  ];
  let user: User;
  beforeAll(async () => {
    user = await newUser();
  });
  for (const [what, body, field] of cases) {
    it(`refuses ${what} with 400 naming ${field}`, async () => {
      const answer = await request(user, CreateGeneration, { body });
      expect(answer.status).toBe(400);
      expect(answer.body.error?.code).toBe('validation_failed');
      expect(answer.body.error?.message).toContain(field);
      expect(await jobCount(user)).toBe(0);
      expect(await balance(user)).toBe(GRANT);
    });
  }

  it('answers 404 upload_not_found for an upload of another user and for an unknown one, charging nothing', async () => {
    const other = await newUser();
    const theirs = await upload(other, await patternJpeg(fixtures, 'theirs.jpg', 'b'), 'theirs.jpg');
    for (const uploadId of [theirs, randomUUID()]) {
      const answer = await request(user, CreateGeneration, { body: { kind: 'image', prompt: 'a picture', uploadIds: [uploadId] } });
      expect(answer.status).toBe(404);
      expect(answer.body.error?.code).toBe('upload_not_found');
      expect(answer.body.error?.message).not.toContain(uploadId);
    }
    expect(await jobCount(user)).toBe(0);
    expect(await balance(user)).toBe(GRANT);
  });

  it('refuses a text upload as an input with 422 unsupported_input naming its position, charging nothing (its text would reach the contractor unscrubbed)', async () => {
    const picture = await upload(user, await patternJpeg(fixtures, 'with-notes.jpg', 'a'), 'with-notes.jpg');
    const form = new FormData();
    form.append('file', new Blob([`Notes of ${user.email}: call me on +49 170 1234567`], { type: 'text/plain' }), 'notes.txt');
    const stored = await fetch(`${system.gateways[0]}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${user.token}` }, body: form });
    expect(stored.status).toBe(201);
    const notes = (await stored.json()) as { id: string; kind: string };
    expect(notes.kind).toBe('text');
    for (const kind of ['image', 'poem', 'text'] as const) {
      const answer = await request(user, CreateGeneration, { body: { kind, prompt: `a ${kind} from my notes`, uploadIds: [picture, notes.id] } });
      expect(answer.status).toBe(422);
      expect(answer.body.error?.code).toBe('unsupported_input');
      expect(answer.body.error?.message).toContain('uploadIds.1');
      expect(answer.body.error?.message).not.toContain(notes.id);
    }
    expect(await jobCount(user)).toBe(0);
    expect(await balance(user)).toBe(GRANT);
  });

  it('refuses a prompt the moderation rules prohibit with 422 content_rejected, charging nothing, and blocks the asker as for uploads', async () => {
    const asker = await newUser();
    const answer = await request(asker, CreateGeneration, { body: { kind: 'poem', prompt: 'a poem with a Forbidden  Phrase in it' } });
    expect(answer.status).toBe(422);
    expect(answer.body.error?.code).toBe('content_rejected');
    expect(await jobCount(asker)).toBe(0);
    const [row] = await system.sql<{ energy: number }>('SELECT energy FROM billing.balances WHERE user_id = $1', [asker.userId]);
    expect(row!.energy).toBe(GRANT);
    const detected = async () => (await system.events(ProhibitedContentDetectedV1)).filter((event) => event.userId === asker.userId);
    await eventually(async () => (await detected()).length > 0, { what: 'ProhibitedContentDetected' });
    expect(await detected()).toMatchObject([{ subjectKind: 'prompt', rule: expect.stringContaining('forbidden-phrase') }]);
    await eventually(async () => (await system.api().raw({ method: 'POST', path: '/v1/auth/login', auth: 'public' }, { body: { login: asker.email, password: PASSWORD } })).status === 403, {
      what: 'asker blocked',
    });
  });

  it('answers 404 for another user’s generation and content, on every route, and leaves them alone', async () => {
    const owner = await newUser();
    const { jobId, contentId } = await succeeded(owner, { kind: 'text', prompt: 'a formal letter to the landlord', assistantStyle: 'formal-letter' });
    const stranger = user;
    expect((await request(stranger, GetGeneration, { params: { id: jobId } })).status).toBe(404);
    expect((await request(stranger, GetContent, { params: { id: contentId } })).status).toBe(404);
    expect((await download(stranger, contentId)).status).toBe(404);
    expect((await download(stranger, contentId, '?redirect=true')).status).toBe(404);
    expect((await request(stranger, DeleteContent, { params: { id: contentId } })).status).toBe(404);
    expect((await request(stranger, RestoreContent, { params: { id: contentId } })).status).toBe(404);
    expect((await as(stranger).call(ListContents)).items).toEqual([]);
    expect((await as(stranger).call(ListContents, { query: { deleted: 'true' } })).items).toEqual([]);
    // Unknown and malformed ids look the same.
    for (const id of [randomUUID(), 'not-a-uuid']) {
      expect((await request(stranger, GetGeneration, { params: { id } })).status).toBe(404);
      expect((await request(stranger, GetContent, { params: { id } })).status).toBe(404);
    }
    const still = await as(owner).call(GetContent, { params: { id: contentId } });
    expect(still.deletedAt).toBeNull();
    expect((await download(owner, contentId)).status).toBe(200);
  }, 60_000);

  it('refuses a trash filter that is not true or false with 400 naming deleted', async () => {
    const answer = await request(user, ListContents, { query: { deleted: 'maybe' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.message).toContain('deleted');
  });
});

// The clock moves from here on, forward only: keep these last.
describe('soft delete, restore within 7 days, final removal after them (R4.5, §5.4, §2.1.6)', () => {
  it('deletes the source upload at once, restores within the window, and removes row and object after it', async () => {
    const user = await newUser();
    const uploadId = await upload(user, await patternJpeg(fixtures, 'lifecycle.jpg', 'a'), 'lifecycle.jpg');
    const first = await succeeded(user, { kind: 'image', prompt: `a ${PROMPT_MARKER} in a garden`, uploadIds: [uploadId] });
    const second = await succeeded(user, { kind: 'poem', prompt: `a poem about a ${PROMPT_MARKER}` });
    expect(await objectsUnder(system, `generation/${user.userId}/`)).toHaveLength(2);
    expect(await objectsUnder(system, `media/${user.userId}/`)).toHaveLength(1);

    // Day 0: both go to the trash; the first's source upload is deleted through media.
    for (const { contentId } of [first, second]) expect((await request(user, DeleteContent, { params: { id: contentId } })).status).toBe(204);
    await eventually(async () => (await request(user, GetUpload, { params: { id: uploadId } })).status === 404, { what: 'the source upload deleted' });
    await eventually(async () => (await objectsUnder(system, `media/${user.userId}/`)).length === 0, { what: 'the source upload’s object removed' });
    expect((await as(user).call(ListContents)).items).toEqual([]);
    const trash = (await as(user).call(ListContents, { query: { deleted: 'true' } })).items;
    expect(trash.map((item) => item.id).sort()).toEqual([first.contentId, second.contentId].sort());
    for (const item of trash) expect(item.deletedAt).not.toBeNull();
    // Still stored while restorable.
    expect(await objectsUnder(system, `generation/${user.userId}/`)).toHaveLength(2);

    // Day 6: the first comes back, readable again; then it goes to the trash once more.
    await moveClock(6 * DAY);
    await logInAgain(user);
    const restored = await as(user).call(RestoreContent, { params: { id: first.contentId } });
    expect(restored).toMatchObject({ id: first.contentId, deletedAt: null });
    expect((await as(user).call(ListContents)).items.map((item) => item.id)).toEqual([first.contentId]);
    const again = await download(user, first.contentId);
    expect(again.status).toBe(200);
    await VALIDATE.image(again.bytes, again.type!);
    expect((await request(user, DeleteContent, { params: { id: first.contentId } })).status).toBe(204);

    // Day 8: the second's 7 days are over (gone for good); the first's new ones are not.
    await moveClock(2 * DAY);
    await logInAgain(user);
    await eventually(async () => (await system.sql('SELECT 1 FROM generation.contents WHERE id = $1', [second.contentId])).length === 0, { what: 'the second removed' });
    expect((await request(user, GetContent, { params: { id: second.contentId } })).status).toBe(404);
    expect((await request(user, RestoreContent, { params: { id: second.contentId } })).status).toBe(404);
    expect((await download(user, second.contentId)).status).toBe(404);
    await eventually(async () => (await objectsUnder(system, `generation/${user.userId}/`)).length === 1, { what: 'the second’s object removed' });
    expect((await as(user).call(ListContents, { query: { deleted: 'true' } })).items.map((item) => item.id)).toEqual([first.contentId]);

    // Day 15: the first's second stay in the trash is over too; nothing of either is left.
    await moveClock(7 * DAY);
    await logInAgain(user);
    await eventually(async () => (await system.sql('SELECT 1 FROM generation.contents WHERE user_id = $1', [user.userId])).length === 0, { what: 'the first removed' });
    expect((await request(user, RestoreContent, { params: { id: first.contentId } })).status).toBe(404);
    await eventually(async () => (await objectsUnder(system, `generation/${user.userId}/`)).length === 0, { what: 'every object removed' });
    expect((await as(user).call(ListContents, { query: { deleted: 'true' } })).items).toEqual([]);
  }, 120_000);
});

describe('Prime switches the retention of existing content (§5.4)', () => {
  it('keeps content without an expiry while Prime lasts and puts it back on the standard rule when Prime ends', async () => {
    const user = await newUser();
    const before = await succeeded(user, { kind: 'poem', prompt: `a poem about a ${PROMPT_MARKER} at dawn` });
    const planned = await as(user).call(GetContent, { params: { id: before.contentId } });
    expect(new Date(planned.expiresAt!).getTime() - new Date(planned.createdAt).getTime()).toBe(90 * DAY);

    // A real purchase through the local checkout: billing announces Prime, identity and generation follow.
    const products = (await as(user).call(ListProducts)).items.filter((product) => product.kind === 'prime');
    expect(products.length).toBeGreaterThan(0);
    const prime = products.sort((a, b) => a.primeDays! - b.primeDays!)[0]!;
    const order = await as(user).call(CreateOrder, { body: { productId: prime.id } });
    expect((await submitCheckout(order.checkoutUrl, 'confirm')).status).toBe(200);
    await eventually(async () => (await as(user).call(GetMe)).prime.active, { what: 'Prime active on /v1/me' });
    await eventually(async () => (await as(user).call(GetContent, { params: { id: before.contentId } })).expiresAt === null, { what: 'expiry lifted' });
    // Made during Prime: no expiry from the start.
    const during = await succeeded(user, { kind: 'text', prompt: `a thank-you note for a ${PROMPT_MARKER}`, assistantStyle: 'greeting' });
    expect((await as(user).call(GetContent, { params: { id: during.contentId } })).expiresAt).toBeNull();
    const primeEnd = new Date((await as(user).call(GetMe)).prime.expiresAt!).getTime();
    expect(primeEnd - Date.now() - clockOffsetMs).toBeGreaterThan((prime.primeDays! - 1) * DAY);

    // The clock passes the end: billing's sweep ends Prime, generation re-plans both items.
    await moveClock(prime.primeDays! * DAY + DAY);
    await logInAgain(user);
    await eventually(async () => !(await as(user).call(GetMe)).prime.active, { what: 'Prime ended on /v1/me', timeoutMs: 20_000 });
    for (const { contentId } of [before, during]) {
      await eventually(async () => (await as(user).call(GetContent, { params: { id: contentId } })).expiresAt !== null, { what: 'expiry back' });
      const replanned = await as(user).call(GetContent, { params: { id: contentId } });
      // The later of creation and Prime's end, plus 90 days: here Prime's end.
      expect(Math.abs(new Date(replanned.expiresAt!).getTime() - (primeEnd + 90 * DAY))).toBeLessThan(1_000);
    }
  }, 120_000);
});
