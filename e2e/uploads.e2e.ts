import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import exifr from 'exifr';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetUpload, PurgeCompletedV1, UploadExpiredV1, type MediaRpc } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import {
  allTags,
  createTempDir,
  emptyFile,
  ffprobeJson,
  htmlFile,
  jpegWithEverything,
  jpegZipPolyglot,
  latin1Text,
  mp3WithTags,
  mp4WithTags,
  patternJpeg,
  PLANTED,
  PLANTED_TAGS,
  pngBomb,
  pngWithTextChunks,
  svgFile,
  truncatedJpeg,
  zipFile,
} from '@homiwork/media-fixtures';
import { formatDHash, imageDHash } from '@homiwork/perceptual-hash';
import { startTestSystem, type TestSystem } from './support/test-system.js';

const PASSWORD = 'a long and uncommon passphrase';
let system: TestSystem;
let fixtures: string;
let mediaTmp: string;
let blocked: string;

beforeAll(async () => {
  fixtures = await createTempDir('uploads-e2e-');
  mediaTmp = join(tmpdir(), `media-tmp-${randomUUID()}`);
  // A distinctive picture whose hash is on the block-list for this run.
  blocked = await patternJpeg(fixtures, 'blocked.jpg', 'b');
  const hash = await imageDHash(blocked);
  system = await startTestSystem({
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: '10000',
      RATE_LIMIT_WRITE_PER_MINUTE: '10000',
      MEDIA_TMP_DIR: mediaTmp,
      MEDIA_MAX_TEXT_MB: '0.01',
      UPLOAD_MAX_BYTES: String(30 * 1024 * 1024),
      MODERATION_IMAGE_BLOCKLIST: formatDHash(hash),
      MODERATION_TEXT_RULES: 'forbidden-phrase=forbidden\\s+phrase',
      UPLOAD_SWEEP_INTERVAL_MS: '200',
    },
  });
}, 120_000);
afterAll(async () => {
  await system?.stop();
  await rm(fixtures, { recursive: true, force: true });
  await rm(mediaTmp, { recursive: true, force: true });
});

