import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GenerationRpc, ProhibitedContentDetectedV1, UserDeletedV1 } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { GenerationMetrics } from '../src/generation-metrics.js';
import { startHarness, type Harness, type TestUser } from './harness.js';

// chat.reply end to end in the running service: the real route, identity's stand-in, the
// egress with the http adapter against a local provider that keeps every request, real
// PostgreSQL and NATS. Nothing identifying may reach the provider, and generation keeps nothing.

const { ChatReplyRoute } = GenerationRpc;

interface Received {
  raw: string;
  body: { jobId: string; kind: string; prompt: string; options: unknown; inputs: unknown[] };
}
const received: Received[] = [];
/** What the provider answers next: a reply text, or a failure. */
let answer: { status: number; body: string } = { status: 200, body: JSON.stringify({ text: 'Here is your greeting: happy sailing!' }) };
let provider: Server;
let h: Harness;

beforeAll(async () => {
  provider = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ raw: `${request.url} ${JSON.stringify(request.rawHeaders)} ${body}`, body: JSON.parse(body) as Received['body'] });
      if (answer.status === 0) return; // never answers
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  h = await startHarness({
    MODERATION_TEXT_RULES: 'arson=set\\s+fire\\s+to',
    CONTRACTOR_ADAPTERS: 'text=http',
    CONTRACTOR_URL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`,
    CONTRACTOR_API_KEY: 'a-test-key-for-the-stand-in-provider',
    CONTRACTOR_RETRIES: '0',
    CONTRACTOR_TIMEOUT_MS: '20000',
    CHAT_REPLY_TIMEOUT_MS: '1000',
  });
}, 60_000);
afterAll(async () => {
  await h?.stop();
  provider?.closeAllConnections();
  await new Promise<void>((resolve) => provider?.close(() => resolve()));
});
beforeEach(() => {
  received.length = 0;
  answer = { status: 200, body: JSON.stringify({ text: 'Here is your greeting: happy sailing!' }) };
});

const phone = '+49 170 1234567';
function conversationOf(user: TestUser) {
  return [
    { role: 'user' as const, text: `Hello, I am ${user.username} (${user.email}). A card for my sister, please.` },
    { role: 'assistant' as const, text: 'Gladly! What should it say?' },
    { role: 'user' as const, text: `Sign it from ${user.username.replace('_', ' ')} and add ${phone} and ${user.email.toUpperCase()}.` },
  ];
}

const reply = (user: TestUser, turns = conversationOf(user), style = 'greeting') => h.call(ChatReplyRoute, { userId: user.id, style, turns }, user.id);
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as { status: number; code: string; message: string },
  );
const storedFor = async (userId: string) => [...(await h.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [userId])), ...(await h.sql('SELECT 1 FROM generation.contents WHERE user_id = $1', [userId]))];
async function repliesCounted(outcome: string): Promise<number> {
  const metric = await h.service.app.get(GenerationMetrics).chatReplies.get();
  return metric.values.find((value) => value.labels.adapter === 'http' && value.labels.outcome === outcome)?.value ?? 0;
}

describe('chat.reply', () => {
  it('answers the reply; the conversation reaches the provider scrubbed, in order, under a fresh job id each time; nothing is stored', async () => {
    const user = h.newUser();
    const before = await repliesCounted('succeeded');
    expect(await reply(user)).toEqual({ text: 'Here is your greeting: happy sailing!' });
    expect(await reply(user)).toEqual({ text: 'Here is your greeting: happy sailing!' });
    expect(received).toHaveLength(2);
    const tag = user.username.slice('person_'.length);
    for (const { raw, body } of received) {
      for (const secret of [user.id, user.email, user.username, `person ${tag}`, `person.${tag}`, tag, phone, '1234567']) expect(raw.toLowerCase(), `"${secret}" reached the provider`).not.toContain(secret.toLowerCase());
      expect(body).toMatchObject({ kind: 'text', options: { style: 'greeting' }, inputs: [] });
      expect(body.prompt.split('\n').map((line) => line.split(':')[0])).toEqual(['User', 'Assistant', 'User', 'Assistant']);
      expect(body.prompt).toContain('A card for my sister, please.');
      expect(body.prompt).toContain('[phone]');
      expect(body.prompt.endsWith('\nAssistant:')).toBe(true);
    }
    expect(received[0]!.body.jobId).not.toBe(received[1]!.body.jobId);
    expect(await storedFor(user.id)).toEqual([]);
    expect(await repliesCounted('succeeded')).toBe(before + 2);
  });

  it('identity down: 503 identifiers_unavailable and not one request to the provider', async () => {
    const user = h.newUser();
    h.peers.identityDown.add(user.id);
    const error = await rejection(reply(user));
    expect(error).toMatchObject({ status: 503, code: 'identifiers_unavailable' });
    expect(received).toHaveLength(0);
    expect(await repliesCounted('identifiers_unavailable')).toBeGreaterThanOrEqual(1);
  });

  it('a prohibited reply: 422 content_rejected, ProhibitedContentDetected(generated) naming the rule only, nothing stored', async () => {
    const user = h.newUser();
    answer = { status: 200, body: JSON.stringify({ text: 'Then set fire to the old shed.' }) };
    expect(await rejection(reply(user))).toMatchObject({ status: 422, code: 'content_rejected' });
    await eventually(async () => (await h.events(ProhibitedContentDetectedV1)).some((event) => event.userId === user.id), { what: 'ProhibitedContentDetected' });
    const events = (await h.events(ProhibitedContentDetectedV1)).filter((event) => event.userId === user.id);
    expect(events).toEqual([expect.objectContaining({ subjectKind: 'generated', rule: 'text-rule:arson' })]);
    expect(JSON.stringify(events)).not.toContain('shed');
    expect(await storedFor(user.id)).toEqual([]);
  });

  it('provider failures map to fixed answers that name no personal data', async () => {
    const user = h.newUser();
    const cases: Array<[{ status: number; body: string }, number, string]> = [
      [{ status: 500, body: '{}' }, 503, 'contractor_unavailable'],
      [{ status: 400, body: '{}' }, 502, 'reply_failed'],
      [{ status: 200, body: 'not json' }, 502, 'reply_failed'],
      [{ status: 200, body: JSON.stringify({ text: '   ' }) }, 502, 'reply_failed'],
    ];
    for (const [provided, status, code] of cases) {
      answer = provided;
      const error = await rejection(reply(user));
      expect(error).toMatchObject({ status, code });
      for (const secret of [user.email, user.username, user.id]) expect(error!.message).not.toContain(secret);
    }
  });

  it('a provider that never answers: the reply is abandoned at CHAT_REPLY_TIMEOUT_MS and answered 502 reply_failed', async () => {
    const user = h.newUser();
    answer = { status: 0, body: '' };
    const started = performance.now();
    expect(await rejection(reply(user))).toMatchObject({ status: 502, code: 'reply_failed' });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(received).toHaveLength(1);
    expect(await repliesCounted('contractor_timeout')).toBeGreaterThanOrEqual(1);
  });

  it('refuses before anything is sent: too long once in NFKC (400 naming turns), another user (403), unknown style or raw length over 16,000 (400)', async () => {
    const user = h.newUser();
    // 3,000 characters as written, 18,000 once NFKC spells each out.
    expect(await rejection(reply(user, [{ role: 'user', text: '\u3316'.repeat(3_000) }]))).toMatchObject({ status: 400, code: 'validation_failed', message: expect.stringContaining('turns') });
    expect(await rejection(h.call(ChatReplyRoute, { userId: user.id, style: 'greeting', turns: conversationOf(user) }, randomUUID()))).toMatchObject({ status: 403 });
    expect(await rejection(reply(user, conversationOf(user), 'Not A Style'))).toMatchObject({ status: 400 });
    const tooMany = Array.from({ length: 3 }, () => ({ role: 'user' as const, text: 'x'.repeat(6_000) }));
    expect(await rejection(reply(user, tooMany))).toMatchObject({ status: 400 });
    expect(received).toHaveLength(0);
  });

  it('takes the largest conversation the route allows (16,000 characters in 100 turns) and scrubs all of it', async () => {
    const user = h.newUser();
    const turns = Array.from({ length: 100 }, (_value, index) => ({
      role: index % 2 === 0 ? ('user' as const) : ('assistant' as const),
      text: `${index % 10 === 0 ? `${user.username} ${user.email} ` : ''}${'lemon trees and sails '.repeat(8)}`.slice(0, 160).padEnd(160, '.'),
    }));
    expect(turns.reduce((sum, turn) => sum + turn.text.length, 0)).toBe(16_000);
    expect(await reply(user, turns)).toEqual({ text: 'Here is your greeting: happy sailing!' });
    expect(received).toHaveLength(1);
    expect(received[0]!.raw.toLowerCase()).not.toContain(user.username);
    expect(received[0]!.raw.toLowerCase()).not.toContain(user.email.toLowerCase());
    expect(received[0]!.body.prompt.split('\n')).toHaveLength(101);
  });

  it('an erased user gets 401 and nothing is sent', async () => {
    const user = h.newUser();
    await h.publish(UserDeletedV1, { userId: user.id, erasureId: randomUUID(), reason: 'user_request', deletedAt: h.clock.now().toISOString() });
    await eventually(async () => (await h.sql('SELECT 1 FROM generation.tombstones WHERE user_id = $1', [user.id])).length === 1, { what: 'the tombstone' });
    expect(await rejection(reply(user))).toMatchObject({ status: 401 });
    expect(received).toHaveLength(0);
  });
});
