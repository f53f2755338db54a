import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The processor's signature header (the gateway passes the value of `Processor-Signature`):
 *
 *     t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * Several `v1=` may be given (a processor rotating its secret signs with both); one must
 * match. The timestamp is inside the signed text, so an old notification cannot be
 * re-dated; one older or newer than 300 s by the service clock is refused, which bounds
 * replays to the window in which the event id is remembered anyway.
 */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  return `t=${timestampSeconds},v1=${hmacHex(secret, timestampSeconds, body)}`;
}

export type SignatureCheck = { ok: true } | { ok: false; why: 'missing' | 'malformed' | 'wrong' | 'stale' };

export function verifyWebhookSignature(secret: string, body: string, header: string | undefined, nowSeconds: number): SignatureCheck {
  if (!header) return { ok: false, why: 'missing' };
  let timestamp: string | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const [key, value, ...rest] = part.trim().split('=');
    if (rest.length > 0 || value === undefined) return { ok: false, why: 'malformed' };
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return { ok: false, why: 'malformed' };
      timestamp = value;
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/.test(value)) return { ok: false, why: 'malformed' };
      candidates.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, …) are ignored, as processors add them over time.
  }
  if (timestamp === undefined || candidates.length === 0 || candidates.length > 4) return { ok: false, why: 'malformed' };
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(body, 'utf8').digest();
  // Every candidate is compared, in constant time each: how many bytes matched is never observable.
  let matched = false;
  for (const candidate of candidates) matched = timingSafeEqual(candidate, expected) || matched;
  if (!matched) return { ok: false, why: 'wrong' };
  if (Math.abs(nowSeconds - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) return { ok: false, why: 'stale' };
  return { ok: true };
}

function hmacHex(secret: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body, 'utf8').digest('hex');
}