async function newUser(): Promise<{ userId: string; token: string; email: string }> {
  const tag = randomUUID().slice(0, 12);
  const email = `up.${tag}@example.com`;
  const { user } = await system.api().accounts.register({ email, username: `up_${tag}`, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await system.api().accounts.login({ login: email, password: PASSWORD });
  return { userId: user.id, token: accessToken, email };
}

async function upload(token: string, file: Buffer | string, options: { name?: string; type?: string; field?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const bytes = typeof file === 'string' ? await readFile(file) : file;
  const form = new FormData();
  form.append(options.field ?? 'file', new Blob([bytes], { type: options.type ?? 'application/octet-stream' }), options.name ?? 'upload.bin');
  const response = await fetch(`${system.gateways[0]}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function download(token: string, id: string): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const response = await fetch(`${system.gateways[0]}/v1/uploads/${id}/file`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()), type: response.headers.get('content-type') };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Every stored object of the run, downloaded and hashed, plus every row of every table. */
async function everythingStored(): Promise<{ objectHashes: string[]; rows: string[]; uploadCount: number }> {
  const keys: string[] = [];
  const { Client } = await import('minio');
  const client = new Client({ endPoint: '127.0.0.1', port: Number(new URL(system.s3.url).port), useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER' });
  for await (const item of client.listObjects(system.s3.config.bucket, '', true)) if (item.name) keys.push(String(item.name));
  const objectHashes: string[] = [];
  for (const key of keys) {
    const chunks: Buffer[] = [];
    for await (const chunk of await client.getObject(system.s3.config.bucket, key)) chunks.push(chunk as Buffer);
    objectHashes.push(sha256(Buffer.concat(chunks)));
  }
  const tables = await system.sql<{ s: string; t: string }>("SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')");
  const rows: string[] = [];
  for (const { s, t } of tables) for (const { row } of await system.sql<{ row: string }>(`SELECT row_to_json(x)::text AS row FROM "${s}"."${t}" x`)) rows.push(row);
  const [count] = await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM media.uploads');
  return { objectHashes, rows, uploadCount: count!.n };
}

async function tempDirIsEmpty(): Promise<boolean> {
  return (await readdir(mediaTmp).catch(() => [])).length === 0;
}

describe('images are transformed before anything keeps them (R3.2)', () => {
  it('turns a 4000×3000 JPEG with EXIF, GPS, XMP, IPTC, ICC and orientation 6 into an upright, bounded WebP with no metadata', async () => {
    const { token } = await newUser();
    const original = await jpegWithEverything(fixtures);
    const answer = await upload(token, original, { name: 'holiday.jpg', type: 'image/jpeg' });
    expect(answer.status).toBe(201);
    const created = answer.body as unknown as MediaRpc.Upload;
    expect(created).toMatchObject({ kind: 'image', mimeType: 'image/webp', width: 1152, height: 1536 });
    expect(new Date(created.expiresAt).getTime() - new Date(created.createdAt).getTime()).toBe(7 * 24 * 3600 * 1000);

    const file = await download(token, created.id);
    expect(file.status).toBe(200);
    expect(file.type).toBe('image/webp');
    const originalBytes = await readFile(original);
    expect(sha256(file.bytes)).not.toBe(sha256(originalBytes));
    const meta = await sharp(file.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([1152, 1536]);
    expect(meta.exif ?? meta.icc ?? meta.xmp ?? meta.iptc).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    const parsed = (await exifr.parse(file.bytes, { tiff: true, gps: true, xmp: true, iptc: true, icc: true, exif: true }).catch(() => undefined)) as unknown;
    expect(parsed ?? {}).toEqual({});
    const text = file.bytes.toString('latin1');
    for (const planted of [PLANTED.make, PLANTED.model, PLANTED.xmpCreator, PLANTED.iptcByline]) expect(text).not.toContain(planted);
    // Upright: the red marker stored at the top-left shows at the top-right.
    const { data } = await sharp(file.bytes).resize(12, 16).raw().toBuffer({ resolveWithObject: true });
    const topRight = (11) * 3;
    expect(data[topRight]!).toBeGreaterThan(150);
  });

  it('removes the text chunks of a PNG', async () => {
    const { token } = await newUser();
    const answer = await upload(token, await pngWithTextChunks(fixtures), { name: 'scan.png', type: 'image/png' });
    expect(answer.status).toBe(201);
    const file = await download(token, String(answer.body.id));
    const text = file.bytes.toString('latin1');
    for (const planted of [PLANTED.pngAuthor, PLANTED.pngComment, PLANTED.pngGps]) expect(text).not.toContain(planted);
  });

  it('drops what a JPEG/ZIP polyglot hides after the image', async () => {
    const { token } = await newUser();
    const answer = await upload(token, await jpegZipPolyglot(fixtures), { name: 'innocent.jpg', type: 'image/jpeg' });
    expect(answer.status).toBe(201);
    expect((await download(token, String(answer.body.id))).bytes.includes(Buffer.from('PK\x03\x04', 'latin1'))).toBe(false);
  });
});

describe('audio and video are re-encoded without tags (R3.3)', () => {
  it('strips title, artist, comment, creation time and location from an MP4 and an MP3', async () => {
    const { token } = await newUser();
    for (const [make, name, kind] of [[mp4WithTags, 'clip.mp4', 'video'], [mp3WithTags, 'song.mp3', 'audio']] as const) {
      const answer = await upload(token, await make(fixtures), { name });
      expect(answer.status, name).toBe(201);
      expect(answer.body.kind).toBe(kind);
      expect(answer.body.durationMs).toBeGreaterThan(1000);
      const file = await download(token, String(answer.body.id));
      const out = join(fixtures, `out-${name}`);
      await writeFile(out, file.bytes);
      const tags = allTags(await ffprobeJson(out)).join('\n');
      for (const planted of Object.values(PLANTED_TAGS)) expect(tags, name).not.toContain(planted);
      expect(tags).not.toMatch(/creation_time=|location=|encoder=Lavf/);
      // The one tag left is the codec name MP4 stores per stream, without any version.
      for (const tag of tags.split('\n').filter((line) => line.startsWith('encoder='))) expect(tag).toBe('encoder=Lavc libx264');
      if (kind === 'video') expect(answer.body.height).toBeLessThanOrEqual(720);
    }
  });
});

describe('the original never stays (R3.2)', () => {
  it('leaves no copy of the original bytes in storage or tables, after a success and after a failure, and an empty temp directory', async () => {
    const { token } = await newUser();
    const good = await readFile(await jpegWithEverything(fixtures));
    const bad = await readFile(await truncatedJpeg(fixtures));
    expect((await upload(token, good, { name: 'a.jpg' })).status).toBe(201);
    expect((await upload(token, bad, { name: 'b.jpg' })).status).toBe(422);
    const stored = await everythingStored();
    for (const original of [good, bad]) {
      expect(stored.objectHashes).not.toContain(sha256(original));
      for (const row of stored.rows) expect(row).not.toContain(sha256(original));
    }
    expect(await tempDirIsEmpty()).toBe(true);
  });
});

describe('bad input: a clear 4xx, nothing stored, the service still healthy (R3.1)', () => {
  const cases: Array<[string, () => Promise<{ file: Buffer | string; name?: string; type?: string; field?: string }>, number, string]> = [
    ['an empty file', async () => ({ file: await emptyFile(fixtures) }), 400, 'empty_file'],
    ['a truncated JPEG', async () => ({ file: await truncatedJpeg(fixtures), name: 'x.jpg' }), 422, 'unreadable_image'],
    ['a PNG declaring 50,000×50,000 pixels', async () => ({ file: await pngBomb(fixtures), name: 'bomb.png' }), 413, 'image_too_large'],
    ['a JPEG renamed .mp3', async () => ({ file: await jpegWithEverything(fixtures), name: 'song.mp3', type: 'audio/mpeg' }), 415, 'type_mismatch'],
    ['an HTML file', async () => ({ file: await htmlFile(fixtures), name: 'page.txt', type: 'text/plain' }), 415, 'unsupported_type'],
    ['an SVG file', async () => ({ file: await svgFile(fixtures), name: 'logo.svg' }), 415, 'unsupported_type'],
    ['a zip', async () => ({ file: await zipFile(fixtures), name: 'archive.zip' }), 415, 'unsupported_type'],
    ['text that is not UTF-8', async () => ({ file: await latin1Text(fixtures), name: 'notes.txt' }), 415, 'unsupported_type'],
    ['text over its kind’s size limit', () => Promise.resolve({ file: Buffer.from('all good text\n'.repeat(1000)), name: 'long.txt' }), 413, 'file_too_large'],
    ['a file over the upload limit', () => Promise.resolve({ file: Buffer.alloc(31 * 1024 * 1024, 7), name: 'huge.bin' }), 413, 'file_too_large'],
    ['a wrong multipart field', () => Promise.resolve({ file: Buffer.from('hello'), field: 'document' }), 400, 'missing_file'],
  ];
  for (const [what, make, status, code] of cases) {
    it(`refuses ${what} with ${status} ${code}`, async () => {
      const { token } = await newUser();
      const before = await everythingStored();
      const input = await make();
      const answer = await upload(token, input.file, input);
      expect(answer.status).toBe(status);
      expect((answer.body.error as { code: string }).code).toBe(code);
      const after = await everythingStored();
      expect(after.uploadCount).toBe(before.uploadCount);
      expect(after.objectHashes.length).toBe(before.objectHashes.length);
      expect(await tempDirIsEmpty()).toBe(true);
      expect((await fetch(`${system.gateways[0]}/health/ready`)).status).toBe(200);
    });
  }

  it('refuses a decompression bomb quickly and without the media process swelling', async () => {
    const { token } = await newUser();
    const metrics = async () => Number(/process_resident_memory_bytes\{service="media"\} (\d+)/.exec(await (await fetch(`http://127.0.0.1:${mediaOpsPort()}/metrics`)).text())?.[1]);
    const before = await metrics();
    const started = performance.now();
    expect((await upload(token, await pngBomb(fixtures), { name: 'bomb.png' })).status).toBe(413);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect((await metrics()) - before).toBeLessThan(100 * 1024 * 1024);
  });
});

function mediaOpsPort(): string {
  return new URL(system.opsUrl('media')).port;
}

describe('ownership, deletion and expiry (R3.4)', () => {
  it('never shows or deletes another user’s upload (404)', async () => {
    const owner = await newUser();
    const stranger = await newUser();
    const { body } = await upload(owner.token, Buffer.from('my private note\n'), { name: 'note.txt' });
    const id = String(body.id);
    expect((await system.api({ token: stranger.token }).raw(GetUpload, { params: { id } })).status).toBe(404);
    expect((await download(stranger.token, id)).status).toBe(404);
    expect((await fetch(`${system.gateways[0]}/v1/uploads/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${stranger.token}` } })).status).toBe(404);
    expect((await download(owner.token, id)).bytes.toString()).toBe('my private note\n');
    const list = (await (await fetch(`${system.gateways[0]}/v1/uploads`, { headers: { authorization: `Bearer ${stranger.token}` } })).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });

  it('deletes an upload and its object on DELETE', async () => {
    const { token } = await newUser();
    const { body } = await upload(token, Buffer.from('short-lived\n'), { name: 'a.txt' });
    const before = await everythingStored();
    const response = await fetch(`${system.gateways[0]}/v1/uploads/${String(body.id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(204);
    expect((await download(token, String(body.id))).status).toBe(404);
    expect((await everythingStored()).objectHashes.length).toBe(before.objectHashes.length - 1);
  });

  it('purges every upload and object of an erased account and confirms with PurgeCompleted', async () => {
    const { token, userId } = await newUser();
    await upload(token, Buffer.from('one\n'), { name: 'one.txt' });
    await upload(token, await patternJpeg(fixtures, 'mine.jpg', 'a'), { name: 'mine.jpg' });
    const { erasureId } = await system.api({ token }).accounts.deleteMe(PASSWORD);
    await eventually(async () => (await system.sql('SELECT 1 FROM media.uploads WHERE user_id = $1', [userId])).length === 0, { what: 'uploads purged' });
    await eventually(async () => (await system.events(PurgeCompletedV1)).some((event) => event.service === 'media' && event.erasureId === erasureId), { what: 'media receipt' });
    const receipt = (await system.events(PurgeCompletedV1)).find((event) => event.service === 'media' && event.erasureId === erasureId)!;
    expect(receipt.counts).toEqual({ uploads: 2, objects: 2 });
    const { Client } = await import('minio');
    const client = new Client({ endPoint: '127.0.0.1', port: Number(new URL(system.s3.url).port), useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER' });
    const left: string[] = [];
    for await (const item of client.listObjects(system.s3.config.bucket, `media/${userId}/`, true)) left.push(String(item.name));
    expect(left).toEqual([]);
  });

  it('purges an upload when retention announces UploadExpired, and confirms', async () => {
    const { token, userId } = await newUser();
    const { body } = await upload(token, Buffer.from('announced expiry\n'), { name: 'x.txt' });
    await system.publish(UploadExpiredV1, { userId, uploadId: String(body.id), expiredAt: new Date().toISOString() });
    await eventually(async () => (await system.sql('SELECT 1 FROM media.uploads WHERE id = $1', [body.id])).length === 0, { what: 'upload purged' });
    await eventually(
      async () => (await system.events(PurgeCompletedV1)).some((event) => event.scopeId === body.id && event.trigger?.type === UploadExpiredV1.type && event.counts.objects === 1),
      { what: 'receipt naming its trigger' },
    );
    expect((await download(token, String(body.id))).status).toBe(404);
  });

  it('deletes uploads once their 7 days are over', async () => {
    const { token, email } = await newUser();
    const { body } = await upload(token, Buffer.from('expiring\n'), { name: 'e.txt' });
    await system.setClockOffset(7 * 24 * 3600 * 1000 + 60_000);
    await eventually(async () => (await system.sql('SELECT 1 FROM media.uploads WHERE id = $1', [body.id])).length === 0, { what: 'upload expired' });
    // A week later the old access token has long expired: log in again to look.
    const { accessToken } = await system.api().accounts.login({ login: email, password: PASSWORD });
    expect((await download(accessToken, String(body.id))).status).toBe(404);
    await eventually(async () => (await system.events(PurgeCompletedV1)).some((event) => event.scope === 'upload' && event.scopeId === body.id), { what: 'expiry receipt' });
  });
});

describe('moderation (R3.5, §12.2)', () => {
  it('refuses a block-listed image and blocks its uploader, through NATS', async () => {
    const { token, email } = await newUser();
    const answer = await upload(token, blocked, { name: 'x.jpg' });
    expect(answer.status).toBe(422);
    expect((answer.body.error as { code: string }).code).toBe('content_rejected');
    await eventually(async () => (await system.api().raw({ method: 'POST', path: '/v1/auth/login', auth: 'public' }, { body: { login: email, password: PASSWORD } })).status === 403, {
      what: 'uploader blocked',
    });
    await eventually(async () => (await fetch(`${system.gateways[0]}/v1/uploads`, { headers: { authorization: `Bearer ${token}` } })).status === 401, { what: 'tokens revoked' });
  });

  it('refuses text matching a rule', async () => {
    const { token } = await newUser();
    const answer = await upload(token, Buffer.from('this contains a Forbidden   Phrase inside\n'), { name: 'a.txt' });
    expect(answer.status).toBe(422);
  });
});

// Last in this file: it kills and restarts the media process.
describe('originals left by a crash are cleared when media starts (R3.2)', () => {
  it('a media process killed mid-upload leaves its work directory; the restarted media removes it before serving', async () => {
    const { token } = await newUser();
    // A slow client: half a text file sent, the rest never comes.
    const boundary = `----held${randomUUID().replaceAll('-', '')}`;
    const url = new URL(`${system.gateways[0]}/v1/uploads`);
    const held = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } });
    held.on('error', () => undefined);
    held.write(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="diary.txt"\r\ncontent-type: text/plain\r\n\r\n${'a private diary line\n'.repeat(500)}`);
    const workDirs = async () => (await readdir(mediaTmp).catch(() => [])).filter((entry) => entry.startsWith('upload-'));
    await eventually(async () => (await workDirs()).length === 1, { what: 'the upload in progress at media' });

    const media = system.supervisor.status().find((instance) => instance.service === 'media')!;
    process.kill(media.pid!, 'SIGKILL');
    await eventually(() => system.supervisor.status().find((instance) => instance.service === 'media')!.state !== 'ready', { what: 'media down' });
    // Nothing removed the crashed process's directory, with the original in it.
    expect(await workDirs()).toHaveLength(1);
    await eventually(() => {
      const now = system.supervisor.status().find((instance) => instance.service === 'media')!;
      return now.state === 'ready' && now.restarts === media.restarts + 1;
    }, { what: 'media restarted and ready', timeoutMs: 30_000 });
    expect(await workDirs()).toEqual([]);
    held.destroy();
  }, 60_000);
});
