import type { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';

/** Validates a body against the route's schema; the error names the first bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.') || 'body';
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.code === 'unrecognized_keys' ? `has unknown field ${issue.keys.join(', ')}` : issue.message;
  throw new GatewayError(400, 'validation_failed', `${field}: ${message}`);
}
