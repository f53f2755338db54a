import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationFinishedV1, GenerationRpc, ProcessingRestrictionChangedV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { GenerationMetrics } from '../src/generation-metrics.js';
import { startHarness, type Harness } from './harness.js';

// R7.3 after the fact: a restriction or objection that comes into force after a job was
// queued, or after chat accepted a message, still stops the processing — the job runner and
// chat.reply check the mirror again before anything is sent to the provider. The provider is
// a local http stand-in that can hold its answers, so a job can be kept queued behind another.

let provider: Server;
let h: Harness;
/** Every request the provider received (kind only: nothing else is needed here). */
const received: string[] = [];
/** While set, the provider holds each answer until the test releases it. */
let holding = true;
const held: Array<() => void> = [];

function answer(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: 'Autumn leaves fall softly down.' }));
}

beforeAll(async () => {
  provider = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { kind: string }).kind);
      if (holding) held.push(() => answer(response));
      else answer(response);
    });
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  h = await startHarness({
    CONTRACTOR_ADAPTERS: 'poem=http,text=http',
    CONTRACTOR_URL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`,
    CONTRACTOR_API_KEY: 'a-test-key-for-the-stand-in-provider',
    CONTRACTOR_RETRIES: '0',
    CONTRACTOR_TIMEOUT_MS: '20000',
    // One job at a time: the second waits in the queue behind the held first.
    GENERATION_CONCURRENCY: '1',
  });
}, 60_000);
afterAll(async () => {
  for (const release of held) release();
  await h?.stop();
  provider?.closeAllConnections();
  await new Promise<void>((resolve) => provider?.close(() => resolve()));
});

const mirror = (userId: string) => h.sql<{ restricted: boolean }>('SELECT restricted FROM generation.processing_restrictions WHERE user_id = $1', [userId]);

async function restrict(userId: string): Promise<void> {
  await h.publish(ProcessingRestrictionChangedV1, { userId, restricted: true, changedAt: new Date().toISOString() });
  await eventually(async () => (await mirror(userId))[0]?.restricted === true, { what: 'the restriction to be mirrored' });
}

describe('a restriction that comes into force after the request was accepted', () => {
  it('a job already queued fails processing_restricted when it comes to run: nothing sent, refunded (GenerationFinished failed)', async () => {
    const blocker = h.newUser();
    const user = h.newUser();
    const first = await h.call(GenerationRpc.CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about the sea' }, blocker.id);
    await eventually(() => received.length === 1 && held.length === 1, { what: 'the first job to reach the provider' });
    const queued = await h.call(GenerationRpc.CreateGenerationRoute, { kind: 'poem', prompt: 'a poem about autumn' }, user.id);
    expect(queued.status).toBe('queued');

    await restrict(user.id);
    holding = false;
    held.shift()!();

    await expect(h.finished(first.id, blocker.id)).resolves.toMatchObject({ status: 'succeeded' });
    const ended = await h.finished(queued.id, user.id);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'processing_restricted' } });
    expect(received).toHaveLength(1);
    await eventually(async () => (await h.events(GenerationFinishedV1)).some((event) => event.jobId === queued.id), { what: 'GenerationFinished of the restricted job' });
    expect((await h.events(GenerationFinishedV1)).filter((event) => event.jobId === queued.id)).toEqual([expect.objectContaining({ userId: user.id, outcome: 'failed' })]);
    expect(await h.sql('SELECT 1 FROM generation.contents WHERE user_id = $1', [user.id])).toHaveLength(0);
  });

  it('chat.reply for a restricted user: 403 processing_restricted, nothing sent to the provider', async () => {
    holding = false;
    const user = h.newUser();
    await restrict(user.id);
    const before = received.length;
    const counted = async () => (await h.service.app.get(GenerationMetrics).chatReplies.get()).values.find((value) => value.labels.outcome === 'processing_restricted')?.value ?? 0;
    const countedBefore = await counted();
    await expect(h.call(GenerationRpc.ChatReplyRoute, { userId: user.id, style: 'greeting', turns: [{ role: 'user', text: 'A card for my sister, please.' }] }, user.id)).rejects.toMatchObject({
      status: 403,
      code: 'processing_restricted',
    });
    expect(received).toHaveLength(before);
    expect(await counted()).toBe(countedBefore + 1);
  });
});
