import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IdentityConsumers, MediaConsumers, streamName, EVENTS_STREAM, DEAD_LETTER_STREAM } from '@homiwork/contracts';
import { REDACTED, scrubPersonalData, scrubString } from './scrub.js';

const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1NTBlODQwMCIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmUtYW5kLW1vcmU';
const UUID = '550e8400-e29b-41d4-a716-446655440000';

describe('scrubString', () => {
  it.each([
    ['mail alice.smith+tag@mail.example.co.uk now', 'mail [email] now'],
    ['/v1/users/alice%40example.com', '/v1/users/[email]'],
    ['from 203.0.113.7:443', 'from [ip]:443'],
    ['from 2001:db8::8a2e:370:7334 and ::1', 'from [ip] and [ip]'],
    ['full fe80:0:0:0:202:b3ff:fe1e:8329 address', 'full [ip] address'],
    ['mapped ::ffff:192.0.2.1', 'mapped [ip]'],
    ['Authorization: Bearer abc.def-123', 'Authorization: Bearer [token]'],
    [`token=${JWT};`, 'token=[token];'],
    ['key sk_live_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e', 'key [secret]'],
    ['sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'sha [secret]'],
  ])('scrubs %j', (input, expected) => {
    expect(scrubString(input)).toBe(expected);
  });

  it.each([
    [`user ${UUID} and req-${UUID}`],
    ['at 2026-01-08T12:34:56.789Z (12:34:56)'],
    ['version 1.2.3 of api.example.com'],
    ['content-generation-request-completed-successfully'],
    ['mac aa:bb:cc:dd:ee:ff, std::string'],
    ['GET /v1/users/:id 200'],
  ])('leaves %j alone', (input) => {
    expect(scrubString(input)).toBe(input);
  });

  it('stays fast on long strings without matches', () => {
    const long = 'a'.repeat(200_000);
    const started = performance.now();
    scrubString(long);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('the project’s own names in log lines', () => {
  // What services log about themselves: consumers, migrations, streams. Scrubbed as
  // "[secret]", a log line no longer says which consumer or migration it is about.
  const names = [
    ...[...Object.values(IdentityConsumers), ...Object.values(MediaConsumers)].map((consumer) => consumer.durableName),
    'CreateMessagingTables1764200000000',
    'CreateIdentityTables1764300000000',
    'CreateTombstones1765000000000',
    'CreateUploads1764400000000',
    streamName('hw', EVENTS_STREAM),
    streamName('hw', DEAD_LETTER_STREAM),
    'media--user-deleted-v1:HW_EVENTS:1234567',
  ];

  it.each(names)('keeps %s', (name) => {
    const line = JSON.stringify({ consumer: name, migrations: [name], msg: `applied ${name}` });
    expect(scrubString(line)).toBe(line);
  });

  it('takes linear time on runs built to make a name pattern backtrack', () => {
    const started = performance.now();
    for (const n of [28, 40, 200]) scrubString(`x ${'a'.repeat(n)}1${'b'.repeat(n)} y`);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('scrubs a random token that happens to hold no digit', () => {
    expect(scrubString('token kolZJeiwkObHVqfvhqW_jfbzDtxcSksn end')).toBe('token [secret] end');
  });

  it('still scrubs keys, hashes, salts and tokens of the same length', () => {
    for (const secret of [randomBytes(32).toString('hex'), randomBytes(32).toString('base64url'), randomBytes(24).toString('base64url'), `sk_live_${randomBytes(24).toString('hex')}`]) {
      expect(scrubString(`token ${secret} end`), secret).toBe('token [secret] end');
    }
  });
});

describe('scrubPersonalData', () => {
  it('redacts personal keys at any depth, whatever their case or separators', () => {
    const scrubbed = scrubPersonalData({
      Email: 'a',
      user: { userName: 'b', newPassword: 'c', current_password: 'd', profile: { apiKey: 'e' } },
      headers: { 'X-Forwarded-For': 'f', 'x-real-ip': 'g', Cookie: 'h', 'set-cookie': ['i'], authorization: 'j' },
      list: [{ refreshToken: 'k', accessToken: 'l', token: 'm', prompt: 'n', text: 'o', secret: 'p' }],
      socket: { remoteAddress: 'q', ip: 'r', ipAddress: 's' },
      // Names that merely contain a short personal word are not personal.
      context: 'kept',
      membership: 'kept',
      maxTokens: 5,
    });
    const flat = JSON.stringify(scrubbed);
    for (const raw of 'abcdefghijklmnopqrs') expect(flat).not.toContain(`"${raw}"`);
    expect(scrubbed.user.profile.apiKey).toBe(REDACTED);
    expect(scrubbed.headers['set-cookie']).toBe(REDACTED);
    expect(scrubbed).toMatchObject({ context: 'kept', membership: 'kept', maxTokens: 5 });
  });

  it('turns errors into plain scrubbed objects, keeping their type and extra fields', () => {
    const cause = new Error('db refused 10.0.0.5');
    const error = Object.assign(new TypeError('no user bob@example.com', { cause }), { code: 'E_USER', email: 'bob@example.com' });
    const scrubbed = scrubPersonalData(error) as unknown as Record<string, unknown>;
    expect(scrubbed).toMatchObject({ type: 'TypeError', message: 'no user [email]', code: 'E_USER', email: REDACTED });
    expect(scrubbed.stack).toContain('no user [email]');
    expect(scrubbed.cause).toMatchObject({ type: 'Error', message: 'db refused [ip]' });
    expect(JSON.stringify(scrubbed)).not.toMatch(/bob@|10\.0\.0\.5/);
  });

  it('survives cycles, dates, bytes, and keeps trace correlation ids', () => {
    const node: Record<string, unknown> = { when: new Date('2026-01-01T00:00:00Z'), bytes: Buffer.from('alice@example.com') };
    node.self = node;
    node.traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    node.headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    node.secretLooking = { note: '4bf92f3577b34da6a3ce929d0e0e4736' };
    expect(scrubPersonalData(node)).toEqual({
      when: '2026-01-01T00:00:00.000Z',
      bytes: '[binary 17 bytes]',
      self: '[circular]',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      secretLooking: { note: '[secret]' },
    });
  });

  it('does not modify its input', () => {
    const input = { email: 'alice@example.com', nested: { note: 'from 192.168.1.1' } };
    scrubPersonalData(input);
    expect(input).toEqual({ email: 'alice@example.com', nested: { note: 'from 192.168.1.1' } });
  });
});

describe('database errors', () => {
  it('keeps the statement but not the values of a failed query', () => {
    const failed = Object.assign(new Error('duplicate key value violates unique constraint "users_username_key"'), {
      query: 'INSERT INTO users (id, email, username, password_hash) VALUES ($1, $2, $3, $4)',
      parameters: ['77ba7543-ae24-45ad-bb6f-1bab09879686', 'erin@example.com', 'erin_the_user', '$argon2id$v=19$m=19456,t=2,p=1$abc$def'],
      driverError: { detail: 'Key (lower(username::text))=(erin_the_user) already exists.' },
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$abc$def',
    });
    const text = JSON.stringify(scrubPersonalData({ err: failed }));
    expect(text).toContain('INSERT INTO users');
    expect(text).not.toContain('erin_the_user');
    expect(text).not.toContain('erin@example.com');
    expect(text).not.toContain('argon2id');
  });
});
