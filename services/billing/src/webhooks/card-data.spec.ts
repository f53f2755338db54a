import { describe, expect, it } from 'vitest';
import { containsCardData, hasCardNumber, isCardKey, passesLuhn } from './card-data.js';

// Test card numbers of the card networks (they pass Luhn and are not real accounts).
const VISA = '4111111111111111';
const AMEX = '378282246310005';
const MASTERCARD_19 = '6011000990139424';

const event = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'evt_1', type: 'payment.succeeded', orderId: '7c4b8a51-2f55-4b1b-9a0c-0d8f1e1a2b3c', transactionId: 'txn_123', amount: 499, currency: 'EUR', occurredAt: '2025-12-03T13:31:00.000Z', ...extra });

describe('passesLuhn', () => {
  it('accepts the networks’ test numbers and refuses a changed digit', () => {
    for (const number of [VISA, AMEX, MASTERCARD_19, '4012888888881881', '5555555555554444']) expect(passesLuhn(number), number).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
    expect(passesLuhn('1234567890123')).toBe(false);
  });
});

describe('containsCardData', () => {
  it('lets a processor’s ordinary notification through', () => {
    expect(containsCardData(event())).toBe(false);
    expect(containsCardData(event({ extra: { receipt: 'R-2025-0001', installments: 1, cardBrand: 'visa', last4: '4242' } }))).toBe(false);
  });

  it('finds a card number as a string, with spaces or dashes, as a JSON number, in a key, nested, escaped, or inside JSON in a string', () => {
    const bodies = [
      event({ note: VISA }),
      event({ note: '4111 1111 1111 1111' }),
      event({ note: '4111-1111-1111-1111' }),
      event({ note: `card ${AMEX} thanks` }),
      event({ amount: Number(VISA) }),
      event({ deep: { deeper: [{ x: MASTERCARD_19 }] } }),
      event({ [VISA]: true }),
      event({ payload: JSON.stringify({ pan: 'x' }) }),
      // JSON escapes: the raw text has no digits, the decoded string does.
      event().replace('"txn_123"', `"${[...VISA].map((digit) => `\\u00${digit.charCodeAt(0).toString(16)}`).join('')}"`),
      `amount=499&number=${VISA}`,
      `not json at all ${VISA}`,
    ];
    for (const body of bodies) expect(containsCardData(body), body).toBe(true);
  });

  it('finds card field names: cvv, cvc, card number, pan, expiry — in JSON and in form bodies', () => {
    for (const key of ['cvv', 'CVC', 'cvc2', 'card_number', 'cardNumber', 'card-number', 'pan', 'exp_month', 'expYear', 'expiry', 'expiration_date', 'security_code']) {
      expect(containsCardData(event({ [key]: 'x' })), key).toBe(true);
      expect(containsCardData(`${key}=1&amount=5`), `form ${key}`).toBe(true);
    }
    expect(containsCardData('card[cvc]=123')).toBe(true);
    expect(containsCardData(event({ card: { exp_month: 12 } }))).toBe(true);
  });

  it('does not take ids, amounts, times or words that merely contain a card key for card data', () => {
    // An all-digit UUID run is glued to hex letters or longer than 19 digits: not a standalone number.
    expect(containsCardData(event({ ref: 'abcdef12-3456-7890-1234-5678abcdef12' }))).toBe(false);
    expect(containsCardData(event({ company: 'ACME', expires: '2026-01-01', panel: 1, span: 2 }))).toBe(false);
    expect(containsCardData(event({ amount: 4_111_111 }))).toBe(false);
    // 20 digits: longer than any card number.
    expect(hasCardNumber('41111111111111111112')).toBe(false);
  });

  it('needs the Luhn check to pass', () => {
    expect(containsCardData(event({ note: '4111111111111112' }))).toBe(false);
  });

  it('recognises card keys by name only', () => {
    expect(isCardKey('Card Number')).toBe(true);
    expect(isCardKey('expected')).toBe(false);
    expect(isCardKey('pancake')).toBe(false);
  });
});
