import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@homiwork/observability';
import { MAX_SINK_MESSAGES, startMailSink, type MailSink, type SinkMessage } from './mail-sink.js';
import { SmtpMailSender } from './smtp-mail-sender.js';

const logger = createLogger({ service: 'mail-sink-test', level: 'silent' });
const LINK = 'https://app.example/reset?token=abc_DEF-123';

async function getMessages(sink: MailSink, query = ''): Promise<SinkMessage[]> {
  const response = await fetch(`${sink.apiUrl}/messages${query}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await response.json()) as { items: SinkMessage[] }).items;
}

describe('startMailSink', () => {
  let sink: MailSink;
  let sender: SmtpMailSender;

  beforeAll(async () => {
    sink = await startMailSink();
    sender = new SmtpMailSender({ url: sink.smtpUrl, from: 'no-reply@homiwork.com', logger });
  });

  afterAll(async () => {
    sender.close();
    await sink.stop();
  });

  beforeEach(() => sink.clear());

  it('listens on 127.0.0.1 on free ports', () => {
    expect(sink.smtpUrl).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+$/);
    expect(sink.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves received mail over HTTP, filtered by recipient without regard to case', async () => {
    await sender.send({ to: 'Bob@Example.com', subject: 'For Bob', text: `Reset: ${LINK}` });
    await sender.send({ to: 'carol+tag@example.com', subject: 'For Carol', text: 'Welcome' });

    const all = await getMessages(sink);
    expect(all).toEqual(sink.messages());
    expect(all.map((message) => message.subject)).toEqual(['For Bob', 'For Carol']);
    const [bob] = all;
    expect(bob).toMatchObject({ to: ['Bob@example.com'], from: 'no-reply@homiwork.com' });
    expect(bob!.text.trimEnd()).toBe(`Reset: ${LINK}`);
    expect(bob!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(bob!.receivedAt).toISOString()).toBe(bob!.receivedAt);

    expect((await getMessages(sink, '?to=BOB%40EXAMPLE.COM')).map((message) => message.subject)).toEqual(['For Bob']);
    expect((await getMessages(sink, `?to=${encodeURIComponent('Carol+Tag@example.com')}`)).map((message) => message.subject)).toEqual(['For Carol']);
    // Written by hand, the "+" would arrive as a space.
    expect((await getMessages(sink, '?to=carol+tag@example.com')).map((message) => message.subject)).toEqual(['For Carol']);
    expect(await getMessages(sink, '?to=nobody%40example.com')).toEqual([]);
  });

  it('clears on DELETE /messages and answers nothing else', async () => {
    await sender.send({ to: 'dave@example.com', subject: 'Hi', text: 'Hi' });
    expect(await getMessages(sink)).toHaveLength(1);

    expect((await fetch(`${sink.apiUrl}/messages`, { method: 'DELETE' })).status).toBe(204);
    expect(await getMessages(sink)).toEqual([]);
    expect(sink.messages()).toEqual([]);

    const post = await fetch(`${sink.apiUrl}/messages`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, DELETE');
    expect((await fetch(`${sink.apiUrl}/`)).status).toBe(404);
  });

  it('waits for a matching message, whether it is already there or still to come', async () => {
    await sender.send({ to: 'erin@example.com', subject: 'first', text: 'one' });
    expect((await sink.waitFor((message) => message.subject === 'first')).text.trimEnd()).toBe('one');

    const later = sink.waitFor((message) => message.to.includes('frank@example.com'), 5_000);
    await sender.send({ to: 'frank@example.com', subject: 'second', text: 'two' });
    expect((await later).subject).toBe('second');

    await expect(sink.waitFor(() => false, 50)).rejects.toThrow('no matching mail arrived within 50 ms');
  });

  it('refuses a message over 1 MB', async () => {
    await expect(sender.send({ to: 'grace@example.com', subject: 'big', text: 'x'.repeat(1024 * 1024 + 1) })).rejects.toThrow('mail delivery failed: 552');
    expect(sink.messages()).toEqual([]);
  });

  it(`keeps the newest ${MAX_SINK_MESSAGES} messages`, async () => {
    for (let n = 0; n < 5; n += 1) await sender.send({ to: 'heidi@example.com', subject: `old ${n}`, text: 'old' });
    // Batches keep the pool busy without queueing a thousand messages at once.
    for (let start = 0; start < MAX_SINK_MESSAGES; start += 50) {
      const batch = Array.from({ length: 50 }, (_, index) => start + index);
      await Promise.all(batch.map((n) => sender.send({ to: 'heidi@example.com', subject: `new ${n}`, text: 'new' })));
    }
    const kept = sink.messages();
    expect(kept).toHaveLength(MAX_SINK_MESSAGES);
    expect(kept.filter((message) => message.subject.startsWith('old'))).toEqual([]);
    expect(new Set(kept.map((message) => message.subject)).size).toBe(MAX_SINK_MESSAGES);
  });

  it('stops at once while a pooled sender keeps its connection open, and forgets everything', async () => {
    const own = await startMailSink();
    const pooled = new SmtpMailSender({ url: own.smtpUrl, from: 'no-reply@homiwork.com', logger });
    try {
      await pooled.send({ to: 'ivan@example.com', subject: 'kept open', text: 'pooled' });
      const waiting = expect(own.waitFor(() => false, 60_000)).rejects.toThrow('mail sink is stopped');
      const started = performance.now();
      await own.stop();
      expect(performance.now() - started).toBeLessThan(2_000);
      await waiting;
      expect(own.messages()).toEqual([]);
      await expect(fetch(`${own.apiUrl}/messages`)).rejects.toThrow();
      await expect(own.stop()).resolves.toBeUndefined();
    } finally {
      pooled.close();
      await own.stop();
    }
  });
});
