import { performance } from 'node:perf_hooks';
import { createTransport, type Mail, type NodemailerError, type SMTPPoolOptions, type SMTPPoolSentMessageInfo } from 'nodemailer';
import { z } from 'zod';
import type { Logger } from '@homiwork/observability';
import { MailSender, type OutgoingMail } from './mail-sender.js';

export interface SmtpMailSenderOptions {
  /** `smtp://user:pass@host:587` or `smtps://user:pass@host:465`; query parameters become transport options. */
  url: string;
  /** The From address of every message. */
  from: string;
  logger: Logger;
}

const TIMEOUT_MS = 10_000;
// Closed before the 10 s socket time-out would end it with an error: a pooled connection
// that sits idle is let go politely (QUIT) and reopened for the next burst of mail.
const IDLE_MS = 5_000;

// The same rule the account contracts use for an email address, so anything they accept
// can be sent to. It also makes `to` exactly one address: "a@x.com, b@y.com" would
// otherwise be read by the MIME layer as two recipients.
const Recipient = z.string().max(254).pipe(z.email());

// Codes are constants set by nodemailer or Node (ESOCKET, ECONNREFUSED...). Anything else
// is dropped rather than logged, since it came from a place this code does not control.
const CODE = /^[A-Z][A-Z0-9_]{1,39}$/;
const COMMAND = /^[A-Z][A-Z0-9 -]{0,29}$/;
// The codes of a refusal of the message itself rather than of the connection or login.
const MESSAGE_CODES = new Set(['EENVELOPE', 'EMESSAGE']);

/**
 * Why a message was not delivered, without saying to whom: the server's reply
 * (`err.response`) and nodemailer's message often quote the recipient's address, so
 * neither is kept, not even as a `cause`.
 */
export class MailDeliveryError extends Error {
  override readonly name = 'MailDeliveryError';

  constructor(
    /** nodemailer's error code (ESOCKET, EENVELOPE, ETIMEDOUT...), or EUNKNOWN. */
    readonly code: string,
    /** The SMTP reply code when the server refused something. */
    readonly responseCode: number | undefined,
    /**
     * True when the server refused this message or its recipient for good (a 5xx reply but
     * 503 to MAIL FROM, RCPT TO or DATA, or an address that is not one), so a retry would be
     * refused again. A refused STARTTLS or login is not: that is the relay's configuration,
     * and the same message goes through once it is fixed.
     */
    readonly permanent: boolean,
  ) {
    super(`mail delivery failed: ${responseCode ?? code}`);
  }
}

/**
 * Sends through one SMTP relay over a small pool of connections. Nothing that identifies
 * the person or the content (address, subject, body, the server's reply) reaches the
 * logger or the errors thrown; nodemailer's own logger stays off because its transaction
 * log prints the envelope.
 */
export class SmtpMailSender extends MailSender {
  private readonly transporter: Mail<SMTPPoolSentMessageInfo, SMTPPoolOptions>;
  private readonly logger: Logger;

  constructor(options: SmtpMailSenderOptions) {
    super();
    this.logger = options.logger.child({ component: 'mail' });
    this.transporter = createTransport(
      {
        // Keys from the URL's query override the ones below (nodemailer merges them last),
        // which is how `?requireTLS=false` reaches a trusted relay without TLS.
        url: options.url,
        pool: true,
        requireTLS: mustRequireTls(options.url),
        connectionTimeout: TIMEOUT_MS,
        greetingTimeout: TIMEOUT_MS,
        socketTimeout: TIMEOUT_MS,
        dnsTimeout: TIMEOUT_MS,
        idleTimeout: IDLE_MS,
        logger: false,
        debug: false,
        transactionLog: false,
        // Messages are only ever strings; a content object naming a file or a URL is refused.
        disableFileAccess: true,
        disableUrlAccess: true,
      },
      { from: options.from, xMailer: false },
    );
    // Mail re-emits transport errors, and an 'error' nobody listens to would end the process.
    this.transporter.on('error', (error: NodemailerError) => {
      this.logger.warn({ ...errorDetails(error) }, 'mail transport error');
    });
  }

  async send(mail: OutgoingMail): Promise<void> {
    const started = performance.now();
    const durationMs = (): number => Math.round(performance.now() - started);
    if (!Recipient.safeParse(mail.to).success) {
      this.logger.warn({ code: 'EENVELOPE', permanent: true }, 'mail delivery failed: recipient is not one valid address');
      throw new MailDeliveryError('EENVELOPE', undefined, true);
    }
    try {
      await this.transporter.sendMail({
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        ...(mail.html === undefined ? {} : { html: mail.html }),
      });
    } catch (error) {
      const details = errorDetails(error as NodemailerError);
      this.logger.warn({ ...details, durationMs: durationMs() }, 'mail delivery failed');
      throw new MailDeliveryError(details.code, details.responseCode, details.permanent);
    }
    this.logger.info({ durationMs: durationMs() }, 'mail sent');
  }

  /** Ends the pool: idle connections at once, a delivery under way once it finishes. */
  close(): void {
    this.transporter.close();
  }
}

interface ErrorDetails {
  code: string;
  originalCode?: string;
  responseCode?: number;
  command?: string;
  permanent: boolean;
}

/** The parts of a nodemailer error that name no one, for the log line and the thrown error. */
function errorDetails(error: NodemailerError): ErrorDetails {
  const pick = (value: unknown, pattern: RegExp): string | undefined =>
    typeof value === 'string' && pattern.test(value) ? value : undefined;
  const responseCode = Number.isInteger(error?.responseCode) ? error.responseCode : undefined;
  const originalCode = pick(error?.originalCode, CODE);
  const command = pick(error?.command, COMMAND);
  return {
    code: pick(error?.code, CODE) ?? 'EUNKNOWN',
    ...(originalCode === undefined ? {} : { originalCode }),
    ...(responseCode === undefined ? {} : { responseCode }),
    ...(command === undefined ? {} : { command }),
    permanent: error?.permanent === true && MESSAGE_CODES.has(error.code ?? ''),
  };
}

/**
 * Plain `smtp://` upgrades with STARTTLS only if the server offers it, so a stripped offer
 * would send reset links and the relay password in clear. TLS is therefore required
 * unless the relay is on this machine (the local sink, a sidecar on loopback).
 */
export function mustRequireTls(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never repeat the URL: it carries the relay's password.
    throw new TypeError('SMTP URL is not a valid URL');
  }
  if (parsed.protocol === 'smtps:') return false;
  if (parsed.protocol !== 'smtp:') throw new TypeError('SMTP URL must use smtp or smtps');
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  return !loopback;
}
