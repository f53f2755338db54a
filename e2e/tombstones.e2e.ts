import { randomUUID } from 'node:crypto';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetUpload, PurgeCompletedV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { startTestSystem, type TestSystem } from './support/test-system.js';
import { objectsUnder } from './support/privacy.js';

// Defect 8 (tombstones after deletion) and defect 9 (expired uploads) through the real
// processes. Media's sweeper and retention's clock are set to run only once an hour here, so
// anything that answers 404 for an expired upload does so by reading `expires_at`, not
// because a sweep or an expiry event ran.

const PASSWORD = 'a long and uncommon passphrase';
let system: TestSystem;
let mediaTmp: string;

beforeAll(async () => {
  mediaTmp = join(tmpdir(), `media-tmp-${randomUUID()}`);
  system = await startTestSystem({
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: '10000',
      RATE_LIMIT_WRITE_PER_MINUTE: '10000',
      MEDIA_TMP_DIR: mediaTmp,
      UPLOAD_SWEEP_INTERVAL_MS: '3600000',
      // Retention's clock too: defect 9's test needs an expired row that nothing has deleted yet.
      RETENTION_TICK_MS: '3600000',
    },
  });
}, 120_000);
afterAll(async () => {
  await system?.stop();
  await rm(mediaTmp, { recursive: true, force: true });
});

async function newUser(): Promise<{ userId: string; token: string; email: string }> {
  const tag = randomUUID().slice(0, 12);
  const email = `ts.${tag}@example.com`;
  const { user } = await system.api().accounts.register({ email, username: `ts_${tag}`, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await system.api().accounts.login({ login: email, password: PASSWORD });
  return { userId: user.id, token: accessToken, email };
}

async function upload(token: string, text: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new FormData();
  form.append('file', new Blob([text], { type: 'text/plain' }), 'note.txt');
  const response = await fetch(`${system.gateways[0]}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * A multipart upload whose body is sent in two halves: the first at once, the second
 * (with the closing boundary) only when `finish` is called — a slow client, or a 200 MB
 * file still on its way.
 */
function heldUpload(token: string): { finish: () => void; answer: Promise<{ status: number; body: Record<string, unknown> }> } {
  const boundary = `----held${randomUUID().replaceAll('-', '')}`;
  const head = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="slow.txt"\r\ncontent-type: text/plain\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const first = `${'the first half of a slow note\n'.repeat(200)}`;
  const second = 'and the second half, sent after the account was deleted\n';
  const url = new URL(`${system.gateways[0]}/v1/uploads`);
  let request!: ClientRequest;
  const answer = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    request = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
  request.write(head + first);
  return { finish: () => request.end(second + tail), answer };
}


describe('nothing is stored for an account after its deletion (defect 8)', () => {
  it('an upload still streaming while the account is deleted and purged is refused with 401 when it ends: no row, no object, a true receipt', async () => {
    const { userId, token } = await newUser();
    expect((await upload(token, 'an earlier note\n')).status).toBe(201);

    const slow = heldUpload(token);
    // The first half has reached media: its work directory exists.
    await eventually(async () => (await readdir(mediaTmp).catch(() => [])).some((entry) => entry.startsWith('upload-')), { what: 'the upload in progress at media' });

    const { erasureId } = await system.api({ token }).accounts.deleteMe(PASSWORD);
    const mediaReceipt = async () => (await system.events(PurgeCompletedV1)).find((event) => event.service === 'media' && event.erasureId === erasureId);
    await eventually(async () => (await mediaReceipt()) !== undefined, { what: 'media’s purge receipt', timeoutMs: 20_000 });

    slow.finish();
    const answer = await slow.answer;
    expect(answer.status).toBe(401);
    expect(answer.body.error).toEqual({ code: 'unauthorized', message: 'this account has been deleted; nothing was stored' });

    expect(await system.sql('SELECT 1 FROM media.uploads WHERE user_id = $1', [userId])).toEqual([]);
    expect(await objectsUnder(system, `media/${userId}/`)).toEqual([]);
    expect(await system.sql('SELECT 1 FROM media.tombstones WHERE user_id = $1', [userId])).toHaveLength(1);
    // The receipt counts what the purge found — the earlier upload — and nothing appeared after it.
    expect((await mediaReceipt())!.counts).toEqual({ uploads: 1, objects: 1 });
    expect(await readdir(mediaTmp)).toEqual([]);
  }, 60_000);
});

// Last in this file: it moves every process's clock a week forward.
describe('an expired upload answers 404 at once, before any sweep (defect 9)', () => {
  it('get, file and list treat an upload past its 7 days as gone while its row still waits for the hourly sweep', async () => {
    const { token, email } = await newUser();
    const { body } = await upload(token, 'expiring soon\n');
    const id = String(body.id);
    await system.setClockOffset(7 * 24 * 3600 * 1000 + 60_000);
    // A week later the old access token has long expired: log in again to look.
    const { accessToken } = await system.api().accounts.login({ login: email, password: PASSWORD });
    const api = system.api({ token: accessToken });
    expect((await api.raw(GetUpload, { params: { id } })).status).toBe(404);
    expect((await fetch(`${system.gateways[0]}/v1/uploads/${id}/file`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(404);
    const list = (await (await fetch(`${system.gateways[0]}/v1/uploads`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
    // No sweep has run: the row is still there, and only the clock hides it.
    expect(await system.sql('SELECT 1 FROM media.uploads WHERE id = $1', [id])).toHaveLength(1);
  }, 60_000);
});
