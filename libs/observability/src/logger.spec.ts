import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

const EMAIL = 'alice.smith@example.com';
const PASSWORD = 'hunter2-correct-horse';
const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1NTBlODQwMCIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmUtYW5kLW1vcmU';
const BEARER = 'opaque-bearer-value-42';
const IPV4 = '203.0.113.77';
const IPV6 = '2001:db8:85a3::8a2e:370:7334';
const RAW_VALUES = [EMAIL, PASSWORD, JWT, BEARER, IPV4, IPV6];
const UUID = '550e8400-e29b-41d4-a716-446655440000';
const TIMESTAMP = '2026-01-08T12:34:56.789Z';

interface LogRecord {
  [key: string]: unknown;
  time: string;
  msg?: string;
  err?: Record<string, unknown> & { stack?: string };
}

function capturingLogger(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ service: 'test-service', level, destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines, text: () => lines.join(''), records: () => lines.map((line) => JSON.parse(line) as LogRecord) };
}

function expectNoRawValues(text: string): void {
  for (const raw of RAW_VALUES) expect(text).not.toContain(raw);
}

describe('createLogger', () => {
  it('writes JSON lines with the service, an ISO time and a level label', () => {
    const { logger, records } = capturingLogger();
    logger.info('started');
    const [record] = records();
    expect(record).toMatchObject({ service: 'test-service', level: 'info', msg: 'started' });
    expect(new Date(record!.time).toISOString()).toBe(record!.time);
  });

  it('scrubs personal data from the message, nested fields and errors, keeping ids and times', () => {
    const { logger, text, records } = capturingLogger();
    logger.info(`login ${EMAIL} from ${IPV4} and ${IPV6} with Bearer ${BEARER} and ${JWT} for ${UUID} at ${TIMESTAMP}`);
    logger.info(
      {
        userId: UUID,
        at: TIMESTAMP,
        body: { Password: PASSWORD, profile: { note: `reach me at ${EMAIL}`, seen: [IPV6] } },
        headers: { authorization: `Bearer ${BEARER}`, 'x-forwarded-for': IPV4, cookie: `session=${JWT}` },
      },
      'request body',
    );
    const error = Object.assign(new Error(`cannot deliver to ${EMAIL} via ${IPV4}`), { code: 'E_MAIL', token: JWT });
    logger.error({ err: error }, 'delivery failed');
    logger.error(error);

    expectNoRawValues(text());
    const [message, fields, wrapped, bare] = records();
    expect(message!.msg).toBe(`login [email] from [ip] and [ip] with Bearer [token] and [token] for ${UUID} at ${TIMESTAMP}`);
    expect(fields).toMatchObject({
      userId: UUID,
      at: TIMESTAMP,
      body: { Password: '[redacted]', profile: { note: 'reach me at [email]', seen: ['[ip]'] } },
      headers: { authorization: '[redacted]', 'x-forwarded-for': '[redacted]', cookie: '[redacted]' },
    });
    expect(wrapped!.err).toMatchObject({ type: 'Error', message: 'cannot deliver to [email] via [ip]', code: 'E_MAIL', token: '[redacted]' });
    expect(wrapped!.err?.stack).toContain('cannot deliver to [email] via [ip]');
    // An error logged on its own lends its (scrubbed) message to the line.
    expect(bare).toMatchObject({ msg: 'cannot deliver to [email] via [ip]', err: { type: 'Error' } });
  });

  it('scrubs interpolated values and child bindings', () => {
    const { logger, text, records } = capturingLogger();
    logger.info('user %s from %s sent %j', EMAIL, IPV4, { password: PASSWORD, prompt: 'a poem about my cat' });
    logger.child({ requestId: UUID }).child({ email: EMAIL }).warn('child line');
    expectNoRawValues(text());
    expect(text()).not.toContain('a poem about my cat');
    const [interpolated, child] = records();
    expect(interpolated!.msg).toBe('user [email] from [ip] sent {"password":"[redacted]","prompt":"[redacted]"}');
    expect(child).toMatchObject({ email: '[redacted]', requestId: UUID, msg: 'child line' });
  });

  it('keeps Fastify request logs free of client addresses, tokens and raw paths', async () => {
    const { logger, text, records } = capturingLogger();
    const app = Fastify({ loggerInstance: logger });
    app.get('/v1/users/:id', () => ({ ok: true }));
    await app.inject({
      method: 'GET',
      url: `/v1/users/${encodeURIComponent(EMAIL)}?token=${JWT}`,
      headers: { authorization: `Bearer ${BEARER}`, 'x-forwarded-for': IPV4 },
      remoteAddress: IPV6,
    });
    await app.inject({ method: 'GET', url: `/nowhere/${EMAIL}?session=${JWT}` });
    await app.close();

    expectNoRawValues(text());
    expect(text()).not.toContain('alice.smith%40example.com');
    expect(text()).not.toMatch(/remoteAddress|127\.0\.0\.1/);
    const incoming = records().filter((record) => record.msg === 'incoming request');
    expect(incoming.map((record) => record.req)).toEqual([
      { method: 'GET', url: '/v1/users/:id' },
      { method: 'GET', url: '/nowhere/[email]' },
    ]);
    expect(records().find((record) => record.msg === 'request completed')?.res).toEqual({ statusCode: 200 });
  });
});
