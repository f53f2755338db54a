import { z } from 'zod';
import { GenerationRpc } from '@homiwork/contracts';

export type AdapterName = 'local' | 'http';
export type AdapterSelection = Readonly<Record<GenerationRpc.GenerationKind, AdapterName>>;

const KINDS = GenerationRpc.GenerationKind.options;
const ADAPTERS: readonly AdapterName[] = ['local', 'http'];

/**
 * `poem=http,text=http`: the kinds named get that adapter, every other kind `local`. An
 * unknown kind or adapter, a kind named twice or an entry without `=` stops the service
 * with the entry named (kinds and adapter names are not secrets).
 */
const adapterSelection = z
  .string()
  .default('')
  .transform((value, ctx): AdapterSelection => {
    const selection: Record<string, AdapterName> = Object.fromEntries(KINDS.map((kind) => [kind, 'local']));
    const named = new Set<string>();
    for (const entry of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const [kind = '', adapter = '', ...rest] = entry.split('=').map((part) => part.trim());
      if (!entry.includes('=') || rest.length > 0) {
        ctx.addIssue({ code: 'custom', message: `entry "${entry}" is not kind=adapter` });
        return z.NEVER;
      }
      if (!(KINDS as readonly string[]).includes(kind)) {
        ctx.addIssue({ code: 'custom', message: `names an unknown kind "${kind}" (known: ${KINDS.join(', ')})` });
        return z.NEVER;
      }
      if (!(ADAPTERS as readonly string[]).includes(adapter)) {
        ctx.addIssue({ code: 'custom', message: `names an unknown adapter "${adapter}" for ${kind} (known: ${ADAPTERS.join(', ')})` });
        return z.NEVER;
      }
      if (named.has(kind)) {
        ctx.addIssue({ code: 'custom', message: `names the kind "${kind}" twice` });
        return z.NEVER;
      }
      named.add(kind);
      selection[kind] = adapter as AdapterName;
    }
    return selection as AdapterSelection;
  });

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The contractor egress settings, as a shape for the service's config schema
 * (`databaseServiceConfig.extend({ ...contractorConfigShape, … })`, then
 * `withContractorRules(...)` for the checks that span fields).
 */
export const contractorConfigShape = {
  /**
   * Base URL of the `http` provider; `/v1/jobs` is appended. No credentials, query or
   * fragment: the key travels in one header, and a URL must carry no identifier.
   */
  CONTRACTOR_URL: z
    .url({ message: 'must be an http(s) URL' })
    .refine((value) => ['http:', 'https:'].includes(new URL(value).protocol), { message: 'must use http or https' })
    .refine(
      (value) => {
        const url = new URL(value);
        return url.username === '' && url.password === '' && url.search === '' && url.hash === '';
      },
      { message: 'must not carry credentials, a query or a fragment' },
    )
    .optional(),
  CONTRACTOR_API_KEY: z
    .string()
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  CONTRACTOR_ADAPTERS: adapterSelection,
  /** One attempt's budget, response body included. */
  CONTRACTOR_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  /** Responses larger than this are aborted while they arrive (base64 and JSON included). */
  CONTRACTOR_MAX_RESPONSE_MB: z.coerce.number().positive().max(1024).default(50),
  /** Further attempts after a 5xx or a network error (never after a 4xx or a time-out). */
  CONTRACTOR_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** First backoff before a retry; doubles per retry, with full jitter, capped at 30 s. */
  CONTRACTOR_RETRY_BASE_MS: z.coerce.number().int().min(1).max(30_000).default(250),
  /** Consecutive failed attempts (5xx, network, time-out) that open the circuit. */
  CONTRACTOR_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  /** How long an open circuit fails fast before one trial request is let through. */
  CONTRACTOR_BREAKER_OPEN_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
};

export type ContractorConfig = z.infer<z.ZodObject<typeof contractorConfigShape>>;

/** Fields the cross-field rules read (NODE_ENV comes from the base service config). */
type ContractorRuleInput = ContractorConfig & { readonly NODE_ENV?: string };

/**
 * Any kind on `http` needs CONTRACTOR_URL and CONTRACTOR_API_KEY. In production the URL must be
 * https unless it is this machine: prompts must not cross a network in clear text.
 */
export function withContractorRules<S extends z.ZodType<ContractorRuleInput>>(schema: S) {
  return schema.superRefine((config, ctx) => {
    const httpKinds = Object.entries(config.CONTRACTOR_ADAPTERS)
      .filter(([, adapter]) => adapter === 'http')
      .map(([kind]) => kind);
    if (httpKinds.length > 0) {
      const uses = `is required when CONTRACTOR_ADAPTERS puts ${httpKinds.join(', ')} on http`;
      if (!config.CONTRACTOR_URL) ctx.addIssue({ code: 'custom', path: ['CONTRACTOR_URL'], message: uses });
      if (!config.CONTRACTOR_API_KEY) ctx.addIssue({ code: 'custom', path: ['CONTRACTOR_API_KEY'], message: uses });
    }
    if (config.CONTRACTOR_URL && config.NODE_ENV === 'production') {
      const url = new URL(config.CONTRACTOR_URL);
      if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
        ctx.addIssue({ code: 'custom', path: ['CONTRACTOR_URL'], message: 'must use https in production (http only to this machine)' });
      }
    }
  });
}
