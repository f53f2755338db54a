import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface MailSinkOptions {
  /** 0 (the default) picks a free port. */
  smtpPort?: number;
  /** 0 (the default) picks a free port. */
  httpPort?: number;
  /** 127.0.0.1 by default. The sink has no authentication: keep it on loopback. */
  host?: string;
}

/** A received message, the same shape in memory and from `GET /messages`. */
export interface SinkMessage {
  id: string;
  /** The envelope recipients (RCPT TO) as they arrived: nodemailer lowercases the domain, so compare without case. */
  to: string[];
  /** The envelope sender (MAIL FROM); empty for a bounce. */
  from: string;
  subject: string;
  /**
   * The plain-text part as mailparser decodes it: line breaks become "\n", and one may be
   * added at the end (SMTP ends every message with a line break), so compare `trimEnd()`.
   */
  text: string;
  html?: string;
  /** ISO 8601. */
  receivedAt: string;
}

export interface MailSink {
  /** `smtp://<host>:<port>`, for SmtpMailSender or SMTP_URL. */
  smtpUrl: string;
  /** `http://<host>:<port>`: `GET /messages[?to=<address>]`, `DELETE /messages`. */
  apiUrl: string;
  /** Oldest first. */
  messages(): SinkMessage[];
  /** The first message, already received or still to come, that matches; rejects after `timeoutMs` (10 s). */
  waitFor(predicate: (message: SinkMessage) => boolean, timeoutMs?: number): Promise<SinkMessage>;
  clear(): void;
  stop(): Promise<void>;
}

export const MAX_SINK_MESSAGES = 1_000;
const MAX_SINK_MESSAGE_BYTES = 1024 * 1024;
const DEFAULT_WAIT_MS = 10_000;

interface Waiter {
  predicate: (message: SinkMessage) => boolean;
  resolve(message: SinkMessage): void;
  reject(error: unknown): void;
}

/**
 * An SMTP server that keeps what it receives in memory only (never on disk, gone on stop,
 * the oldest dropped past 1,000) and shows it over HTTP: the mail server of `npm start`
 * when no SMTP_URL is configured, and the one tests read reset links from, in this
 * process or, over HTTP, from another. It is a development tool: it accepts mail from
 * anyone who can reach it, any credentials, and hands every message, reset tokens
 * included, to anyone who asks, which is why it binds to 127.0.0.1.
 */
