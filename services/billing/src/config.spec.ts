import { describe, expect, it } from 'vitest';
import { loadConfig } from '@homiwork/config';
import { DEFAULT_PRODUCTS } from './catalogue/catalogue.js';
import { billingConfigSchema } from './config.js';

const BASE = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x', PAYMENT_WEBHOOK_SECRET: 's'.repeat(32), PAYMENT_PROCESSOR: 'local' };

describe('billing configuration', () => {
  it('has the documented defaults: 100 energy at signup, a price for every purpose, the built-in catalogue, 5 years of records, 5 open orders of 24 h, unpaid ones kept 30 days', () => {
    const config = loadConfig(billingConfigSchema, BASE);
    expect(config.ENERGY_SIGNUP_GRANT).toBe(100);
    expect(config.ENERGY_COSTS).toEqual({ song: 30, image: 10, poem: 2, text: 2, video: 50, chat: 1 });
    expect(config.BILLING_PRODUCTS).toEqual(DEFAULT_PRODUCTS);
    expect(config.TRANSACTION_RETENTION_YEARS).toBe(5);
    expect(config.MAX_OPEN_ORDERS_PER_USER).toBe(5);
    expect(config.PENDING_ORDER_TTL_HOURS).toBe(24);
    expect(config.UNPAID_ORDER_RETENTION_DAYS).toBe(30);
  });

  it('has no default processor: an environment that names none stops billing, whatever NODE_ENV is (or when it is unset)', () => {
    const withoutProcessor: Record<string, string> = { DATABASE_URL: BASE.DATABASE_URL, PAYMENT_WEBHOOK_SECRET: BASE.PAYMENT_WEBHOOK_SECRET };
    for (const env of [withoutProcessor, { ...withoutProcessor, NODE_ENV: 'development' }, { ...withoutProcessor, NODE_ENV: 'production' }, { ...withoutProcessor, PAYMENT_PROCESSOR: '' }]) {
      expect(() => loadConfig(billingConfigSchema, env), JSON.stringify(env)).toThrow(/PAYMENT_PROCESSOR must be set/);
    }
    expect(loadConfig(billingConfigSchema, { ...withoutProcessor, PAYMENT_PROCESSOR: 'local' }).PAYMENT_PROCESSOR).toBe('local');
    expect(() => loadConfig(billingConfigSchema, { ...withoutProcessor, PAYMENT_PROCESSOR: 'free' })).toThrow(/PAYMENT_PROCESSOR must be webhook \(with PAYMENT_PROCESSOR_URL\), or local/);
  });

  it('refuses costs that leave a purpose unpriced, price one twice, name an unknown one, or are zero', () => {
    for (const [costs, message] of [
      ['song=30,image=10,poem=2,text=2,video=50', /no price for chat/],
      ['song=30,song=31,image=10,poem=2,text=2,video=50,chat=1', /song: is priced twice/],
      ['song=30,image=10,poem=2,text=2,video=50,chat=1,dance=3', /purpose=cost pairs/],
      ['song=0,image=10,poem=2,text=2,video=50,chat=1', /song: must cost at least 1/],
    ] as const) {
      expect(() => loadConfig(billingConfigSchema, { ...BASE, ENERGY_COSTS: costs }), costs).toThrow(message);
    }
  });

  it('takes a catalogue from BILLING_PRODUCTS and refuses a malformed one, naming the problem', () => {
    const products = [{ id: 'energy-50', kind: 'energy', name: '50 energy', energy: 50, amount: 99, currency: 'EUR' }];
    expect(loadConfig(billingConfigSchema, { ...BASE, BILLING_PRODUCTS: JSON.stringify(products) }).BILLING_PRODUCTS).toEqual(products);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, BILLING_PRODUCTS: '{' })).toThrow(/BILLING_PRODUCTS must be a JSON array/);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, BILLING_PRODUCTS: JSON.stringify([{ ...products[0], primeDays: 3 }]) })).toThrow(/energy product has `energy` only/);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, BILLING_PRODUCTS: JSON.stringify([products[0], products[0]]) })).toThrow(/unique/);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, BILLING_PRODUCTS: JSON.stringify([{ ...products[0], currency: 'eur' }]) })).toThrow(/0\.currency/);
  });

  it('refuses the local processor in production, a webhook processor without its URL, and a short secret', () => {
    expect(() => loadConfig(billingConfigSchema, { ...BASE, NODE_ENV: 'production' })).toThrow(/PAYMENT_PROCESSOR may be local only outside production/);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, PAYMENT_PROCESSOR: 'webhook' })).toThrow(/PAYMENT_PROCESSOR_URL is required/);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, PAYMENT_WEBHOOK_SECRET: 'short' })).toThrow(/PAYMENT_WEBHOOK_SECRET must be at least 32/);
    const production = loadConfig(billingConfigSchema, { ...BASE, NODE_ENV: 'production', PAYMENT_PROCESSOR: 'webhook', PAYMENT_PROCESSOR_URL: 'https://pay.example/api/orders' });
    expect(production.PAYMENT_PROCESSOR).toBe('webhook');
  });

  it('keeps transaction records at least 5 years', () => {
    expect(() => loadConfig(billingConfigSchema, { ...BASE, TRANSACTION_RETENTION_YEARS: '4' })).toThrow(/TRANSACTION_RETENTION_YEARS/);
  });

  it('refuses open-order limits that are zero or unbounded', () => {
    expect(() => loadConfig(billingConfigSchema, { ...BASE, MAX_OPEN_ORDERS_PER_USER: '0' })).toThrow(/MAX_OPEN_ORDERS_PER_USER/);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, PENDING_ORDER_TTL_HOURS: '0' })).toThrow(/PENDING_ORDER_TTL_HOURS/);
    expect(() => loadConfig(billingConfigSchema, { ...BASE, UNPAID_ORDER_RETENTION_DAYS: '0' })).toThrow(/UNPAID_ORDER_RETENTION_DAYS/);
  });
});
