import { describe, expect, it } from 'vitest';
import { escapeHtml, formatAmount, renderCheckoutPage, renderCheckoutResult } from './checkout-page.js';

const order = { orderId: '0b6c2f4e-3f0a-4b8e-9d6c-2a1f4e7c9b10', productName: 'Energy 100', amount: 499, currency: 'EUR', status: 'pending' };

describe('escapeHtml', () => {
  it('escapes the five characters that can leave text or an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
    expect(escapeHtml('plain text, ünïcode')).toBe('plain text, ünïcode');
  });
});

describe('formatAmount', () => {
  it('reads amounts in the currency’s minor unit', () => {
    expect(formatAmount(499, 'EUR')).toBe('€4.99');
    expect(formatAmount(1200, 'JPY')).toBe('¥1,200');
    expect(formatAmount(5, 'USD')).toBe('$0.05');
  });

  it('shows an unknown code as minor units rather than failing the page', () => {
    expect(formatAmount(499, 'not a code')).toBe('499 not a code (minor units)');
  });
});

describe('renderCheckoutPage', () => {
  it('escapes every value the order carries', () => {
    const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    const html = renderCheckoutPage({ orderId: hostile, productName: hostile, amount: 1, currency: hostile, status: hostile });
    expect(html).not.toMatch(/<script|<img|onerror=alert\(2\)>/);
    expect(html.match(/&quot;&gt;&lt;script&gt;/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('offers pay and cancel, posting `action` to the page’s own address, only while the order is pending', () => {
    const pending = renderCheckoutPage(order);
    expect(pending).toContain('<form method="post"><button type="submit" name="action" value="confirm">Pay</button></form>');
    expect(pending).toContain('<form method="post"><button type="submit" name="action" value="cancel">Cancel</button></form>');
    expect(pending).not.toContain('action=');
    expect(pending).toContain('Energy 100');
    expect(pending).toContain('€4.99');
    expect(pending).not.toContain('<script');
    const paid = renderCheckoutPage({ ...order, status: 'paid' });
    expect(paid).not.toContain('<form');
    expect(paid).toContain('no longer waiting for payment');
  });
});

describe('renderCheckoutResult', () => {
  it('says what became of the order', () => {
    expect(renderCheckoutResult({ orderId: order.orderId, status: 'paid' })).toContain('<h1>Payment confirmed</h1>');
    expect(renderCheckoutResult({ orderId: order.orderId, status: 'cancelled' })).toContain('<h1>Payment cancelled</h1>');
    expect(renderCheckoutResult({ orderId: order.orderId, status: 'pending' })).toContain('<h1>Payment submitted</h1>');
    expect(renderCheckoutResult({ orderId: '<b>', status: '<i>' })).toContain('Order <code>&lt;b&gt;</code> is now <strong>&lt;i&gt;</strong>');
  });
});
