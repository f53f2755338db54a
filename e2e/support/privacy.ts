import { createPublicKey, verify } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { GetGeneration, ListProducts, CreateOrder, type GetErasure, type GetReceiptKeys, type HttpResponse } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { submitCheckout } from './webhooks.js';
import type { TestSystem } from './test-system.js';

export const PASSWORD = 'a long and uncommon passphrase';

export interface Person {
  userId: string;
  email: string;
  username: string;
  token: string;
}

export async function register(system: TestSystem, label: string): Promise<Person> {
  const tag = randomUUID().slice(0, 10);
  const email = `${label}.${tag}@example.com`;
  const username = `${label}_${tag}`;
  const { user } = await system.api().accounts.register({ email, username, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await system.api().accounts.login({ login: email, password: PASSWORD });
  return { userId: user.id, email, username, token: accessToken };
}

/** An account with the operator role: only seed-operator grants it in production; a test sets the column. */
export async function operator(system: TestSystem): Promise<Person> {
  const person = await register(system, 'ops');
  await system.sql("UPDATE identity.users SET role = 'operator' WHERE id = $1", [person.userId]);
  const { accessToken } = await system.api().accounts.login({ login: person.email, password: PASSWORD });
  return { ...person, token: accessToken };
}

export async function uploadText(system: TestSystem, person: Person, text: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([text], { type: 'text/plain' }), 'note.txt');
  const response = await fetch(`${system.gateways[0]}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${person.token}` }, body: form });
  const body = (await response.json()) as { id: string };
  if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** Generates and waits; answers the content id. */
export async function generate(system: TestSystem, person: Person, kind: 'poem' | 'image' | 'text', prompt: string): Promise<string> {
  const api = system.api({ token: person.token });
  const { id } = await api.generations.create({ kind, prompt });
  let job: HttpResponse<typeof GetGeneration> | undefined;
  await eventually(
    async () => {
      job = await api.call(GetGeneration, { params: { id } });
      return job.status === 'succeeded' || job.status === 'failed';
    },
    { what: `generation ${id}`, timeoutMs: 60_000 },
  );
  if (job?.status !== 'succeeded' || !job.contentId) throw new Error(`generation ${id} ended ${job?.status}: ${JSON.stringify(job)}\n${system.logs.filter((line) => line.includes('"service":"generation"')).slice(-8).join('\n')}`);
  return job.contentId;
}

/** Buys the cheapest product of a kind through the local processor's checkout page. */
export async function buy(system: TestSystem, person: Person, kind: 'energy' | 'prime'): Promise<string> {
  const api = system.api({ token: person.token });
  const product = (await api.call(ListProducts)).items.filter((item) => item.kind === kind).sort((a, b) => a.amount - b.amount)[0];
  if (!product) throw new Error(`no ${kind} product`);
  const order = await api.call(CreateOrder, { body: { productId: product.id } });
  const confirmed = await submitCheckout(order.checkoutUrl, 'confirm');
  if (confirmed.status !== 200) throw new Error(`checkout answered ${confirmed.status}`);
  return order.orderId;
}

/** Every table of every service schema whose rows, as text, mention `needle` (tombstones excepted: see docs). */
export async function tablesMentioning(system: TestSystem, needle: string, options: { except?: string[] } = {}): Promise<string[]> {
  const tables = await system.sql<{ schema: string; table: string }>(
    `SELECT table_schema AS schema, table_name AS table FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema', 'public')`,
  );
  const found: string[] = [];
  for (const { schema, table } of tables) {
    if (options.except?.includes(table)) continue;
    const [row] = await system.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}"."${table}" t WHERE strpos(lower(t::text), lower($1)) > 0`, [needle]);
    if ((row?.n ?? 0) > 0) found.push(`${schema}.${table}`);
  }
  return found;
}

/** Verifies a completed erasure's compact JWS with the served keys, the way docs/erasure-receipts.md does it offline. */
/** Every object key under a prefix of the system's bucket (the embedded S3 server's fixed development keys). */
export async function objectsUnder(system: Pick<TestSystem, 's3'>, prefix: string): Promise<string[]> {
  const { Client } = await import('minio');
  const client = new Client({ endPoint: '127.0.0.1', port: Number(new URL(system.s3.url).port), useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER' });
  const names: string[] = [];
  for await (const item of client.listObjects(system.s3.config.bucket, prefix, true)) if (item.name) names.push(String(item.name));
  return names;
}

export function verifyReceipt(jws: string, keys: HttpResponse<typeof GetReceiptKeys>): { valid: boolean; payload: unknown } {
  const [headerPart, payloadPart, signaturePart] = jws.split('.');
  if (!headerPart || !payloadPart || !signaturePart) return { valid: false, payload: undefined };
  const header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as { alg: string; kid: string };
  const key = keys.keys.find((candidate) => candidate.kid === header.kid);
  if (header.alg !== 'EdDSA' || !key) return { valid: false, payload: undefined };
  const publicKey = createPublicKey({ key: { ...key.jwk }, format: 'jwk' });
  const valid = verify(null, Buffer.from(`${headerPart}.${payloadPart}`), publicKey, Buffer.from(signaturePart, 'base64url'));
  return { valid, payload: JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) };
}

export async function completedErasure(system: TestSystem, erasureId: string, timeoutMs = 30_000): Promise<HttpResponse<typeof GetErasure>> {
  let erasure: HttpResponse<typeof GetErasure> | undefined;
  await eventually(
    async () => {
      // 404 until retention has opened it (events travel asynchronously).
      const answer = await system.api().raw({ method: 'GET', path: '/v1/privacy/erasures/:erasureId', auth: 'public' }, { params: { erasureId } });
      if (answer.status === 404) return false;
      erasure = answer.body as HttpResponse<typeof GetErasure>;
      return erasure.status === 'completed';
    },
    { what: `erasure ${erasureId} completed`, timeoutMs },
  );
  return erasure!;
}
