import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { createLogger } from '@homiwork/observability';
import { startMailSink, type MailSink } from './mail-sink.js';
import { MailDeliveryError, mustRequireTls, SmtpMailSender } from './smtp-mail-sender.js';

const FROM = 'no-reply@homiwork.com';
const RECIPIENT = 'Alice.Smith+reset@Example.com';
const LINK = 'https://app.example/reset?token=abc_DEF-123';
const SUBJECT = 'Reset your Homiwork password';
// "=" is quoted-printable's escape character and the line is longer than QP's 76: the
// link survives only if the encoding is done and undone properly. Non-ASCII forces it.
const TEXT = `Hello,\n\nfollow ${LINK} to choose a new password for your account; the link works for one hour only.\n\nСпасибо, café ☕`;
const HTML = `<p>Follow <a href="${LINK}">this link</a> to choose a new password.</p>`;

function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger({ service: 'mail-test', level: 'debug', destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines };
}

async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<MailDeliveryError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(MailDeliveryError);
  return error as MailDeliveryError;
}

describe('SmtpMailSender', () => {
  const { logger, lines } = capturingLogger();
  let sink: MailSink;
  let sender: SmtpMailSender;

  beforeAll(async () => {
    sink = await startMailSink();
    sender = new SmtpMailSender({ url: sink.smtpUrl, from: FROM, logger });
  });

  afterAll(async () => {
    sender.close();
    await sink.stop();
  });

  beforeEach(() => sink.clear());

  it('delivers subject, text and html unchanged, the reset link included', async () => {
    await sender.send({ to: RECIPIENT, subject: SUBJECT, text: TEXT, html: HTML });
    const [message, ...rest] = sink.messages();
    expect(rest).toEqual([]);
    // nodemailer lowercases the domain (it normalizes it for IDNA); the local part is kept.
    expect(message).toMatchObject({ to: ['Alice.Smith+reset@example.com'], from: FROM, subject: SUBJECT });
    expect(message!.text.trimEnd()).toBe(TEXT);
    expect(message!.text.match(/https:\/\/\S+/)?.[0]).toBe(LINK);
    expect(message!.html).toContain(`href="${LINK}"`);
  });

  it('takes whatever credentials the URL carries', async () => {
    const withLogin = new SmtpMailSender({ url: sink.smtpUrl.replace('smtp://', 'smtp://relay-user:p%40ss@'), from: FROM, logger });
    try {
      await withLogin.send({ to: RECIPIENT, subject: SUBJECT, text: TEXT });
    } finally {
      withLogin.close();
    }
    expect(sink.messages()).toHaveLength(1);
  });

  it('fails with a generic message when no server listens', async () => {
    const nowhere = new SmtpMailSender({ url: `smtp://127.0.0.1:${await closedPort()}`, from: FROM, logger });
    try {
      const error = await failure(nowhere.send({ to: RECIPIENT, subject: SUBJECT, text: TEXT }));
      expect(error.message).toMatch(/^mail delivery failed: E[A-Z]+$/);
      expect(error.message.toLowerCase()).not.toContain(RECIPIENT.toLowerCase());
      expect(error.cause).toBeUndefined();
      expect(error.permanent).toBe(false);
    } finally {
      nowhere.close();
    }
  });

  it('fails the same way once its server is gone, also after the pool held a connection to it', async () => {
    const shortLived = await startMailSink();
    const pooled = new SmtpMailSender({ url: shortLived.smtpUrl, from: FROM, logger });
    try {
      await pooled.send({ to: RECIPIENT, subject: SUBJECT, text: TEXT });
      await shortLived.stop();
      const error = await failure(pooled.send({ to: RECIPIENT, subject: SUBJECT, text: TEXT }));
      expect(error.message).toMatch(/^mail delivery failed: (E[A-Z]+|\d{3})$/);
      expect(error.message.toLowerCase()).not.toContain(RECIPIENT.toLowerCase());
    } finally {
      pooled.close();
      await shortLived.stop();
    }
  });

  it('keeps the address out of the error when the server quotes it in its refusal', async () => {
    // Real relays answer e.g. "550 5.1.1 <alice@example.com>: Recipient address rejected".
    const refusing = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo: (address, _session, callback) =>
        callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected`), { responseCode: 550 })),
    });
    await once(refusing.listen(0, '127.0.0.1'), 'listening');
    const { port } = refusing.server.address() as AddressInfo;
    const refused = new SmtpMailSender({ url: `smtp://127.0.0.1:${port}`, from: FROM, logger });
    try {
      const error = await failure(refused.send({ to: RECIPIENT, subject: SUBJECT, text: TEXT }));
      expect(error).toMatchObject({ message: 'mail delivery failed: 550', code: 'EENVELOPE', responseCode: 550, permanent: true });
      expect(JSON.stringify(error).toLowerCase()).not.toContain('alice');
      expect(String(error.stack).toLowerCase()).not.toContain('alice');
    } finally {
      refused.close();
      await new Promise<void>((resolve) => refusing.close(resolve));
    }
  });

  it('refuses anything but exactly one address before talking to the server', async () => {
    for (const to of ['a@example.com, b@example.com', 'not-an-address', 'a@example.com\r\nBcc: b@example.com', '']) {
      const error = await failure(sender.send({ to, subject: SUBJECT, text: TEXT }));
      expect(error.message).toBe('mail delivery failed: EENVELOPE');
      expect(error.permanent).toBe(true);
    }
    expect(sink.messages()).toEqual([]);
  });

  it('requires TLS for a relay on another machine, unless its URL says otherwise', async () => {
    expect(mustRequireTls('smtp://user:pass@mail.example:587')).toBe(true);
    expect(mustRequireTls('smtp://10.0.0.5:25')).toBe(true);
    for (const local of ['smtp://localhost:1025', 'smtp://127.0.0.1:25', 'smtp://[::1]:25', 'smtps://user:pass@mail.example']) {
      expect(mustRequireTls(local)).toBe(false);
    }
    expect(() => new SmtpMailSender({ url: 'not a url SECRETX', from: FROM, logger })).toThrow(/^SMTP URL is not a valid URL$/);
    expect(() => new SmtpMailSender({ url: 'http://user:SECRETX@mail.example', from: FROM, logger })).toThrow(/^SMTP URL must use smtp or smtps$/);

    // The URL's query wins over the computed default; the sink offers no STARTTLS.
    const strict = new SmtpMailSender({ url: `${sink.smtpUrl}?requireTLS=true`, from: FROM, logger });
    try {
      const error = await failure(strict.send({ to: RECIPIENT, subject: SUBJECT, text: TEXT }));
      expect(error).toMatchObject({ code: 'ETLS', responseCode: 500, message: 'mail delivery failed: 500' });
      // The relay's set-up is wrong, not the message: it may be sent again once that is fixed.
      expect(error.permanent).toBe(false);
    } finally {
      strict.close();
    }
    expect(sink.messages()).toEqual([]);
  });

  // Runs last: it reads what every test above logged, deliveries and failures alike.
  it('logs outcomes and durations, never the address, the subject or the body', () => {
    const records = lines.map((line) => JSON.parse(line) as { msg: string; durationMs?: number; code?: string });
    expect(records.some((record) => record.msg === 'mail sent' && typeof record.durationMs === 'number')).toBe(true);
    expect(records.some((record) => record.msg === 'mail delivery failed' && record.code === 'ESOCKET')).toBe(true);
    expect(records.some((record) => record.msg.startsWith('mail delivery failed') && record.code === 'EENVELOPE')).toBe(true);
    const text = lines.join('').toLowerCase();
    for (const secret of [RECIPIENT, 'alice', 'b@example.com', SUBJECT, 'choose a new password', 'token=', LINK]) {
      expect(text).not.toContain(secret.toLowerCase());
    }
    // The scrubber would have hidden an address; these show none was even handed to it.
    expect(text).not.toContain('[email]');
    expect(text).not.toContain('[redacted]');
  });
});
