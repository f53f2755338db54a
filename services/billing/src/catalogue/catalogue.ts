import { z } from 'zod';
import { BillingRpc } from '@homiwork/contracts';

type Product = BillingRpc.Product;
const EnergyPurpose = BillingRpc.EnergyPurpose;
type EnergyPurpose = BillingRpc.EnergyPurpose;

/**
 * What is for sale when BILLING_PRODUCTS is not set. Amounts are in the currency's minor
 * unit (cents): 199 EUR is €1.99.
 */
export const DEFAULT_PRODUCTS: readonly Product[] = [
  { id: 'energy-100', kind: 'energy', name: '100 energy', energy: 100, amount: 199, currency: 'EUR' },
  { id: 'energy-500', kind: 'energy', name: '500 energy', energy: 500, amount: 799, currency: 'EUR' },
  { id: 'prime-30', kind: 'prime', name: 'Prime, 30 days', primeDays: 30, amount: 499, currency: 'EUR' },
  { id: 'prime-365', kind: 'prime', name: 'Prime, 365 days', primeDays: 365, amount: 3999, currency: 'EUR' },
];

// The contract's product, tightened: an id that fits CreateOrder's productId, exactly the
// field its kind needs, and amounts a processor accepts.
const catalogueProduct = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1–64 lower-case letters, digits or dashes'),
    kind: z.enum(['energy', 'prime']),
    name: z.string().min(1).max(80),
    energy: z.number().int().positive().max(1_000_000).optional(),
    primeDays: z.number().int().positive().max(3_660).optional(),
    amount: z.number().int().positive().max(100_000_000),
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
  })
  .refine((product) => (product.kind === 'energy' ? product.energy !== undefined && product.primeDays === undefined : product.primeDays !== undefined && product.energy === undefined), {
    message: 'an energy product has `energy` only, a prime product `primeDays` only',
  });

/** BILLING_PRODUCTS: a JSON array of products; ids unique. */
export const catalogueSchema = z
  .array(catalogueProduct)
  .min(1)
  .max(100)
  .refine((products) => new Set(products.map((product) => product.id)).size === products.length, { message: 'product ids must be unique' });

export function parseCatalogueJson(text: string, context: z.RefinementCtx): Product[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    context.addIssue({ code: 'custom', message: 'must be a JSON array of products' });
    return z.NEVER;
  }
  const parsed = catalogueSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    context.addIssue({ code: 'custom', message: `${issue.path.join('.') || 'products'}: ${issue.message}` });
    return z.NEVER;
  }
  return parsed.data;
}

export type EnergyCosts = Record<EnergyPurpose, number>;

/**
 * ENERGY_COSTS: `song=30,image=10,…`. Every purpose needs a price (a purpose without one
 * would be free by accident), each at least 1 energy.
 */
export function parseEnergyCosts(text: string, context: z.RefinementCtx): EnergyCosts {
  const costs: Partial<EnergyCosts> = {};
  for (const part of text.split(',').map((entry) => entry.trim()).filter(Boolean)) {
    const match = /^([a-z]+)\s*=\s*(\d{1,7})$/.exec(part);
    const purpose = EnergyPurpose.safeParse(match?.[1]);
    if (!match || !purpose.success) {
      context.addIssue({ code: 'custom', message: `expects purpose=cost pairs with purposes ${EnergyPurpose.options.join(', ')}` });
      return z.NEVER;
    }
    const cost = Number(match[2]);
    if (costs[purpose.data] !== undefined || cost < 1) {
      context.addIssue({ code: 'custom', message: `${purpose.data}: ${cost < 1 ? 'must cost at least 1' : 'is priced twice'}` });
      return z.NEVER;
    }
    costs[purpose.data] = cost;
  }
  const missing = EnergyPurpose.options.filter((purpose) => costs[purpose] === undefined);
  if (missing.length > 0) {
    context.addIssue({ code: 'custom', message: `has no price for ${missing.join(', ')}` });
    return z.NEVER;
  }
  return costs as EnergyCosts;
}
