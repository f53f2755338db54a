import { z } from 'zod';

const DEFAULT_MAIL_FROM = 'no-reply@homiwork.com';

/**
 * Where outgoing mail goes. SMTP_URL carries the relay's password, so the messages here
 * never repeat the value (loadConfig in @homiwork/config prints only the message).
 */
export const mailConfig = z.object({
  /** `smtp://user:pass@host:587` (STARTTLS) or `smtps://user:pass@host:465` (TLS from the start). */
  SMTP_URL: z.url({ protocol: /^smtps?$/, hostname: /^.+$/, message: 'must be an smtp:// or smtps:// URL with a host' }),
  MAIL_FROM: z.email({ message: 'must be an email address' }).default(DEFAULT_MAIL_FROM),
});

