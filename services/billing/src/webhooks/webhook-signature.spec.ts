import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIGNATURE_TOLERANCE_SECONDS, signWebhook, verifyWebhookSignature } from './webhook-signature.js';

const SECRET = 'a webhook secret of at least thirty-two characters';
const BODY = '{"id":"evt_1","type":"payment.succeeded"}';
const NOW = 1_765_000_000;

describe('webhook signatures', () => {
  it('is HMAC-SHA256 over "<t>.<body>" in the documented header format', () => {
    const expected = createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex');
    expect(signWebhook(SECRET, BODY, NOW)).toBe(`t=${NOW},v1=${expected}`);
    expect(verifyWebhookSignature(SECRET, BODY, signWebhook(SECRET, BODY, NOW), NOW)).toEqual({ ok: true });
  });

  it('refuses another body, another secret, a missing or malformed header', () => {
    expect(verifyWebhookSignature(SECRET, `${BODY} `, signWebhook(SECRET, BODY, NOW), NOW)).toEqual({ ok: false, why: 'wrong' });
    expect(verifyWebhookSignature(SECRET, BODY, signWebhook(`${SECRET}!`, BODY, NOW), NOW)).toEqual({ ok: false, why: 'wrong' });
    expect(verifyWebhookSignature(SECRET, BODY, undefined, NOW)).toEqual({ ok: false, why: 'missing' });
    for (const header of ['garbage', `t=${NOW}`, `v1=${'a'.repeat(64)}`, `t=abc,v1=${'a'.repeat(64)}`, `t=${NOW},v1=xyz`, `t=${NOW},t=${NOW},v1=${'a'.repeat(64)}`]) {
      expect(verifyWebhookSignature(SECRET, BODY, header, NOW), header).toEqual({ ok: false, why: 'malformed' });
    }
  });

  it('refuses a timestamp more than 300 s away, either way; accepts the edge', () => {
    const at = (t: number) => verifyWebhookSignature(SECRET, BODY, signWebhook(SECRET, BODY, t), NOW);
    expect(at(NOW - SIGNATURE_TOLERANCE_SECONDS)).toEqual({ ok: true });
    expect(at(NOW + SIGNATURE_TOLERANCE_SECONDS)).toEqual({ ok: true });
    expect(at(NOW - SIGNATURE_TOLERANCE_SECONDS - 1)).toEqual({ ok: false, why: 'stale' });
    expect(at(NOW + SIGNATURE_TOLERANCE_SECONDS + 1)).toEqual({ ok: false, why: 'stale' });
  });

  it('accepts any one of several v1 signatures (a processor rotating its secret)', () => {
    const good = signWebhook(SECRET, BODY, NOW).split(',')[1]!;
    expect(verifyWebhookSignature(SECRET, BODY, `t=${NOW},v1=${'0'.repeat(64)},${good},v0=legacy`, NOW)).toEqual({ ok: true });
  });
});