export async function startMailSink(options: MailSinkOptions = {}): Promise<MailSink> {
  const host = options.host ?? '127.0.0.1';
  let store: SinkMessage[] = [];
  const waiters = new Set<Waiter>();
  let stopping: Promise<void> | undefined;

  const receive = (message: SinkMessage): void => {
    store.push(message);
    if (store.length > MAX_SINK_MESSAGES) store.splice(0, store.length - MAX_SINK_MESSAGES);
    for (const waiter of waiters) {
      let matches: boolean;
      try {
        matches = waiter.predicate(message);
      } catch (error) {
        waiters.delete(waiter);
        waiter.reject(error);
        continue;
      }
      if (matches) {
        waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  };

  const smtp = new SMTPServer({
    name: 'homiwork-mail-sink',
    banner: 'development mail sink, memory only',
    // Plain text only: STARTTLS would need a certificate, and the built-in one's key is public.
    disabledCommands: ['STARTTLS'],
    // Senders configured with credentials must work too, so any login is taken (over plain text).
    authOptional: true,
    allowInsecureAuth: true,
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username || 'anonymous' }),
    size: MAX_SINK_MESSAGE_BYTES,
    disableReverseLookup: true,
    logger: false,
    onData: (stream, session, callback) => {
      readMessage(stream, session).then(
        (message) => {
          receive(message);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  // Client connections that break (a test killing its sender) are reported here; a dev
  // server has nothing better to do with them, and an unheard 'error' would end the process.
  smtp.on('error', () => undefined);

  const http = createServer((request, response) => {
    handleHttp(request, response, () => store, () => {
      store = [];
    });
  });

  const smtpNet = smtp.listen(options.smtpPort ?? 0, host);
  const listening = [once(smtpNet, 'listening'), once(http.listen(options.httpPort ?? 0, host), 'listening')];
  try {
    await Promise.all(listening);
  } catch (error) {
    await Promise.allSettled([new Promise<void>((resolve) => smtp.close(resolve)), closeHttp(http)]);
    throw error;
  }

  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    smtpUrl: `smtp://${urlHost}:${(smtpNet.address() as AddressInfo).port}`,
    apiUrl: `http://${urlHost}:${(http.address() as AddressInfo).port}`,
    messages: () => [...store],
    waitFor(predicate, timeoutMs = DEFAULT_WAIT_MS) {
      if (stopping) return Promise.reject(new Error('mail sink is stopped'));
      const found = store.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<SinkMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching mail arrived within ${timeoutMs} ms`));
        }, timeoutMs);
        const settle =
          <T>(fn: (value: T) => void) =>
          (value: T): void => {
            clearTimeout(timer);
            fn(value);
          };
        const waiter: Waiter = { predicate, resolve: settle(resolve), reject: settle(reject) };
        waiters.add(waiter);
      });
    },
    clear: () => {
      store = [];
    },
    stop: () =>
      (stopping ??= (async () => {
        for (const waiter of waiters) waiter.reject(new Error('mail sink is stopped'));
        waiters.clear();
        const smtpClosed = new Promise<void>((resolve) => smtp.close(resolve));
        // smtp-server would give open connections 30 s; pooled senders keep theirs open
        // while idle, and whatever is in flight now would be lost with the memory anyway.
        for (const connection of smtp.connections) {
          connection.send(421, 'mail sink shutting down');
          connection.close();
        }
        await Promise.all([smtpClosed, closeHttp(http)]);
        store = [];
      })()),
  };
}

/**
 * Reads at most the size limit into memory (smtp-server keeps streaming past it and only
 * flags the excess), then parses. 552 is SMTP's "exceeded storage allocation".
 */
async function readMessage(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<SinkMessage> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes <= MAX_SINK_MESSAGE_BYTES) chunks.push(chunk);
  }
  if (stream.sizeExceeded || bytes > MAX_SINK_MESSAGE_BYTES) {
    throw Object.assign(new Error('message exceeds the sink size limit'), { responseCode: 552 });
  }
  const parsed = await simpleParser(Buffer.concat(chunks), { skipTextToHtml: true, skipImageLinks: true });
  const { mailFrom, rcptTo } = session.envelope;
  return {
    id: randomUUID(),
    to: rcptTo.map((recipient) => recipient.address),
    from: mailFrom ? mailFrom.address : '',
    subject: parsed.subject ?? '',
    text: parsed.text ?? '',
    ...(typeof parsed.html === 'string' ? { html: parsed.html } : {}),
    receivedAt: new Date().toISOString(),
  };
}

function handleHttp(request: IncomingMessage, response: ServerResponse, messages: () => SinkMessage[], clear: () => void): void {
  const url = new URL(request.url ?? '/', 'http://sink');
  if (url.pathname !== '/messages') return sendJson(response, 404, { error: 'not found' });
  if (request.method === 'GET') {
    // An unencoded "+" in the query arrives as a space; no address has a bare space, so
    // "?to=user+tag@example.com" is read as it was meant.
    const to = url.searchParams.get('to')?.replaceAll(' ', '+').toLowerCase();
    const items = to ? messages().filter((message) => message.to.some((address) => address.toLowerCase() === to)) : messages();
    return sendJson(response, 200, { items });
  }
  if (request.method === 'DELETE') {
    clear();
    response.writeHead(204).end();
    return;
  }
  response.setHeader('allow', 'GET, DELETE');
  sendJson(response, 405, { error: 'method not allowed' });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

function closeHttp(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  // Keep-alive sockets (fetch keeps them) would otherwise hold close() open until they time out.
  server.closeAllConnections();
  return closed;
}
