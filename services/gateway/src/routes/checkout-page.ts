/**
 * The `local` payment processor's pages: plain HTML, no script, every value escaped. The
 * values come from billing (a product name is configuration, an order id a UUID), but a
 * page that escapes everything stays safe when a catalogue entry one day contains `<`.
 */

export interface CheckoutOrder {
  orderId: string;
  productName: string;
  amount: number;
  currency: string;
  status: string;
}

/**
 * These pages' own policy, stricter than the API's: nothing may load, not even a script of
 * this origin; forms may post to this origin only; no framing (a framed confirm button is
 * clickjacking). Without `upgrade-insecure-requests`: the local processor runs on plain
 * http, and upgrading the form's post would send it to a port that speaks no TLS.
 */
export const CHECKOUT_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ESCAPES[character]!);
}

/** 499 EUR → "€4.99"; a code Intl does not know is shown as minor units and the code, never dropped. */
export function formatAmount(amount: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat('en', { style: 'currency', currency });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(amount / 10 ** digits);
  } catch {
    return `${amount} ${currency} (minor units)`;
  }
}

function page(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}dt{font-weight:600}form{display:inline-block;margin-right:.5rem}button{font-size:1rem;padding:.5rem 1.25rem}</style>',
    '</head>',
    '<body>',
    body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function orderDetails(order: CheckoutOrder): string {
  return [
    '<dl>',
    `<dt>Product</dt><dd>${escapeHtml(order.productName)}</dd>`,
    `<dt>Amount</dt><dd>${escapeHtml(formatAmount(order.amount, order.currency))}</dd>`,
    `<dt>Order</dt><dd><code>${escapeHtml(order.orderId)}</code></dd>`,
    `<dt>Status</dt><dd>${escapeHtml(order.status)}</dd>`,
    '</dl>',
  ].join('\n');
}

/**
 * The page: what is being bought and, while the order is pending, a confirm and a cancel
 * button posting `action`. The forms have no `action` attribute, so they post to the
 * page's own address, whatever prefix a proxy in front of the gateway adds.
 */
export function renderCheckoutPage(order: CheckoutOrder): string {
  const buttons =
    order.status === 'pending'
      ? (['confirm', 'cancel'] as const)
          .map((action) => `<form method="post"><button type="submit" name="action" value="${action}">${action === 'confirm' ? 'Pay' : 'Cancel'}</button></form>`)
          .join('\n')
      : '<p>This order is no longer waiting for payment.</p>';
  return page('Checkout (local test processor)', ['<h1>Checkout</h1>', '<p>Local test processor: no money moves and no card is asked for.</p>', orderDetails(order), buttons].join('\n'));
}

/** After a button: what became of the order. */
export function renderCheckoutResult(result: { orderId: string; status: string }): string {
  const headlines: Record<string, string> = { paid: 'Payment confirmed', cancelled: 'Payment cancelled', pending: 'Payment submitted' };
  const headline = headlines[result.status] ?? 'Checkout finished';
  return page(headline, [`<h1>${escapeHtml(headline)}</h1>`, `<p>Order <code>${escapeHtml(result.orderId)}</code> is now <strong>${escapeHtml(result.status)}</strong>.</p>`, '<p>You can close this page.</p>'].join('\n'));
}
