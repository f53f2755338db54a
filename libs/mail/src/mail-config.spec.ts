import { describe, expect, it } from 'vitest';
import { mailConfig } from './mail-config.js';

describe('mailConfig', () => {
  it('takes an smtp or smtps URL and defaults the sender', () => {
    expect(mailConfig.parse({ SMTP_URL: 'smtp://user:pass@mail.example:587' })).toEqual({
      SMTP_URL: 'smtp://user:pass@mail.example:587',
      MAIL_FROM: 'no-reply@homiwork.com',
    });
    expect(mailConfig.parse({ SMTP_URL: 'smtps://mail.example', MAIL_FROM: 'hello@homiwork.com' }).MAIL_FROM).toBe('hello@homiwork.com');
  });

  it('refuses other protocols, a missing host and a malformed sender, without repeating the password', () => {
    const bad = [
      {},
      { SMTP_URL: 'http://user:SECRETX@mail.example' },
      { SMTP_URL: 'smtp:SECRETX' },
      { SMTP_URL: 'not a url SECRETX' },
      { SMTP_URL: 'smtp://mail.example', MAIL_FROM: 'no-reply' },
    ];
    for (const env of bad) {
      const result = mailConfig.safeParse(env);
      expect(result.success, JSON.stringify(env)).toBe(false);
      for (const issue of result.error?.issues ?? []) expect(issue.message).not.toContain('SECRETX');
    }
  });
});
