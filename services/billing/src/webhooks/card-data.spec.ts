import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { containsCardData, hasCardNumber, isCardKey, passesLuhn } from './card-data.js';

// Test card numbers of the card networks (they pass Luhn and are not real accounts).
const VISA = '4111111111111111';
const AMEX = '378282246310005';
const MASTERCARD_19 = '6011000990139424';

const event = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'evt_1', type: 'payment.succeeded', orderId: '7c4b8a51-2f55-4b1b-9a0c-0d8f1e1a2b3c', transactionId: 'txn_123', amount: 499, currency: 'EUR', occurredAt: '2025-12-03T13:31:00.000Z', ...extra });

/** `4111111111111111` → `4111<sep>1111<sep>1111<sep>1111`. */
const grouped = (number: string, separator: string) => number.replace(/(\d{4})(?=\d)/g, `$1${separator}`);

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
    expect(containsCardData(event({ card: { brand: 'visa', last4: '4242', country: 'DE' } }))).toBe(false);
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

  it('finds a card number glued to letters, between any single separators, in full-width or other-script digits, or next to more numbers', () => {
    const bodies = {
      'glued after letters (id)': event({ id: `evt${VISA}` }),
      'glued after letters (transaction id)': event({ transactionId: `txn${VISA}` }),
      'after an underscore': event({ transactionId: `txn_${VISA}` }),
      'glued before a letter': event({ card: { number: `${VISA}x` } }),
      'between letters': event({ ref: `ab${AMEX}cd` }),
      'dots': event({ note: grouped(VISA, '.') }),
      'underscores': event({ note: grouped(VISA, '_') }),
      'slashes': event({ note: grouped(VISA, '/') }),
      'no-break spaces': event({ note: grouped(VISA, '\u00a0') }),
      'tabs': event({ note: grouped(VISA, '\t') }),
      'narrow no-break spaces': event({ note: grouped(VISA, '\u202f') }),
      'full-width digits': event({ note: [...VISA].map((digit) => String.fromCharCode(0xff10 + Number(digit))).join('') }),
      'Arabic-Indic digits': event({ note: [...VISA].map((digit) => String.fromCharCode(0x0660 + Number(digit))).join('') }),
      'followed by the expiry and the code': event({ note: `${grouped(VISA, ' ')} 12 27 123` }),
      'after another number': event({ note: `12 ${grouped(VISA, ' ')}` }),
      'the Amex 4-6-5 grouping': event({ note: '3782 822463 10005' }),
      'full-width digits in the raw text of a form body': `note=${[...VISA].map((digit) => String.fromCharCode(0xff10 + Number(digit))).join('')}`,
    };
    for (const [what, body] of Object.entries(bodies)) expect(containsCardData(body), what).toBe(true);
  });

  it('finds card field names: cvv, cvc, card number, pan, expiry, security code — in JSON (also nested under a card) and in form bodies', () => {
    for (const key of ['cvv', 'CVC', 'cvc2', 'card_number', 'cardNumber', 'card-number', 'pan', 'exp_month', 'expYear', 'expiry', 'expiration_date', 'security_code']) {
      expect(containsCardData(event({ [key]: 'x' })), key).toBe(true);
      expect(containsCardData(`${key}=1&amount=5`), `form ${key}`).toBe(true);
    }
    expect(containsCardData('card[cvc]=123')).toBe(true);
    expect(containsCardData(event({ card: { exp_month: 12 } }))).toBe(true);
  });

  it('finds the key spellings the review found missing: cvv_code, exp, card_exp, expiry_mm, security-code, card.code and code or num under a card', () => {
    const bodies = {
      'exp and cvv_code': event({ exp: '12/27', cvv_code: '123' }),
      'exp and code under card': event({ card: { exp: '12/27', code: '123' } }),
      'code under card': event({ card: { code: '123' } }),
      'num under card': event({ card: { num: '4111' } }),
      'number under payment_card': event({ payment_card: { number: '1' } }),
      card_exp: event({ card_exp: '12/27' }),
      'security-code': event({ 'security-code': 1 }),
      securityCode: event({ securityCode: 1 }),
      expiry_mm: event({ expiry_mm: 12 }),
      expMM: event({ expMM: 12 }),
      EXPYEAR: event({ EXPYEAR: 2027 }),
      'card.code as one key': event({ 'card.code': '123' }),
      'card.code in a form': 'amount=5&card.code=123',
      'card[exp]in a form': 'card[exp]=12%2F27',
      'full-width key': event({ ｃｖｖ: '123' }),
      cardholder_name: event({ cardholder_name: 'x' }),
    };
    for (const [what, body] of Object.entries(bodies)) expect(containsCardData(body), what).toBe(true);
  });

  it('does not take ids, amounts, times or words that merely contain a card key for card data', () => {
    // An all-digit UUID run is glued to hex letters or longer than 19 digits: not a standalone number.
    expect(containsCardData(event({ ref: 'abcdef12-3456-7890-1234-5678abcdef12' }))).toBe(false);
    expect(containsCardData(event({ company: 'ACME', expires: '2026-01-01', expiresAt: '2026-01-01T00:00:00Z', expected: 1, panel: 1, span: 2, code: 'E1', currency_code: 'EUR' }))).toBe(false);
    expect(containsCardData(event({ amount: 4_111_111 }))).toBe(false);
    // 20 digits: longer than any card number.
    expect(hasCardNumber('41111111111111111112')).toBe(false);
  });

  it('lets every field of the format through over many random orders, ids, amounts and times (UUIDs, ISO timestamps in every spelling, epoch times, amounts)', () => {
    const start = Date.UTC(2025, 0, 1);
    for (let i = 0; i < 20_000; i++) {
      const at = new Date(start + Math.floor(Math.random() * 5 * 365 * 24 * 3600 * 1000));
      const iso = at.toISOString();
      const body = JSON.stringify({
        id: `evt_${randomUUID()}`,
        type: 'payment.succeeded',
        orderId: randomUUID(),
        transactionId: `txn_${randomUUID()}`,
        amount: 1 + Math.floor(Math.random() * 10_000_000),
        currency: 'EUR',
        occurredAt: iso,
        // Other spellings of the same instant a processor might add.
        times: [iso.replace('Z', '+01:00'), iso.replace('T', ' '), iso.replace('T', ' ').replace('Z', ' +0100'), at.toUTCString(), at.getTime(), Math.floor(at.getTime() / 1000), at.getTime() * 1000],
        price: `${(Math.random() * 100_000).toFixed(2)} EUR`,
      });
      if (containsCardData(body)) expect.fail(`refused an ordinary notification: ${body}`);
    }
  });

  it('needs the Luhn check to pass', () => {
    expect(containsCardData(event({ note: '4111111111111112' }))).toBe(false);
    expect(containsCardData(event({ note: grouped('4111111111111112', '.') }))).toBe(false);
  });

  it('recognises card keys by name only', () => {
    expect(isCardKey('Card Number')).toBe(true);
    expect(isCardKey('expected')).toBe(false);
    expect(isCardKey('expires_at')).toBe(false);
    expect(isCardKey('pancake')).toBe(false);
    expect(isCardKey('code')).toBe(false);
    expect(isCardKey('code', true)).toBe(true);
    expect(isCardKey('brand', true)).toBe(false);
  });

  it('stays fast on hostile 64 KiB bodies', () => {
    const size = 64 * 1024;
    const bodies = ['"'.repeat(size), '1 '.repeat(size / 2), '1-'.repeat(size / 2), '&a'.repeat(size / 2), `${'1'.repeat(13)} `.repeat(size / 14), JSON.stringify(Array.from({ length: 6_000 }, () => '{"k":1}')), '１'.repeat(size)];
    for (const body of bodies) {
      const started = performance.now();
      containsCardData(body.slice(0, size));
      expect(performance.now() - started, body.slice(0, 10)).toBeLessThan(250);
    }
  });
});
